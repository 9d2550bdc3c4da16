"""`batch --gpu` on a real GPU machine, without VTK: the cluster, the worker set-up and a job's registration.

Opens the cluster as `shapeviewer batch --gpu` does (dask-cuda's LocalCUDACluster, one worker per GPU),
reads each worker's environment (the KeOps cache and one-thread settings must survive dask-cuda's own),
registers the batch's worker plugin (threads, KeOps cache, one warm-up evaluation of the batch's formulas
on finger0 -> finger1) and then runs a job's registration on a worker: the settings 'batch template' parses,
timed, with the device the core chose. Writing the job's result folder needs VTK, which machines without
pyvista lack; that part is device-independent and tested on the CPU. Usage:
    python3 benchmarks/gpu_batch.py MESH_FOLDER   # finger0.ply and finger1.ply in it
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

ASKED = ("KEOPS_CACHE_FOLDER", "OMP_NUM_THREADS", "CUDA_VISIBLE_DEVICES")


def worker_environment() -> dict:
    return {name: os.environ.get(name) for name in ASKED}


def registration_on_worker(source: str, target: str, args) -> dict:
    """What a job's registration does on its worker (register_to_folder, less the writing)."""
    import torch

    from shapeviewer.cli_register import registration_settings
    from shapeviewer.core.registration import Registration
    from shapeviewer.io.meshes import read_mesh

    s, t = read_mesh(Path(source)), read_mesh(Path(target))
    start = time.perf_counter()
    reg = Registration((s.vertices, s.faces), (t.vertices, t.faces), registration_settings(args))
    *_, rep = reg.run()  # the last report is the final state
    info = reg.describe()
    return {"device": info.get("device"), "backend": info.get("backend"), "status": rep.status,
            "iterations": rep.iteration, "drop": rep.fidelity_drop, "seconds": time.perf_counter() - start,
            "gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else "none",
            "threads": torch.get_num_threads()}  # fmt: skip


def main() -> None:
    from shapeviewer.batch.cluster import open_cluster
    from shapeviewer.batch.worker import BatchWorkerSetup, warm_up_report
    from shapeviewer.cli import build_parser

    meshes = Path(sys.argv[1])
    source, target = meshes / "finger0.ply", meshes / "finger1.ply"
    cache = tempfile.mkdtemp(prefix="keops-batch-")
    out = tempfile.mkdtemp(prefix="batch-")
    args = build_parser().parse_args(["batch", "template", str(source), str(target), "--out", out, "--gpu"])
    start = time.perf_counter()
    with open_cluster(gpu=True, jobs=1, env={"KEOPS_CACHE_FOLDER": cache}) as cluster:
        client = cluster.client
        client.wait_for_workers(1, timeout=120)
        print(f"cluster: {cluster.where}; dashboard {cluster.dashboard} ({time.perf_counter() - start:.1f} s)")
        for address, env in client.run(worker_environment).items():
            ok = env["KEOPS_CACHE_FOLDER"] == cache and env["OMP_NUM_THREADS"] == "1"
            print(f"worker {address}: {env} -> {'as asked' if ok else 'NOT as asked'}")
        client.register_plugin(BatchWorkerSetup(cache, (source, target, args)))
        for address, report in client.run(warm_up_report).items():
            print(f"worker {address} warm-up: {report}")
        result = client.submit(registration_on_worker, str(source), str(target), args, pure=False).result()
        print(f"job registration on the worker: {result}")
        again = client.submit(registration_on_worker, str(source), str(target), args, pure=False).result()
        print(f"a second job (formulas loaded): {again['seconds']:.1f} s, drop {100 * again['drop']:.1f}%")
    print(f"gpu_batch done in {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
