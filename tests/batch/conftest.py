"""A local Dask cluster of two worker processes, shared by the batch tests, and small populations."""

import logging

import numpy as np
import pytest

from shapeviewer.batch.cluster import SINGLE_THREAD_ENV

# Every batch test runs a few dense-torch iterations on small meshes: nothing compiles.
FAST = ["--backend", "torch", "--steps", "4", "--dtype", "float64", "--iterations", "4"]


@pytest.fixture(scope="session")
def cluster():
    """A client on a LocalCluster of 2 worker processes, one thread each (the batch's own layout)."""
    from distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",
            silence_logs=logging.ERROR,
            env=SINGLE_THREAD_ENV,
        ) as local,  # fmt: skip
        Client(local) as client,
    ):
        client.wait_for_workers(2, timeout=120)
        yield client


@pytest.fixture
def scheduler(cluster):
    return cluster.scheduler.address


def stretched(path, out_folder, factors):
    """Copies of the mesh at ``path`` stretched along x by each factor: sx1.10.ply, ..."""
    from shapeviewer.io.meshes import read_mesh, write_mesh

    mesh = read_mesh(path)
    paths = []
    for f in factors:
        v = mesh.vertices.copy()
        v[:, 0] = v[:, 0].mean() + f * (v[:, 0] - v[:, 0].mean())
        paths.append(out_folder / f"sx{f:.2f}.ply")
        write_mesh(paths[-1], v, mesh.faces)
    return paths


def pick(records, name):
    return next(r for r in records if r["job"] == name)


@pytest.fixture
def population(tmp_path, data_dir):
    folder = tmp_path / "shapes"
    folder.mkdir()
    return stretched(data_dir / "human.ply", folder, (0.9, 1.1, 1.2))


def unit(v):
    v = np.asarray(v, dtype=np.float64).ravel()
    return v / np.linalg.norm(v)
