"""Reading and writing triangle meshes (PLY, OFF, OBJ, legacy VTK, VTP, STL, ...).

Readers that VTK gets wrong (crashes on cut PLY files, zero-filled legacy VTK, float32 PLY
coordinates) are the project's own, checking every declared size against the file; the rest go
through VTK with its errors raised. Every mesh then passes the same geometric checks.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .atomic import write_bytes
from .legacy_vtk import read_legacy_vtk
from .mesh_checks import check_geometry
from .mesh_errors import MeshReadError
from .ply import ply_bytes, read_ply
from .polygons import triangles
from .text_meshes import read_obj, read_off
from .vtk_reader import read_with_vtk

__all__ = ["Mesh", "MeshReadError", "read_mesh", "to_polydata", "write_mesh"]

MAX_FILE_BYTES = 2 * 2**30  # a mesh file larger than this is refused before it is read into memory
OWN_READERS = {".ply": read_ply, ".off": read_off, ".obj": read_obj, ".vtk": read_legacy_vtk}
READABLE_SUFFIXES = (".ply", ".obj", ".stl", ".vtk", ".vtp", ".off")  # the rest by VTK: .stl, .vtp


@dataclass
class Mesh:
    vertices: np.ndarray  # (N, 3) float64
    faces: np.ndarray  # (M, 3) int64
    name: str = ""

    @property
    def n_vertices(self) -> int:
        return len(self.vertices)


def _file_bytes(path: Path) -> bytes:
    if not path.exists():
        raise MeshReadError(f"{path}: no such file")
    if path.is_dir():
        raise MeshReadError(f"{path}: is a folder, not a mesh file")
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise MeshReadError(f"{path}: {size / 2**30:.1f} GiB is larger than a mesh file can be here (2 GiB)")
        data = path.read_bytes()
    except OSError as exc:
        raise MeshReadError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if not data:
        raise MeshReadError(f"{path}: the file is empty")
    return data


def read_mesh(path: str | os.PathLike) -> Mesh:
    """Read a surface mesh, triangulated; raise MeshReadError naming the file and the problem."""
    path = Path(path)
    data = _file_bytes(path)  # first: a missing file or a folder is said as such
    if path.suffix.lower() not in READABLE_SUFFIXES:  # pyvista would guess, and fail in its own words
        kind = f"a {path.suffix} file" if path.suffix else "a file without an extension"
        raise MeshReadError(f"{path}: {kind} is not a mesh format read here ({', '.join(READABLE_SUFFIXES)})")
    reader = OWN_READERS.get(path.suffix.lower())
    if reader is not None:
        try:
            points, polygons = reader(path, data)
        except (MemoryError, OverflowError):
            raise MeshReadError(f"{path}: declares more data than can be read (corrupt)") from None
        faces = polygons if isinstance(polygons, np.ndarray) else triangles(path, *polygons, len(points))
    else:
        points, faces = read_with_vtk(path, data)
    check_geometry(path, points, faces)
    return Mesh(np.ascontiguousarray(points, dtype=np.float64), np.ascontiguousarray(faces, dtype=np.int64), path.name)


def to_polydata(vertices: np.ndarray, faces: np.ndarray):
    import pyvista as pv

    cells = np.hstack([np.full((len(faces), 1), 3), faces]).astype(np.int64).ravel()
    return pv.PolyData(np.asarray(vertices, dtype=np.float64), cells)


def _vtp_bytes(poly) -> bytes:
    import vtk

    writer = vtk.vtkXMLPolyDataWriter()
    writer.SetInputData(poly)
    writer.SetDataModeToBinary()  # base64 inside the XML: the output string is plain ASCII
    writer.WriteToOutputStringOn()
    if not writer.Write():
        raise OSError("VTK could not encode the mesh as .vtp")
    return writer.GetOutputString().encode("ascii")


def _vtk_bytes(poly, suffix: str) -> bytes:
    """Other formats: VTK writes into a private temporary folder, which is read back whole."""
    import pyvista as pv

    with tempfile.TemporaryDirectory(prefix="shapeviewer-") as folder:
        tmp = Path(folder) / f"mesh{suffix}"
        with pv.VtkErrorCatcher(raise_errors=True, send_to_logging=False):
            poly.save(str(tmp))
        return tmp.read_bytes()


def write_mesh(path: str | os.PathLike, vertices: np.ndarray, faces: np.ndarray, point_data: dict | None = None):
    """Write a triangle mesh; the format follows the suffix (.vtp, .ply, .obj, .stl, .vtk).

    Every byte goes through one checked, synced write: a full disk raises OSError, never a short file.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".ply":  # point data as extra vertex properties (VTK's writer drops them)
        write_bytes(path, ply_bytes(vertices, faces, point_data))
        return
    poly = to_polydata(vertices, faces)
    for name, values in (point_data or {}).items():
        poly.point_data[name] = np.asarray(values)
    write_bytes(path, _vtp_bytes(poly) if suffix == ".vtp" else _vtk_bytes(poly, suffix))
