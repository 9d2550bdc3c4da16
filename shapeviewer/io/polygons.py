"""Polygon lists (counts + flat connectivity) as triangles, and the checks every reader shares."""

from __future__ import annotations

import numpy as np

from .mesh_errors import MeshReadError

MAX_POLYGON = 1000  # corners of one face; more is a corrupt count, not a polygon


def check_counts(path, counts: np.ndarray, what: str = "face") -> None:
    if counts.size and (counts.min() < 0 or counts.max() > MAX_POLYGON):
        bad = int(counts.min() if counts.min() < 0 else counts.max())
        raise MeshReadError(f"{path}: a {what} declares {bad} corners (corrupt face list)")


def triangles(path, counts: np.ndarray, connectivity: np.ndarray, n_vertices: int) -> np.ndarray:
    """(M, 3) int64 triangles: polygons fan-triangulated, points and lines (fewer than 3 corners) left out."""
    counts = np.asarray(counts, dtype=np.int64)
    connectivity = np.asarray(connectivity, dtype=np.int64)
    check_counts(path, counts)
    if counts.sum() != connectivity.size:
        raise MeshReadError(f"{path}: the face list holds {connectivity.size} indices, its counts say {counts.sum()}")
    if connectivity.size and (connectivity.min() < 0 or connectivity.max() >= n_vertices):
        bad = int(connectivity.min() if connectivity.min() < 0 else connectivity.max())
        raise MeshReadError(f"{path}: a face refers to vertex {bad}, but the file has only {n_vertices} vertices")
    if counts.size and (counts == 3).all():
        return connectivity.reshape(-1, 3).copy()
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    tris = []
    for k in np.unique(counts[counts >= 3]):
        first = starts[counts == k]
        for j in range(1, int(k) - 1):  # fan: (0, j, j+1)
            tris.append(np.stack([first, first + j, first + j + 1], axis=1))
    if not tris:
        return np.zeros((0, 3), np.int64)
    return connectivity[np.concatenate(tris)]
