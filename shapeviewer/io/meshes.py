"""Reading and writing triangle meshes through pyvista (PLY, OBJ, STL, VTK, VTP, OFF, ...)."""

from __future__ import annotations

import contextlib
import logging
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np


class MeshReadError(ValueError):
    """A mesh file that cannot be used; the message names the file and the problem."""


@dataclass
class Mesh:
    vertices: np.ndarray  # (N, 3) float64
    faces: np.ndarray  # (M, 3) int64
    name: str = ""

    @property
    def n_vertices(self) -> int:
        return len(self.vertices)


def _read_off(path: Path):
    """Minimal OFF reader (pyvista/VTK has none): vertices and polygon faces."""
    import pyvista as pv

    words = [ln.split("#")[0].split() for ln in path.read_text(errors="replace").splitlines()]
    tokens = [w for line in words for w in line]
    if not tokens or not tokens[0].endswith("OFF"):
        raise MeshReadError(f"{path}: not an OFF file (no 'OFF' header)")
    tokens = tokens[1:] if tokens[0] == "OFF" else [tokens[0][:-3], *tokens[1:]] if tokens[0][:-3] else tokens[1:]
    try:
        nv, nf = int(tokens[0]), int(tokens[1])
        pos = 3
        verts = np.array(tokens[pos : pos + 3 * nv], dtype=float).reshape(nv, 3)
        pos += 3 * nv
        cells = []
        for _ in range(nf):
            k = int(tokens[pos])
            cells.append([k, *map(int, tokens[pos + 1 : pos + 1 + k])])
            if len(cells[-1]) != k + 1:
                raise ValueError("truncated face list")
            pos += k + 1
    except (ValueError, IndexError) as exc:
        raise MeshReadError(f"{path}: malformed OFF file ({exc})") from exc
    flat = np.concatenate([np.asarray(c) for c in cells]) if cells else np.zeros(0, int)
    if flat.size and (flat.min() < 0):
        raise MeshReadError(f"{path}: negative vertex index in the face list")
    _check_indices(path, cells, nv)
    return pv.PolyData(verts, flat) if cells else pv.PolyData(verts)


@contextlib.contextmanager
def _quiet_logging():
    """VTK's error observer logs through the root logger; keep it off the terminal while reading."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        root.setLevel(level)


def _check_indices(path, cells, nv):
    for c in cells:
        if max(c[1:], default=0) >= nv:
            raise MeshReadError(f"{path}: a face refers to vertex {max(c[1:])}, but the file has only {nv} vertices")


def read_mesh(path: str | os.PathLike) -> Mesh:
    """Read a surface mesh, triangulated; raise MeshReadError naming the file and the problem."""
    import pyvista as pv

    path = Path(path)
    if not path.exists():
        raise MeshReadError(f"{path}: no such file")
    if path.is_dir():
        raise MeshReadError(f"{path}: is a folder, not a mesh file")
    if path.stat().st_size == 0:
        raise MeshReadError(f"{path}: the file is empty")
    reader_said = ""
    try:
        if path.suffix.lower() == ".off":
            data = _read_off(path)
        else:
            with pv.vtk_verbosity("off"), warnings.catch_warnings(record=True) as caught, _quiet_logging():
                warnings.simplefilter("always")
                data = pv.read(path)
            reader_said = next((str(w.message).strip().splitlines()[0] for w in caught), "")
    except MeshReadError:
        raise
    except Exception as exc:  # VTK and meshio raise many types for unreadable files
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise MeshReadError(f"{path}: cannot be read as a mesh ({first})") from exc
    if isinstance(data, pv.MultiBlock):
        data = data.combine()
    if data is None or data.n_points == 0:
        detail = f" ({reader_said})" if reader_said else ""
        raise MeshReadError(f"{path}: the mesh has no vertices: empty, corrupt or not a mesh file{detail}")
    surface = data.extract_surface(algorithm=None) if not isinstance(data, pv.PolyData) else data
    points = np.array(surface.points, dtype=np.float64)
    if not np.isfinite(points).all():
        bad = int((~np.isfinite(points).all(1)).sum())
        raise MeshReadError(f"{path}: {bad} vertices have non-finite coordinates (NaN or Inf)")
    faces = _triangles(surface if surface.is_all_triangles else surface.triangulate())
    if len(faces) == 0:
        raise MeshReadError(f"{path}: no faces: a point cloud (or a set of lines) is not a surface mesh")
    if faces.max() >= len(points) or faces.min() < 0:
        raise MeshReadError(f"{path}: face indices out of range (0..{len(points) - 1})")
    return Mesh(points, faces, path.name)


def _triangles(poly) -> np.ndarray:
    """(M, 3) triangles of a triangulated PolyData; its faces array holds polygons only."""
    return np.asarray(poly.faces, dtype=np.int64).reshape(-1, 4)[:, 1:].copy()  # own it: VTK buffers are read-only


def to_polydata(vertices: np.ndarray, faces: np.ndarray):
    import pyvista as pv

    cells = np.hstack([np.full((len(faces), 1), 3), faces]).astype(np.int64).ravel()
    return pv.PolyData(np.asarray(vertices, dtype=np.float64), cells)


def write_mesh(path: str | os.PathLike, vertices: np.ndarray, faces: np.ndarray, point_data: dict | None = None):
    """Write a triangle mesh; the format follows the suffix (.vtp, .ply, .obj, .stl, .vtk)."""
    poly = to_polydata(vertices, faces)
    for name, values in (point_data or {}).items():
        poly.point_data[name] = np.asarray(values)
    poly.save(str(path))
