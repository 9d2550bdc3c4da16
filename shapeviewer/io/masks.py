"""Weight masks on disk: ``.npy`` of N floats (what ``register --mask`` takes) or a ``.vtp`` point array."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np

from ..core.model import InputError, check_mask
from .arrays import load_array
from .atomic import write_bytes
from .meshes import MeshReadError, write_mesh

MASK_ARRAY = "mask"


def load_mask(path: str | os.PathLike, n_vertices: int) -> np.ndarray:
    """A checked (N,) weight array; InputError/ArrayReadError/MeshReadError name the file and problem."""
    path = Path(path)
    values = _vtp_array(path) if path.suffix.lower() == ".vtp" else load_array(path, "mask", shape=(n_vertices,))
    return check_mask(values, n_vertices, f"mask {path.name}")


def _vtp_array(path: Path) -> np.ndarray:
    from .vtk_reader import read_point_array

    if not path.is_file():
        raise MeshReadError(f"cannot read mask {path}: no such file")
    values = read_point_array(path, MASK_ARRAY)
    if values is None:
        raise InputError(f"{path.name} has no point array '{MASK_ARRAY}'")
    if np.iscomplexobj(values) or values.ndim != 1:
        raise InputError(f"{path.name}: point array '{MASK_ARRAY}' must hold one real number per vertex")
    return np.asarray(values, dtype=np.float64)


def save_mask(path: str | os.PathLike, weights: np.ndarray, vertices: np.ndarray, faces: np.ndarray) -> Path:
    """``.npy`` (N floats) or ``.vtp`` (the source mesh with a 'mask' point array)."""
    path = Path(path)
    if path.suffix.lower() == ".vtp":
        write_mesh(path, vertices, faces, {MASK_ARRAY: np.asarray(weights, dtype=np.float64)})
    elif path.suffix.lower() == ".npy":
        buffer = io.BytesIO()
        np.save(buffer, np.asarray(weights, dtype=np.float64))
        write_bytes(path, buffer.getvalue())
    else:
        raise InputError(f"masks are saved as .npy or .vtp, not '{path.suffix}'")
    return path
