"""Formats left to VTK (.vtp, .stl; io.meshes reads the rest): VTK errors become exceptions, never silence or zeros."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
import warnings
from pathlib import Path

import numpy as np

from .mesh_errors import MeshReadError


def _stl_size_check(path: Path, data: bytes) -> None:
    """A binary STL is 84 bytes + 50 per triangle: anything else is cut or corrupt."""
    if data[:5].lower() == b"solid" and b"facet" in data[:1000]:
        return  # ASCII STL
    if data[:5].lower() == b"solid" and len(data) < 84 and b"endsolid" in data.lower():
        raise MeshReadError(f"{path}: ASCII STL with no triangles (no 'facet' between 'solid' and 'endsolid')")
    n = int.from_bytes(data[80:84], "little") if len(data) >= 84 else -1
    if n < 0 or len(data) != 84 + 50 * n:
        raise MeshReadError(f"{path}: binary STL of {len(data)} bytes does not hold the triangles it declares (cut?)")


@contextlib.contextmanager
def _vtk_name(path: Path):
    """A path VTK can open: a copy under a plain name when the real one is not UTF-8."""
    try:
        os.fsencode(path).decode("utf-8")
        yield str(path)
        return
    except UnicodeDecodeError:
        pass
    with tempfile.TemporaryDirectory(prefix="shapeviewer-") as folder:
        copy = Path(folder) / f"mesh{path.suffix.lower()}"
        shutil.copyfile(path, copy)
        yield str(copy)


@contextlib.contextmanager
def _vtk_errors_raised():
    """VTK errors raised (not logged, not printed); pyvista's reader warnings caught for the message."""
    import pyvista as pv

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.CRITICAL)
    try:
        with (
            pv.vtk_verbosity("off"),
            warnings.catch_warnings(record=True) as caught,
            pv.VtkErrorCatcher(raise_errors=True, send_to_logging=False),
        ):
            warnings.simplefilter("always")
            yield
        said = [str(w.message).strip() for w in caught if "error" in str(w.message).lower()]
        if said:
            raise RuntimeError(said[0])
    finally:
        root.setLevel(level)


def read_with_vtk(path: Path, data: bytes):
    """(N, 3) float64 points and (M, 3) triangles, the first VTK error raised as MeshReadError."""
    import pyvista as pv

    if path.suffix.lower() == ".stl":
        _stl_size_check(path, data)
    try:
        with _vtk_name(path) as name, _vtk_errors_raised():
            mesh = pv.read(name)
            if isinstance(mesh, pv.MultiBlock):
                mesh = mesh.combine()
            if mesh is None or mesh.n_points == 0:
                raise MeshReadError(f"{path}: the mesh has no vertices: empty, corrupt or not a mesh file")
            surface = mesh if isinstance(mesh, pv.PolyData) else mesh.extract_surface(algorithm=None)
            points = np.array(surface.points, dtype=np.float64)
            tri = surface if surface.is_all_triangles else surface.triangulate()
            faces = np.asarray(tri.faces, dtype=np.int64).reshape(-1, 4)[:, 1:].copy()
    except MeshReadError:
        raise
    except Exception as exc:  # VTK and meshio raise many types for unreadable files
        text = str(exc).strip()
        first = text.splitlines()[-1].strip() if text else type(exc).__name__
        raise MeshReadError(f"{path}: cannot be read as a mesh ({first[:200]})") from None
    return points, faces


def read_point_array(path: Path, name: str) -> np.ndarray | None:
    """The point array ``name`` of a VTK-readable file (None when absent), VTK errors raised."""
    import pyvista as pv

    try:
        with _vtk_name(path) as vtk_name, _vtk_errors_raised():
            mesh = pv.read(vtk_name)
            values = mesh.point_data.get(name) if mesh is not None else None
            return None if values is None else np.array(values)
    except Exception as exc:  # VTK raises assorted types for damaged files
        text = str(exc).strip()
        first = text.splitlines()[-1].strip() if text else type(exc).__name__
        raise MeshReadError(f"cannot read mask {path}: {first[:200]}") from None
