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
def rng():
    torch.manual_seed(0)
    return np.random.default_rng(0)


def random_cloud(n: int, dtype=torch.float64, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 3, dtype=dtype, generator=g)
