"""What a read mesh must satisfy to be registered; each refusal is about the mesh, in one line."""

from __future__ import annotations

import numpy as np

from .mesh_errors import MeshReadError

MAX_COORDINATE = 1e12  # beyond, squared distances overflow float32 and lose all precision in float64
MIN_AREA = 1e-12  # total area / diagonal^2 below this: every face is degenerate
FAR = 1.0  # unused vertices farther than this x the surface's size from its bounding box are refused


def check_geometry(path, points: np.ndarray, faces: np.ndarray) -> None:
    if len(points) == 0:
        raise MeshReadError(f"{path}: the mesh has no vertices: empty, corrupt or not a mesh file")
    if not np.isfinite(points).all():
        bad = int((~np.isfinite(points).all(1)).sum())
        raise MeshReadError(f"{path}: {bad} vertices have non-finite coordinates (NaN or Inf)")
    if len(faces) == 0:
        raise MeshReadError(f"{path}: no faces: a point cloud (or a set of lines) is not a surface mesh")
    if faces.min() < 0 or faces.max() >= len(points):
        raise MeshReadError(f"{path}: face indices out of range (0..{len(points) - 1})")
    largest = float(np.abs(points).max())
    if largest > MAX_COORDINATE:
        raise MeshReadError(f"{path}: coordinates reach {largest:.3g}, beyond {MAX_COORDINATE:.0e}: rescale the mesh")
    used = np.zeros(len(points), bool)
    used[faces.ravel()] = True
    lo, hi = points[used].min(0), points[used].max(0)
    size = float(np.linalg.norm(hi - lo))
    area = 0.5 * np.linalg.norm(np.cross(*(points[faces[:, 1:]] - points[faces[:, :1]]).transpose(1, 0, 2)), axis=1)
    if size == 0 or area.sum() <= MIN_AREA * size**2:
        raise MeshReadError(f"{path}: degenerate mesh: all {len(faces)} faces have zero area (no surface)")
    if not used.all():
        gap = np.linalg.norm(np.maximum(lo - points[~used], 0) + np.maximum(points[~used] - hi, 0), axis=1)
        if gap.max() > FAR * size:
            raise MeshReadError(
                f"{path}: {_far_words(int((gap > FAR * size).sum()))} far from the surface "
                f"(up to {gap.max():.3g} away; the surface is {size:.3g} across): remove them"
            )


def _far_words(n: int) -> str:
    return "1 vertex used by no face lies" if n == 1 else f"{n} vertices used by no face lie"
