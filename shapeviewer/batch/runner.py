"""Submit a batch's jobs to a Dask client and follow them to the end, or to Ctrl-C.

Jobs already finished on disk are not submitted again (a batch resumes where it stopped). A job whose
worker dies is rescheduled by Dask on another worker (up to ``distributed.scheduler.allowed-failures``
deaths, then it is recorded as failed). Ctrl-C sets a Dask Event that running jobs poll, cancels what
has not started, and returns what finished: every finished job's folder is complete, since each one is
written aside and renamed into place when whole.
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import replace

from .inputs import Job
from .worker import (
    CANCELLED,
    DONE,
    FAILED,
    NOT_RUN,
    STOPPED,
    BatchWorkerSetup,
    JobRecord,
    finished_record,
    one_line,
    record_of,
    run_job,
    warm_up_report,
)

POLL_SECONDS = 0.2  # how often the loop looks for finished jobs (and lets Ctrl-C in)
RUNNING_POLL_SECONDS = 1.0  # how often it asks the scheduler how many jobs run
AGAIN = "interrupt again: not waiting for the running jobs; writing the summary of what finished"
STOP_GRACE_SECONDS = 5.0  # after Ctrl-C, how long running jobs get to notice and stop
PROGRESS_EVERY_VARIABLE = "SHAPEVIEWER_PROGRESS_EVERY"  # seconds between progress lines off a terminal


class BatchInterrupted(Exception):
    """Ctrl-C: ``records`` holds every job, finished or not."""

    def __init__(self, records: list[JobRecord]):
        super().__init__("interrupted")
        self.records = records


def format_seconds(seconds: float) -> str:
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def progress_every(default: float = 10.0) -> float:
    """Seconds between progress lines off a terminal: $SHAPEVIEWER_PROGRESS_EVERY, else ``default``."""
    text = os.environ.get(PROGRESS_EVERY_VARIABLE, "").strip()
    if not text:
        return default
    try:
        every = float(text)
    except ValueError:
        every = -1.0
    if not (0.0 <= every < math.inf):
        print(f"batch: ${PROGRESS_EVERY_VARIABLE}={text!r} is no number of seconds >= 0; a line every {default:g} s",
              file=sys.stderr)  # fmt: skip
        return default
    return every


class Progress:
    """done / failed / running counts and an ETA on one line of stderr (redrawn on a terminal, else
    printed at most every ``every`` seconds, or every $SHAPEVIEWER_PROGRESS_EVERY seconds where set: 0
    prints each change, as the app's batch launcher asks), and a line for each failed job."""

    def __init__(self, total: int, resumed: int, stream=None, every: float | None = None):
        self.total, self.resumed = total, resumed
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.every = 0.2 if self.tty else progress_every() if every is None else every
        self.start = time.perf_counter()
        self.done = self.failed = self.running = 0
        self._last, self._shown = 0.0, ""
        self._finished_seen, self._finished_at = 0, 0.0  # jobs ended by the last change, and when (elapsed)

    def line(self) -> str:
        finished = self.done + self.failed
        todo = self.total - self.resumed
        elapsed = time.perf_counter() - self.start
        if finished != self._finished_seen:
            self._finished_seen, self._finished_at = finished, elapsed
        # the end that the pace up to the last finished job predicts, counted down (not pushed on as time passes)
        eta = format_seconds(max(0.0, self._finished_at / finished * todo - elapsed)) if finished else "--:--"
        resumed = f" ({self.resumed} from an earlier run)" if self.resumed else ""
        return (f"jobs: {self.done + self.resumed}/{self.total} done{resumed}, {self.failed} failed, {self.running} "
                f"running; {format_seconds(elapsed)} elapsed, ETA {eta}")  # fmt: skip

    def show(self, force: bool = False) -> None:
        now = time.perf_counter()
        line = self.line()
        if not force and (now - self._last < self.every or line == self._shown):
            return
        self._last, self._shown = now, line
        if self.tty:
            self.stream.write(f"\r{line}\x1b[K")
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def note(self, message: str) -> None:
        self.stream.write(("\r\x1b[K" if self.tty else "") + message + "\n")
        self.stream.flush()
        self._shown = ""

    def close(self) -> None:
        self.show(force=True)
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()


def _record_of_future(job: Job, future) -> JobRecord | None:
    if future.status == "finished":
        return future.result()
    if future.status == "error":  # the task itself raised (it never does) or its workers kept dying
        exc = future.exception()
        return record_of(job, FAILED, message=one_line(f"{type(exc).__name__}: {exc}"))
    return None


def warm_up_words(reports: dict) -> str:
    """The line for the workers' warm-up reports (address -> warm_up's dict)."""
    seconds = max(r.get("seconds", 0.0) for r in reports.values())
    counts = [r.get("compiled", 0) for r in reports.values()]  # None: built for CUDA, not counted
    built = "" if None in counts else f", {sum(counts)} KeOps formulas compiled"
    return f"workers: {len(reports)} ready; warm-up {seconds:.1f} s{built}"


def run_jobs(client, jobs: list[Job], args, keops_cache: str | None = None, progress: Progress | None = None,
             say: Callable[[str], None] | None = None) -> list[JobRecord]:  # fmt: skip
    """Run every job not finished yet; the records of all ``jobs``, in their order.

    Raises :class:`BatchInterrupted` (with the records so far) on KeyboardInterrupt.
    """
    from distributed import Event, as_completed

    say = say or (lambda message: print(message, file=sys.stderr))
    records: dict[str, JobRecord] = {}
    for job in jobs:
        earlier = finished_record(job)
        if earlier is not None:
            records[job.name] = earlier
    todo = [job for job in jobs if job.name not in records]
    progress = progress or Progress(len(jobs), len(records))
    if not todo:
        progress.close()
        return [records[job.name] for job in jobs]
    token = uuid.uuid4().hex[:12]
    stop_name = f"shapeviewer-stop-{token}"
    stop = Event(stop_name, client=client)
    futures = {}
    try:
        say("workers: setting up (threads, KeOps cache, one warm-up evaluation of the batch's formulas)")
        first = todo[0]
        client.register_plugin(BatchWorkerSetup(keops_cache, (first.source, first.target, args)))
        reports = client.run(warm_up_report)
        if reports:
            say(warm_up_words(reports))
        by_key = {}
        for job in todo:
            future = client.submit(run_job, job, args, stop_name, key=f"shapeviewer-{job.name}-{token}", pure=False)
            futures[job.name] = future
            by_key[future.key] = job
        pending = as_completed(list(futures.values()))
        progress.start = time.perf_counter()  # the ETA counts from here, the workers' set-up aside
        next_running = 0.0
        while not pending.is_empty():
            for future in pending.next_batch(block=False) if pending.has_ready() else []:
                job = by_key[future.key]
                record = _record_of_future(job, future)
                if record is None:
                    continue
                records[job.name] = record
                if record.status == DONE:
                    progress.done += 1
                else:
                    progress.failed += 1
                    progress.note(f"failed: {job.name}: {record.message}")
            now = time.monotonic()
            if now >= next_running:
                next_running = now + RUNNING_POLL_SECONDS
                with contextlib.suppress(Exception):  # a worker holds a few more than it runs: count per thread
                    threads = client.nthreads()
                    progress.running = sum(min(len(set(keys) & by_key.keys()), threads.get(worker, 1))
                                           for worker, keys in client.processing().items())  # fmt: skip
            progress.show()
            time.sleep(POLL_SECONDS)
        progress.running = 0
        progress.close()
    except KeyboardInterrupt:
        again = _hold_further_interrupts(progress.note)  # until the summary is written: it must not be lost
        progress.note("interrupt: stopping the running jobs; every finished job is kept (rerun to resume)")
        by_key = {f.key: j for j, f in ((j, futures.get(j.name)) for j in todo) if f}
        _stop(client, stop, futures, records, by_key, progress.note, again)
        raise BatchInterrupted([records.get(job.name) or record_of(job, NOT_RUN) for job in jobs]) from None
    finally:
        with contextlib.suppress(Exception):
            client.unregister_worker_plugin(BatchWorkerSetup.name)
    return [records[job.name] for job in jobs]


def _hold_further_interrupts(say: Callable[[str], None]) -> threading.Event:
    """After the first Ctrl-C: later ones (a user's second, or the same signal delivered twice, as 'timeout -s INT'
    does to a command and its group) set the returned event, which cuts the stop's wait short, instead of raising
    anywhere in the stop, the cluster's closing or the summary's writing. The command restores the handler."""
    again = threading.Event()

    def interrupted(_signum, _frame) -> None:
        if not again.is_set():
            say(AGAIN)
        again.set()

    with contextlib.suppress(ValueError):  # not the main thread (no handler can be set): the except below stays
        signal.signal(signal.SIGINT, interrupted)
    return again


def _stop(client, stop, futures: dict, records: dict, by_key: dict, say: Callable[[str], None] | None = None,
          again: threading.Event | None = None) -> None:  # fmt: skip
    """Tell running jobs to stop, cancel the others, keep the records of what finished meanwhile; ``again`` set:
    a further interrupt, which ends the wait for the running jobs."""
    with contextlib.suppress(Exception):
        stop.set()
    running = [f for f in futures.values() if f.status == "pending"]
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    try:
        with contextlib.suppress(Exception):
            processing = {k for ks in client.processing().values() for k in ks}
            queued = [f for f in running if f.key not in processing]
            client.cancel(queued)
            while time.monotonic() < deadline and any(f.status == "pending" for f in running if f.key in processing):
                if again is not None and again.is_set():
                    break
                time.sleep(POLL_SECONDS)
    except KeyboardInterrupt:  # a second Ctrl-C (or one signal delivered twice, as 'timeout' does): wait no more
        say(AGAIN) if say is not None else print(AGAIN, file=sys.stderr)
    for future in futures.values():
        job = by_key.get(future.key)
        if job is None or job.name in records:
            continue
        with contextlib.suppress(Exception):
            record = _record_of_future(job, future)
            if record is not None:
                records[job.name] = record
        if job.name not in records:  # a job that wrote its whole result as the stop came is done, not cancelled
            finished = finished_record(job)
            records[job.name] = (
                record_of(job, CANCELLED, message=STOPPED) if finished is None else replace(finished, resumed=False)
            )
