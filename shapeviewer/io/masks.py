"""Weight masks on disk: ``.npy`` of N floats (what ``register --mask`` takes) or a ``.vtp`` point array."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..core.model import InputError, check_mask
from .arrays import load_array
from .meshes import MeshReadError, write_mesh

MASK_ARRAY = "mask"


def load_mask(path: str | os.PathLike, n_vertices: int) -> np.ndarray:
    """A checked (N,) weight array; InputError/ArrayReadError/MeshReadError name the file and problem."""
    path = Path(path)
    values = _vtp_array(path) if path.suffix.lower() == ".vtp" else load_array(path, "mask")
    return check_mask(values, n_vertices, f"mask {path.name}")


def _vtp_array(path: Path) -> np.ndarray:
    import pyvista as pv

    if not path.is_file():
        raise MeshReadError(f"cannot read mask {path}: no such file")
    try:
        poly = pv.read(str(path))
    except Exception as exc:  # VTK raises assorted types for damaged files
        raise MeshReadError(f"cannot read mask {path}: {exc}") from None
    if MASK_ARRAY not in poly.point_data:
        names = ", ".join(poly.point_data.keys()) or "none"
        raise InputError(f"{path.name} has no point array '{MASK_ARRAY}' (point arrays: {names})")
    return np.asarray(poly.point_data[MASK_ARRAY], dtype=np.float64)


def save_mask(path: str | os.PathLike, weights: np.ndarray, vertices: np.ndarray, faces: np.ndarray) -> Path:
    """``.npy`` (N floats) or ``.vtp`` (the source mesh with a 'mask' point array)."""
    path = Path(path)
    if path.suffix.lower() == ".vtp":
        write_mesh(path, vertices, faces, {MASK_ARRAY: np.asarray(weights, dtype=np.float64)})
    elif path.suffix.lower() == ".npy":
        np.save(path, np.asarray(weights, dtype=np.float64))
    else:
        raise InputError(f"masks are saved as .npy or .vtp, not '{path.suffix}'")
    return path
