from pathlib import Path

import numpy as np
import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "tests" / "data"  # real meshes (scikit-shapes, MIT): see tests/data/README.md


@pytest.fixture
def data_dir() -> Path:
    return DATA


@pytest.fixture
def human(data_dir):
    from shapeviewer.io.meshes import read_mesh

    return read_mesh(data_dir / "human.ply")


@pytest.fixture
def small_pair(tmp_path):
    """A ~100-vertex demo pair on disk (fast registrations with the dense torch backend)."""
    from shapeviewer.io.demo import make_demo_pair
    from shapeviewer.io.meshes import write_mesh

    source, target = make_demo_pair(resolution=10)
    paths = tmp_path / "small_source.ply", tmp_path / "small_target.ply"
    for mesh, path in zip((source, target), paths, strict=True):
        write_mesh(path, mesh.vertices, mesh.faces)
    return paths


@pytest.fixture
def rng():
    torch.manual_seed(0)
    return np.random.default_rng(0)


def random_cloud(n: int, dtype=torch.float64, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 3, dtype=dtype, generator=g)
