from pathlib import Path

import numpy as np
import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared meshes not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture
def human(shared_data):
    from shapeviewer.io.meshes import read_mesh

    return read_mesh(shared_data / "human.ply")


@pytest.fixture
def rng():
    torch.manual_seed(0)
    return np.random.default_rng(0)


def random_cloud(n: int, dtype=torch.float64, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 3, dtype=dtype, generator=g)
