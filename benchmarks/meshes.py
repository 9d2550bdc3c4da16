"""Benchmark meshes of chosen sizes, resampled from the real scans in ../shared/data."""

from __future__ import annotations

from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def mesh_of_size(n: int) -> tuple[np.ndarray, np.ndarray]:
    """A closed scan with about n vertices (finger0 below 3k, cactus3 above), float64 vertices."""
    import pyvista as pv

    base = pv.read(DATA / ("finger0.ply" if n < 3000 else "cactus3.ply")).triangulate().clean()
    while base.n_points < n:
        base = base.subdivide(1, "loop").clean()
    if base.n_points > 1.1 * n:
        base = base.decimate(1 - n / base.n_points).clean()
    return np.asarray(base.points, dtype=np.float64), base.faces.reshape(-1, 4)[:, 1:].astype(np.int64)


def smooth_deformation(vertices: np.ndarray) -> np.ndarray:
    """A target with the same faces: a bend plus a shift of a tenth of the size."""
    size = np.linalg.norm(vertices.max(0) - vertices.min(0))
    c = (vertices - vertices.mean(0)) / size
    out = vertices.copy()
    out[:, 0] += 0.08 * size * np.sin(3 * c[:, 1])
    return out + 0.05 * size
