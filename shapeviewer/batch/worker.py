"""What runs on the workers: their set-up (a WorkerPlugin) and one job.

A job is exactly 'shapeviewer register' (:func:`shapeviewer.cli.register_to_folder`): the same checks,
the same result folder written aside and renamed into place when whole. It never raises: a bad input
or an error becomes a record with status 'failed' and its one-line message, so the other jobs go on
and the scheduler retries only what a dying worker lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import os
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from distributed import WorkerPlugin

from .inputs import Job

DONE, FAILED, CANCELLED, NOT_RUN = "done", "failed", "cancelled", "not run"
FINISHED_STATUSES = ("finished", "converged")  # a registration's status that completes its job
STOP_POLL_SECONDS = 1.0  # how often a job asks the scheduler whether the batch was stopped
PLUGIN_NAME = "shapeviewer-batch"
LOCK_NAME = "shapeviewer-keops-warmup.lock"
STOPPED = "stopped by Ctrl-C; nothing written (rerun the batch to resume)"


@dataclass
class JobRecord:
    """A row of summary.csv."""

    job: str
    source: str
    target: str
    status: str  # done | failed | cancelled | not run
    fidelity_drop: float | None = None
    distance: float | None = None
    seconds: float | None = None
    worker: str = ""
    message: str = ""
    resumed: bool = False  # found finished on disk, not run again
    task_seconds: float | None = None  # the whole task on its worker: set-up, registration, writing

    def row(self) -> dict:
        return {k: v for k, v in asdict(self).items() if k not in ("resumed", "task_seconds")}


def one_line(text: str) -> str:
    return " ".join(str(text).split())


def record_of(job: Job, status: str, **fields) -> JobRecord:
    return JobRecord(job.name, str(job.source), str(job.target), status, **fields)


def finished_record(job: Job) -> JobRecord | None:
    """The record of a job whose result folder is complete and finished (None: run it)."""
    try:
        info = json.loads((job.out / "result.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(info, dict) or info.get("status") not in FINISHED_STATUSES:
        return None
    if (info.get("source_file"), info.get("target_file")) != (str(job.source), str(job.target)):
        return None
    if not (job.out / "momenta.npy").is_file():
        return None
    return record_of(job, DONE, fidelity_drop=info.get("fidelity_drop"), distance=info.get("distance"),
                     seconds=info.get("seconds"), worker=str(info.get("worker", "")),
                     message=one_line(info.get("message", "")), resumed=True)  # fmt: skip


def _worker_address() -> str:
    try:
        from distributed import get_worker

        return get_worker().address
    except ValueError:  # called outside a worker (tests, a single process)
        return f"pid {os.getpid()}"


def _stop_poller(event_name: str | None):
    """should_stop(): whether the batch's stop Event is set, asked at most once per STOP_POLL_SECONDS."""
    if not event_name:
        return None
    from distributed import Event

    state = {"next": 0.0, "stop": False}
    event = Event(event_name)

    def should_stop() -> bool:
        now = time.monotonic()
        if not state["stop"] and now >= state["next"]:
            state["next"] = now + STOP_POLL_SECONDS
            with contextlib.suppress(Exception):  # a scheduler that does not answer: go on
                state["stop"] = event.is_set()
        return state["stop"]

    return should_stop


def run_job(job: Job, args, stop_event: str | None = None) -> JobRecord:
    """Register ``job.source`` onto ``job.target`` into ``job.out`` with the batch's ``args``."""
    start = time.perf_counter()
    record = _run_job(job, args, stop_event, start)
    if not record.resumed:
        record.task_seconds = time.perf_counter() - start
    return record


def _run_job(job: Job, args, stop_event: str | None, start: float) -> JobRecord:
    from ..cli import input_error_message, register_to_folder

    worker = _worker_address()
    earlier = finished_record(job)  # an earlier attempt, or a run on another machine, finished it
    if earlier is not None:
        return earlier
    should_stop = _stop_poller(stop_event)
    if should_stop is not None and should_stop():  # started while the batch was being stopped
        return record_of(job, CANCELLED, worker=worker, message=STOPPED)
    job_args = copy.copy(args)
    job_args.out = job.out
    try:
        extra = {"batch_job": job.name, "worker": worker}
        _, result = register_to_folder(
            job.source, job.target, job_args, say=None, should_stop=should_stop, keep_cancelled=False, extra=extra
        )
    except Exception as exc:  # noqa: BLE001  every error of a job is its record, never the batch's end
        seconds = time.perf_counter() - start
        if should_stop is not None and should_stop():  # stopped before its first evaluation
            return record_of(job, CANCELLED, seconds=seconds, worker=worker, message=STOPPED)
        message = input_error_message(exc) or f"{type(exc).__name__}: {exc}"
        return record_of(job, FAILED, seconds=seconds, worker=worker, message=one_line(message))
    if result["status"] == "cancelled":
        return record_of(job, CANCELLED, seconds=result["seconds"], worker=worker, message=STOPPED)
    status = DONE if result["status"] in FINISHED_STATUSES else FAILED
    return record_of(job, status, fidelity_drop=result["fidelity_drop"], distance=result["distance"],
                     seconds=result["seconds"], worker=worker, message=one_line(result["message"]))  # fmt: skip


