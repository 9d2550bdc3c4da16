"""A lighter stand-in for a large mesh while it changes fast (playback, brush strokes): level of detail.

Every vertex of the stand-in is a vertex of the source (a decimation snapped to them, see
:func:`vertex_subset`): anything per vertex (positions along the geodesic, painted weights) is a plain index
away.
"""

from __future__ import annotations

import numpy as np
import pyvista as pv

from ..core.pyramid import nearest_vertex, quadric_decimation
from ..io.meshes import to_polydata


def set_points(mesh: pv.PolyData, points: np.ndarray) -> None:
    """Overwrite the coordinates of ``mesh`` in place (same number of points)."""
    mesh.points[:] = points
    mesh.GetPoints().Modified()


def set_point_values(mesh: pv.PolyData, name: str, values: np.ndarray) -> None:
    """Overwrite the point array ``name`` of ``mesh`` in place."""
    mesh.point_data[name][:] = values
    mesh.GetPointData().GetArray(name).Modified()


def vertex_subset(points: np.ndarray, faces: np.ndarray, max_points: int) -> tuple[np.ndarray, np.ndarray]:
    """(index, triangles): about ``max_points`` of the mesh's own vertices (``index`` into ``points``) and
    triangles over them (into ``index``): a quadric decimation (fast-simplification: 0.8 s at 200k vertices,
    where VTK's decimate_pro took 3.6 s of the GUI thread as a scan opened) whose vertices are snapped to the
    nearest vertex of the mesh; triangles that snapping folds are dropped."""
    coarse, coarse_faces = quadric_decimation(points, faces, max_points)
    corners = nearest_vertex(coarse, points)[coarse_faces]
    kept = (corners[:, 0] != corners[:, 1]) & (corners[:, 1] != corners[:, 2]) & (corners[:, 0] != corners[:, 2])
    index, triangles = np.unique(corners[kept], return_inverse=True)
    return index, triangles.reshape(-1, 3)


class VertexSubsetStandIn:
    def __init__(self, mesh: pv.PolyData, rest: np.ndarray, max_points: int):
        """``mesh``: the full PolyData (any frame; its point arrays are carried); ``rest``: its (N, 3) rest shape."""
        self.index, triangles = vertex_subset(rest, mesh.regular_faces, max_points)
        self.rest = rest[self.index]
        self.mesh = to_polydata(self.rest.copy(), triangles)  # its own points: frames overwrite them in place
        for name in mesh.point_data:  # carried, as the full mesh's
            self.mesh.point_data[name] = np.asarray(mesh.point_data[name])[self.index]

    def show_points(self, points: np.ndarray, displacement_name: str) -> None:
        """Full (N, 3) positions -> the stand-in's vertices, displacement included, in place."""
        mine = points[self.index]
        set_points(self.mesh, mine)
        set_point_values(self.mesh, displacement_name, np.linalg.norm(mine - self.rest, axis=1))

    def show_values(self, name: str, values: np.ndarray) -> None:
        """Full (N,) per-vertex values -> the stand-in's point array ``name``."""
        set_point_values(self.mesh, name, values[self.index])
