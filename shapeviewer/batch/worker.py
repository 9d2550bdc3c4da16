"""What runs on the workers: their set-up (a WorkerPlugin) and one job.

A job is exactly 'shapeviewer register' (:func:`shapeviewer.cli.register_to_folder`): the same checks,
the same result folder written aside and renamed into place when whole. It never raises: a bad input
or an error becomes a record with status 'failed' and its one-line message, so the other jobs go on
and the scheduler retries only what a dying worker lost.

``--align`` moves the source onto the target as 'register' does, except where the job says that its target
moves ('batch template': the subject onto the template, whose momenta the PCA compares). A finished job
whose result is not credible (the deformed source's area far from the target's, a small drop of the
mismatch) keeps its status 'done' and gets words in its record's ``warning``.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import os
import sys
import tempfile
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
STOPPED = "stopped before it ended (Cancel or Ctrl-C); nothing written (run the batch again, or Resume, to finish it)"
TARGET_ALIGNMENT = "target_alignment"  # result.json: the transform that moved the target (batch template)


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
    warning: str = ""  # a finished job whose result is not credible: why, and what to try
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
                     message=one_line(info.get("message", "")), warning=credibility_warning(job.out, info),
                     resumed=True)  # fmt: skip


def credibility_warning(folder: Path, info: dict) -> str:
    """Why the finished job in ``folder`` (result.json: ``info``) is not credible, or '' when nothing is off (see
    :mod:`shapeviewer.document.credibility`); the meshes come from its frames, deformed.vtp and target.vtp."""
    from ..document.credibility import credibility_of
    from ..io.meshes import MeshReadError, read_mesh

    try:
        start = read_mesh(sorted((folder / "frames").glob("frame_*.vtp"))[0])  # the source as registered
        deformed, target = read_mesh(folder / "deformed.vtp"), read_mesh(folder / "target.vtp")
    except (IndexError, OSError, MeshReadError):
        start = deformed = target = None  # an older or partial folder: no area to compare
    try:
        rms = float(info["surface_distance"]["source_to_target"]["rms"])
    except (KeyError, TypeError, ValueError):
        rms = None
    moved = info.get("alignment") or info.get(TARGET_ALIGNMENT)
    alignment = (moved.get("kind") or "rigid") if isinstance(moved, dict) else None
    meshes = (None, None, None, None) if start is None else (
        start.vertices, deformed.vertices, start.faces, (target.vertices, target.faces))  # fmt: skip
    return credibility_of(*meshes, str(info.get("status", "")), info.get("fidelity_drop"), rms, alignment)


@contextlib.contextmanager
def _target_aligned(job: Job, kind: str):
    """``job.target`` moved onto ``job.source`` by ``kind`` (ICP on the surfaces, core.alignment's, as 'register
    --align' finds it), written to a temporary mesh; yields (its path, the transform)."""
    from ..core.alignment import compute_alignment
    from ..io.meshes import read_mesh, write_mesh

    source, target = read_mesh(job.source), read_mesh(job.target)
    transform = compute_alignment(kind, target.vertices, source.vertices)
    with tempfile.TemporaryDirectory(prefix="shapeviewer-aligned-") as folder:
        path = Path(folder) / f"{job.target.stem}.vtp"
        write_mesh(path, transform.apply(target.vertices), target.faces)
        yield path, transform


def _register(job: Job, job_args, extra: dict, **options):
    """register_to_folder for the job: as 'register' does, or with its target moved onto its source first."""
    from ..cli import register_to_folder

    kind = getattr(job_args, "align", "none") or "none"
    if job.aligned != "target" or kind == "none":
        return register_to_folder(job.source, job.target, job_args, extra=extra, **options)
    with _target_aligned(job, kind) as (target, transform):
        job_args.align = "none"  # the source stays: the momenta live at it
        moved = {**transform.to_json(), "maps": "aligned = matrix @ [x, y, z, 1] of the original target "
                 "(target_file); target.vtp and the frames are in the source's frame"}  # fmt: skip
        extra = {**extra, "target_file": str(job.target), TARGET_ALIGNMENT: moved}
        return register_to_folder(job.source, target, job_args, extra=extra, **options)


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
    from ..cli import input_error_message

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
        out, result = _register(job, job_args, extra, say=None, should_stop=should_stop, keep_cancelled=False)
    except Exception as exc:  # noqa: BLE001  every error of a job is its record, never the batch's end
        seconds = time.perf_counter() - start
        if should_stop is not None and should_stop():  # stopped before its first evaluation
            return record_of(job, CANCELLED, seconds=seconds, worker=worker, message=STOPPED)
        message = input_error_message(exc) or f"{type(exc).__name__}: {exc}"
        return record_of(job, FAILED, seconds=seconds, worker=worker, message=one_line(message))
    if result["status"] == "cancelled":
        return record_of(job, CANCELLED, seconds=result["seconds"], worker=worker, message=STOPPED)
    status = DONE if result["status"] in FINISHED_STATUSES else FAILED
    warning = credibility_warning(Path(out), result) if status == DONE and out is not None else ""
    return record_of(job, status, fidelity_drop=result["fidelity_drop"], distance=result["distance"],
                     seconds=result["seconds"], worker=worker, message=one_line(result["message"]),
                     warning=warning)  # fmt: skip


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
    compiled (KeOps) and loaded. Returns seconds taken, formulas compiled (None on CUDA, whose KeOps builds
    are not counted) and an error message if any."""
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
    error, on_gpu = "", False
    try:
        settings = registration_settings(args)
        settings.iterations = 0
        s, t = read_mesh(source), read_mesh(target)
        mask = load_mask(args.mask, s.n_vertices) if args.mask is not None else None
        registration = Registration((s.vertices, s.faces), (t.vertices, t.faces), settings, mask)
        on_gpu = registration.model.device.type == "cuda"
        for _ in registration.run():
            pass
    except Exception as exc:  # noqa: BLE001  the jobs report their own errors; this is only a warm-up
        error = one_line(input_error_message(exc) or f"{type(exc).__name__}: {exc}")
    compiled = None if on_gpu else compiled_count() - before
    return {"seconds": time.perf_counter() - start, "compiled": compiled, "error": error}


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
