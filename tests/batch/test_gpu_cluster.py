"""`batch --gpu` on a stand-in for dask-cuda: its workers get the batch's environment (KeOps cache, one
thread) although dask-cuda gives each worker an environment of its own CUDA_VISIBLE_DEVICES only."""

import copy
import os
import sys
import types
from pathlib import Path

import pytest

from shapeviewer.batch import cluster as batch_cluster

ASKED = ("KEOPS_CACHE_FOLDER", "OMP_NUM_THREADS", "CUDA_VISIBLE_DEVICES")


@pytest.fixture
def stand_in_dask_cuda(monkeypatch):
    """A `dask_cuda` whose LocalCUDACluster replaces each worker's env as dask-cuda 26.10 does."""
    from distributed import LocalCluster

    class LocalCUDACluster(LocalCluster):
        def __init__(self, **kwargs):
            super().__init__(n_workers=0, processes=True, **kwargs)
            self.scale(1)  # through new_worker_spec, as dask-cuda starts its workers

        def new_worker_spec(self):
            ((name, spec),) = super().new_worker_spec().items()
            spec = copy.deepcopy(spec)
            spec["options"].update({"env": {"CUDA_VISIBLE_DEVICES": "0"}})
            return {name: spec}

    module = types.ModuleType("dask_cuda")
    module.LocalCUDACluster = LocalCUDACluster
    monkeypatch.setitem(sys.modules, "dask_cuda", module)
    monkeypatch.setattr(batch_cluster, "check_gpu", lambda: 1)


def worker_environment() -> dict:
    return {name: os.environ.get(name) for name in ASKED}


def test_gpu_workers_get_the_keops_cache_and_one_thread(stand_in_dask_cuda, tmp_path):
    cache = str(tmp_path / "keops")
    before = worker_environment()
    with batch_cluster.open_cluster(gpu=True, env={"KEOPS_CACHE_FOLDER": cache}) as cluster:
        assert "one per GPU" in cluster.where
        cluster.client.wait_for_workers(1, timeout=120)
        (seen,) = cluster.client.run(worker_environment).values()
    assert seen == {"KEOPS_CACHE_FOLDER": cache, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": "0"}
    import dask

    assert "KEOPS_CACHE_FOLDER" not in dask.config.get("distributed.nanny.environ", {})  # the config is back
    assert worker_environment() == before  # and so is this process's environment


def test_gpu_workers_get_the_batch_environment_over_the_shells(stand_in_dask_cuda, tmp_path, monkeypatch):
    """Dask's nanny config yields to the launching shell's variables (as seen on an H100 with dask-cuda 26.10):
    the batch's KeOps cache and one thread must win all the same, and the shell's come back afterwards."""
    monkeypatch.setenv("KEOPS_CACHE_FOLDER", str(tmp_path / "shell-cache"))
    monkeypatch.setenv("OMP_NUM_THREADS", "16")
    cache = str(tmp_path / "keops")
    with batch_cluster.open_cluster(gpu=True, env={"KEOPS_CACHE_FOLDER": cache}) as cluster:
        cluster.client.wait_for_workers(1, timeout=120)
        (seen,) = cluster.client.run(worker_environment).values()
    assert seen == {"KEOPS_CACHE_FOLDER": cache, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": "0"}
    assert os.environ["KEOPS_CACHE_FOLDER"] == str(tmp_path / "shell-cache")
    assert os.environ["OMP_NUM_THREADS"] == "16"


def test_a_warm_up_on_cuda_does_not_claim_a_formula_count(monkeypatch, data_dir, tmp_path):
    """KeOps' CUDA builds are not counted (only its CPU compilations are): the warm-up line gives no count
    there, where it said '0 KeOps formulas compiled' after 20 s of building on an H100."""
    import types

    import torch

    from shapeviewer.batch import worker
    from shapeviewer.batch.runner import warm_up_words
    from shapeviewer.cli import build_parser
    from shapeviewer.core import registration

    class OnCuda:
        def __init__(self, *args, **kwargs):
            self.model = types.SimpleNamespace(device=torch.device("cuda", 0))

        def run(self):
            return iter(())

    monkeypatch.setattr(registration, "Registration", OnCuda)
    finger = str(data_dir / "finger0.ply")
    command = ["batch", "template", finger, finger, "--out", str(tmp_path), "--backend", "torch"]
    args = build_parser().parse_args(command)
    report = worker.warm_up(Path(finger), Path(finger), args)
    assert report["compiled"] is None and report["error"] == ""
    assert warm_up_words({"a": report}) == f"workers: 1 ready; warm-up {report['seconds']:.1f} s"
    on_cpu = {"a": {"seconds": 3.0, "compiled": 2}, "b": {"seconds": 4.0, "compiled": 0}}
    assert warm_up_words(on_cpu) == "workers: 2 ready; warm-up 4.0 s, 2 KeOps formulas compiled"