def configure_threads(threads: int) -> None:
    """Hold torch to the worker's threads (the environment already holds OpenMP and BLAS)."""
    import torch

    torch.set_num_threads(max(1, threads))
    with contextlib.suppress(RuntimeError):  # only settable before the first parallel work
        torch.set_num_interop_threads(1)


def set_keops_cache(folder: str | None) -> None:
    """KeOps builds into ``folder``: through its environment variable when KeOps is not loaded yet."""
    if not folder:
        return
    Path(folder).mkdir(parents=True, exist_ok=True)
    os.environ["KEOPS_CACHE_FOLDER"] = folder
    if "pykeops" in sys.modules:  # already loaded: move its build folder (named as KeOps names it) there
        import keopscore
        import pykeops

        name = keopscore.config.get_default_build_folder_name()
        pykeops.set_build_folder(str(Path(folder) / name))


@contextlib.contextmanager
def _machine_lock(folder: Path):
    """One warm-up at a time on a machine (a file lock): the first compiles, the others load its cache."""
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock
        yield
        return
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / LOCK_NAME, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def warm_up(source: Path, target: Path, args) -> dict:
    """Evaluate the batch's loss and gradient once on (source, target): every formula a job needs is then
    compiled (KeOps) and loaded. Returns seconds taken, formulas compiled and an error message if any."""
    from ..cli import input_error_message, registration_settings
    from ..core.keops_compile import compiled_count
    from ..core.registration import Registration
    from ..io.masks import load_mask
    from ..io.meshes import read_mesh

    start = time.perf_counter()
    if args.backend != "torch":
        from ..core.backends import keops_importable

        keops_importable()  # loads KeOps as the core does (quietly), with its compilations counted
    before = compiled_count()
    error = ""
    try:
        settings = registration_settings(args)
        settings.iterations = 0
        s, t = read_mesh(source), read_mesh(target)
        mask = load_mask(args.mask, s.n_vertices) if args.mask is not None else None
        for _ in Registration((s.vertices, s.faces), (t.vertices, t.faces), settings, mask).run():
            pass
    except Exception as exc:  # noqa: BLE001  the jobs report their own errors; this is only a warm-up
        error = one_line(input_error_message(exc) or f"{type(exc).__name__}: {exc}")
    return {"seconds": time.perf_counter() - start, "compiled": compiled_count() - before, "error": error}


class BatchWorkerSetup(WorkerPlugin):
    """Threads, KeOps cache and a warm-up of the batch's formulas, on every worker before its first job."""

    name = PLUGIN_NAME

    def __init__(self, keops_cache: str | None = None, warm: tuple[Path, Path, object] | None = None):
        self.keops_cache = keops_cache
        self.warm = warm
        self.report: dict = {}

    async def setup(self, worker):
        threads = getattr(getattr(worker, "state", None), "nthreads", None) or getattr(worker, "nthreads", 1)
        set_keops_cache(self.keops_cache)
        configure_threads(threads)
        if self.warm is not None:  # off the event loop: a compilation takes seconds, heartbeats go on
            self.report = await asyncio.get_running_loop().run_in_executor(None, self._warm)

    def _warm(self) -> dict:
        source, target, args = self.warm
        if args.backend == "torch":
            return warm_up(source, target, args)
        cache = Path(self.keops_cache) if self.keops_cache else Path.home() / ".cache"
        with _machine_lock(cache):
            return warm_up(source, target, args)


def warm_up_report(dask_worker) -> dict:
    """For ``client.run``: what the set-up plugin of this worker reported."""
    plugin = dask_worker.plugins.get(PLUGIN_NAME)
    return dict(getattr(plugin, "report", {}) or {})
