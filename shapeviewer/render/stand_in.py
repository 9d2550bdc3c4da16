"""A lighter stand-in for a large mesh while it changes fast (playback, brush strokes): level of detail.

vtkDecimatePro only removes vertices, so every vertex of the stand-in is a vertex of the source:
anything per vertex (positions along the geodesic, painted weights) is a plain index away.
"""

from __future__ import annotations

import numpy as np
import pyvista as pv
from scipy.spatial import cKDTree


def set_points(mesh: pv.PolyData, points: np.ndarray) -> None:
    """Overwrite the coordinates of ``mesh`` in place (same number of points)."""
    mesh.points[:] = points
    mesh.GetPoints().Modified()


def set_point_values(mesh: pv.PolyData, name: str, values: np.ndarray) -> None:
    """Overwrite the point array ``name`` of ``mesh`` in place."""
    mesh.point_data[name][:] = values
    mesh.GetPointData().GetArray(name).Modified()


class VertexSubsetStandIn:
    def __init__(self, mesh: pv.PolyData, rest: np.ndarray, max_points: int):
        """``mesh``: the full PolyData (any frame; its point arrays are carried); ``rest``: its (N, 3) rest shape."""
        reference = mesh.copy()
        reference.points = rest
        self.mesh = reference.decimate_pro(1 - max_points / reference.n_points, preserve_topology=True)
        gap, self.index = cKDTree(rest).query(np.asarray(self.mesh.points))
        if gap.max() > 1e-9 * max(float(np.ptp(rest)), 1.0):
            raise RuntimeError("decimation moved vertices: the stand-in cannot follow the full mesh")
        self.rest = rest[self.index]

    def show_points(self, points: np.ndarray, displacement_name: str) -> None:
        """Full (N, 3) positions -> the stand-in's vertices, displacement included, in place."""
        mine = points[self.index]
        set_points(self.mesh, mine)
        set_point_values(self.mesh, displacement_name, np.linalg.norm(mine - self.rest, axis=1))

    def show_values(self, name: str, values: np.ndarray) -> None:
        """Full (N,) per-vertex values -> the stand-in's point array ``name``."""
        set_point_values(self.mesh, name, values[self.index])
