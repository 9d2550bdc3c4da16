"""A lighter stand-in for a large deformed mesh while the geodesic plays (level of detail).

vtkDecimatePro only removes vertices, so every vertex of the stand-in is a vertex of the source: its
positions at any time are a plain index into the full trajectory, no interpolation needed.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

PLAYBACK_MAX_POINTS = 20_000


class PlaybackProxy:
    def __init__(self, full_mesh, rest: np.ndarray, max_points: int = PLAYBACK_MAX_POINTS):
        """``full_mesh``: the source PolyData (any frame); ``rest``: its (N, 3) vertices at time 0."""
        reference = full_mesh.copy()
        reference.points = rest
        self.mesh = reference.decimate_pro(1 - max_points / reference.n_points, preserve_topology=True)
        gap, self.index = cKDTree(rest).query(np.asarray(self.mesh.points))
        if gap.max() > 1e-9 * max(float(np.ptp(rest)), 1.0):
            raise RuntimeError("decimation moved vertices: the playback stand-in cannot follow the frames")
        self.rest = rest[self.index]

    def show_points(self, points: np.ndarray, displacement_name: str) -> None:
        """Full (N, 3) positions -> the stand-in's vertices, displacement included, in place."""
        mine = points[self.index]
        self.mesh.points[:] = mine
        self.mesh.GetPoints().Modified()
        self.mesh.point_data[displacement_name][:] = np.linalg.norm(mine - self.rest, axis=1)
        self.mesh.GetPointData().GetArray(displacement_name).Modified()
