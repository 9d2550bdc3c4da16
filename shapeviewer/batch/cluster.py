"""Where the jobs run: a local cluster sized to this machine, an existing scheduler, or one worker per GPU.

All three give a ``distributed.Client``; the rest of the batch does not know which. Local workers are
processes with one thread each, and their math libraries are held to that thread (OMP_NUM_THREADS and
friends in their environment, torch's own count by the worker plugin), so that torch and KeOps in
several workers do not fight over the cores. Local workers also ignore SIGINT (they preload this
module, see :func:`dask_setup`): a terminal's Ctrl-C reaches the whole process group, and it is the
command's to stop the batch cleanly, not the workers' to die mid-job.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

# One thread per worker for every math library a job may reach.
SINGLE_THREAD_ENV = {
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "NUMEXPR_NUM_THREADS": "1",
    "VECLIB_MAXIMUM_THREADS": "1",
}
CONNECT_TIMEOUT = "20s"


class ClusterError(RuntimeError):
    """No cluster to run on (no dask-cuda, no GPU, a scheduler that does not answer); one line."""


@dataclass
class Cluster:
    client: object  # distributed.Client
    where: str  # in words, for the user
    dashboard: str  # the dashboard's address, with a note when it cannot show


def dask_setup(worker) -> None:
    """Run by every local worker as it starts (a Dask preload): leave Ctrl-C to the command."""
    with contextlib.suppress(ValueError):  # only possible in the main thread, where preloads run
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def cpu_count() -> int:
    """The cores this process may use (its affinity, not the machine's total)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def check_cluster_options(scheduler: str | None, workers: int | None, keops_cache: Path | None) -> None:
    """ClusterError, in one line, for options that would only fail once a cluster is up (or start hundreds of
    processes): a scheduler address without a port, more local workers than twice the cores, a KeOps cache
    that cannot be a writable folder (which is created here)."""
    if scheduler is not None:
        _check_scheduler_address(scheduler)
    cores = cpu_count()
    if workers is not None and workers > 2 * cores:
        raise ClusterError(
            f"--workers {workers}: shapeviewer may use {cores} core{'s' if cores > 1 else ''} here; more than "
            f"{2 * cores} workers would only share them, each with its own memory (default: one per core)"
        )
    if keops_cache is not None:
        try:
            keops_cache.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ClusterError(f"--keops-cache {keops_cache}: cannot be made a folder ({exc.strerror})") from None
        if not os.access(keops_cache, os.W_OK | os.X_OK):
            raise ClusterError(f"--keops-cache {keops_cache}: this user cannot write there")


def _check_scheduler_address(address: str) -> None:
    scheme, _, rest = address.partition("://") if "://" in address else ("tcp", "", address)
    host, _, port = rest.rpartition(":")
    if not _known_scheme(scheme) or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ClusterError(
            f"--scheduler {address}: not a scheduler's address; give HOST:PORT or SCHEME://HOST:PORT, e.g. "
            "tcp://10.0.0.5:8786 (SCHEME: tcp, tls, ucx, ... as distributed knows them; PORT: the one 'dask "
            "scheduler' printed)"
        )


def _known_scheme(scheme: str) -> bool:
    """A transport distributed can use here (its own, and those that plug-ins such as distributed-ucxx add)."""
    from distributed.comm.registry import get_backend

    try:
        get_backend(scheme)
    except ValueError:
        return False
    return scheme != "inproc"  # within one process: no scheduler of another process answers there


def _dashboard(client) -> str:
    link = client.dashboard_link or "none"
    if importlib.util.find_spec("bokeh") is None and link != "none":
        return f"{link} (its pages need bokeh: pip install 'bokeh>=3.1')"
    return link


def check_gpu() -> int:
    """The number of CUDA GPUs, or ClusterError saying in one line why --gpu cannot run here."""
    if importlib.util.find_spec("dask_cuda") is None:
        raise ClusterError("--gpu needs dask-cuda (pip install dask-cuda) and a CUDA GPU; dask-cuda is not installed")
    import torch

    if not torch.cuda.is_available() or torch.cuda.device_count() == 0:
        raise ClusterError("--gpu needs a CUDA GPU, and torch sees none here")
    return torch.cuda.device_count()


@contextlib.contextmanager
def _worker_environment(env: dict) -> Iterator[None]:
    """``env`` in this process's environment while inside, which the worker processes its nannies start
    inherit (restarted ones too); restored on the way out. Dask's ``distributed.nanny.environ`` config would
    not do: it yields to variables already set (a shell's KEOPS_CACHE_FOLDER or OMP_NUM_THREADS)."""
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextlib.contextmanager
def open_cluster(scheduler: str | None = None, workers: int | None = None, gpu: bool = False,
                 jobs: int | None = None, env: dict | None = None) -> Iterator[Cluster]:  # fmt: skip
    """A client on the cluster asked for, closed (with the local cluster it started) on the way out.

    ``workers``: local worker processes (default one per core, at most one per job); ``env``: more
    environment variables for local workers (set before they start).
    """
    from distributed import Client, LocalCluster

    worker_env = {**SINGLE_THREAD_ENV, **(env or {})}
    cluster = None
    stack = contextlib.ExitStack()
    try:
        if scheduler:
            try:
                client = Client(scheduler, timeout=CONNECT_TIMEOUT)
            except (OSError, ValueError) as exc:  # ValueError: an address distributed cannot parse
                raise ClusterError(f"cannot reach the scheduler at {scheduler}: {exc}") from None
            n = len(client.scheduler_info(n_workers=-1).get("workers", {}))
            where = f"the cluster at {scheduler} ({n} workers now)"
        elif gpu:
            count = check_gpu()
            from dask_cuda import LocalCUDACluster

            # dask-cuda gives each worker an env of its CUDA_VISIBLE_DEVICES only: ours are inherited from
            # this process's environment, set for the cluster's life
            stack.enter_context(_worker_environment(worker_env))
            cluster = LocalCUDACluster(threads_per_worker=1, silence_logs=logging.ERROR, dashboard_address=":0",
                                       preload=[__name__])  # fmt: skip
            client = Client(cluster)
            where = f"a local GPU cluster: {count} worker{'s' if count > 1 else ''}, one per GPU"
        else:
            n = workers or min(cpu_count(), jobs or cpu_count())
            cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, silence_logs=logging.ERROR,
                                   dashboard_address=":0", env=worker_env, preload=[__name__])  # fmt: skip
            client = Client(cluster)
            where = f"a local cluster: {n} worker process{'es' if n > 1 else ''}, one thread each"
    except BaseException:
        if cluster is not None:
            cluster.close()
        stack.close()
        raise
    try:
        yield Cluster(client, where, _dashboard(client))
    finally:
        with contextlib.suppress(Exception):
            client.close()
        if cluster is not None:
            with contextlib.suppress(Exception):
                cluster.close()
        stack.close()
