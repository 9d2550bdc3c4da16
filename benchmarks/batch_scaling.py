"""Batch registration on Dask: speed-up from 1 to 2 local workers, and the scheduler's overhead per job.

8 template jobs (human.ply onto stretched copies, dense torch backend, a fixed number of iterations, so
every job does the same work) run on a LocalCluster of 1 worker, then of 2 (one thread each). Timed from
the first submission to the last result, the clusters' start and the workers' warm-up aside (printed).
The overhead per job is measured twice: a no-op task round trip (the scheduler's own cost), and in the
batch itself (wall x workers - the tasks' seconds on their workers, per job); the job's own reading and
writing (task seconds - registration seconds) is printed apart. From it, what 10,000 jobs on a
100-worker cluster cost beyond the registrations.
    .venv/bin/python benchmarks/batch_scaling.py [--jobs 8] [--iterations 40]
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "tests" / "data"
sys.path.insert(0, str(REPO))


def make_subjects(folder: Path, n: int) -> list[Path]:
    import numpy as np

    from shapeviewer.io.meshes import read_mesh, write_mesh

    human = read_mesh(DATA / "human.ply")
    paths = []
    for i, f in enumerate(np.linspace(0.8, 1.25, n)):
        v = human.vertices.copy()
        v[:, 0] = v[:, 0].mean() + f * (v[:, 0] - v[:, 0].mean())
        paths.append(folder / f"s{i}.ply")
        write_mesh(paths[-1], v, human.faces)
    return paths


def run_batch(workers: int, subjects: list[Path], folder: Path, iterations: int) -> dict:
    from shapeviewer.batch.cluster import open_cluster
    from shapeviewer.batch.inputs import template_jobs
    from shapeviewer.batch.runner import Progress, run_jobs
    from shapeviewer.cli import build_parser

    out = folder / f"out{workers}"
    options = ["--backend", "torch", "--steps", "4", "--dtype", "float64", "--iterations", str(iterations),
               "--tolerance", "0"]  # fmt: skip
    args = build_parser().parse_args(["batch", "template", str(DATA / "human.ply"), *map(str, subjects),
                                      "--out", str(out), *options])  # fmt: skip
    jobs = template_jobs(DATA / "human.ply", subjects, out)
    start = time.perf_counter()
    with open_cluster(workers=workers, jobs=len(jobs)) as cluster:
        cluster.client.wait_for_workers(workers)
        started = time.perf_counter() - start
        progress = Progress(len(jobs), 0, stream=io.StringIO())
        t0 = time.perf_counter()
        records = run_jobs(cluster.client, jobs, args, progress=progress, say=lambda m: None)
        total = time.perf_counter() - t0
        run_wall = time.perf_counter() - progress.start  # from the first submission, the warm-up aside
        noop = noop_overhead(cluster.client) if workers == 2 else None
    assert all(r.status == "done" for r in records), [r.message for r in records if r.status != "done"]
    work = sum(r.seconds for r in records)
    tasks = sum(r.task_seconds for r in records)
    return {"wall": run_wall, "setup": total - run_wall, "start": started, "work": work, "noop": noop,
            "overhead": (run_wall * workers - tasks) / len(jobs), "io": (tasks - work) / len(jobs)}  # fmt: skip


def _noop(i):
    return i


def _spin(seconds: float) -> int:
    """Pure Python work for about ``seconds`` of one free core."""
    count, end = 0, time.process_time() + seconds
    while time.process_time() < end:
        count += 1
    return count


def machine_parallelism(seconds: float = 2.0) -> float:
    """What this machine gives two CPU-bound processes at once, against one alone (2.0: two free cores).
    The ceiling of any speed-up from 1 to 2 workers while other work shares the machine."""
    import multiprocessing

    with multiprocessing.get_context("spawn").Pool(2) as pool:
        pool.map(_spin, [0.1, 0.1])
        start = time.perf_counter()
        pool.map(_spin, [seconds])
        one = time.perf_counter() - start
        start = time.perf_counter()
        pool.map(_spin, [seconds, seconds])
        two = time.perf_counter() - start
    return 2 * one / two


def noop_overhead(client, n: int = 2000) -> float:
    """Seconds per task of submitting and gathering ``n`` no-op tasks (the scheduler's own cost per job)."""
    client.gather(client.map(_noop, range(50), pure=False))
    start = time.perf_counter()
    client.gather(client.map(_noop, range(n), pure=False))
    return (time.perf_counter() - start) / n


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=8)
    parser.add_argument("--iterations", type=int, default=40)
    a = parser.parse_args()
    from shapeviewer.batch.cluster import cpu_count

    load = os.getloadavg()[0]
    print(f"{cpu_count()} cores for this process; load average {load:.1f} before the runs", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        subjects = make_subjects(folder, a.jobs)
        ceiling = machine_parallelism()
        one = run_batch(1, subjects, folder, a.iterations)
        two = run_batch(2, subjects, folder, a.iterations)
        ceiling = (ceiling + machine_parallelism()) / 2
    speedup = one["wall"] / two["wall"]
    for n, r in ((1, one), (2, two)):
        print(f"{n} worker{'s' if n > 1 else ' '}: {a.jobs} jobs in {r['wall']:.2f} s (registrations {r['work']:.2f} s "
              f"in all; cluster start {r['start']:.1f} s, set-up and warm-up {r['setup']:.1f} s)")  # fmt: skip
    load = os.getloadavg()[0]
    verdict = "met" if speedup >= 1.7 else f"missed; the load average was {load:.1f} on {cpu_count()} cores"
    print(f"speed-up 1 -> 2 workers: {speedup:.2f}x (target >= 1.7x: {verdict})")
    print(f"two plain CPU-bound processes got {ceiling:.2f}x the work of one on this machine meanwhile (2.00: two "
          f"free cores): the batch reached {speedup / ceiling:.0%} of what the machine gave")  # fmt: skip
    slower = two["work"] / one["work"]
    print(f"the same registrations took {slower:.2f}x longer with 2 workers than with 1 (contention for the cores)")
    noop_ms = 1e3 * two["noop"]
    batch_ms = 1e3 * max(one["overhead"], 0.0)  # 1 worker: no contention for the cores inflates it
    io_ms = 1e3 * one["io"]
    print(f"scheduler overhead per job: {noop_ms:.2f} ms (no-op task round trip, 2 workers); in the batch, "
          f"wall x workers - task time: {1e3 * one['overhead']:.0f} ms per job with 1 worker, "
          f"{1e3 * two['overhead']:.0f} ms with 2; the job's own reading and writing "
          f"{1e3 * one['io']:.0f} ms")  # fmt: skip
    # 10,000 jobs on 100 workers: the scheduler handles tasks one after another (its cost does not divide by
    # the workers, but runs while the workers compute); what a worker pays per job divides by 100.
    scheduler_s = 10_000 * noop_ms / 1e3
    per_worker_s = 10_000 / 100 * (batch_ms + io_ms) / 1e3
    print(f"10,000 jobs on 100 workers, beyond the registrations: the scheduler spends about {scheduler_s:.0f} s "
          f"(10,000 x {noop_ms:.2f} ms, one task after another, while the workers compute); each worker loses "
          f"about {per_worker_s:.0f} s of wall time (100 jobs x ({batch_ms:.0f} ms of Dask + {io_ms:.0f} ms of "
          f"reading and writing its result folder)); plus one warm-up per worker ({two['setup']:.1f} s here with "
          f"dense torch; a first KeOps compilation adds its minutes once per machine). In all about "
          f"{per_worker_s + two['setup']:.0f} s of wall time beyond the registrations.")  # fmt: skip


if __name__ == "__main__":
    main()
