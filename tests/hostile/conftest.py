"""Fixtures of the hostile-input suite: tiny valid inputs in every format, and a full disk."""

import numpy as np
import pytest
import pyvista as pv

from shapeviewer.io.demo import make_demo_pair
from shapeviewer.io.meshes import write_mesh
from tests.hostile.full_disk import full_disk_folder  # noqa: F401  (the full_disk fixture)
from tests.hostile.hostile import CASES


def pytest_terminal_summary(terminalreporter):
    if CASES:
        per_class = ", ".join(f"{name}: {n}" for name, n in sorted(CASES.items()))
        terminalreporter.write_line(f"hostile cases checked: {sum(CASES.values())} ({per_class})")


def _legacy(path, poly, version: int, binary: bool):
    import vtk

    writer = vtk.vtkPolyDataWriter()
    writer.SetInputData(poly)
    writer.SetFileName(str(path))
    writer.SetFileVersion(version)
    writer.SetFileTypeToBinary() if binary else writer.SetFileTypeToASCII()
    writer.Write()


@pytest.fixture(scope="session")
def valid(tmp_path_factory):
    """name -> path of a small valid mesh (58 vertices) in each format the readers take, and its pair."""
    folder = tmp_path_factory.mktemp("valid")
    source, target = make_demo_pair(resolution=8)
    files = {"source.ply": source, "target.ply": target}
    for name, mesh in files.items():
        write_mesh(folder / name, mesh.vertices, mesh.faces)
    poly = pv.PolyData(source.vertices, np.hstack([np.full((len(source.faces), 1), 3), source.faces]).ravel())
    poly.save(folder / "ascii.ply", binary=False)
    poly.save(folder / "big_endian.ply", binary=True)  # pyvista writes little-endian; rewritten below
    _big_endian_ply(folder / "big_endian.ply", source)
    _legacy(folder / "v51.vtk", poly, 51, True)
    _legacy(folder / "v51_ascii.vtk", poly, 51, False)
    _legacy(folder / "v42.vtk", poly, 42, True)
    _legacy(folder / "v42_ascii.vtk", poly, 42, False)
    poly.save(folder / "mesh.vtp")
    poly.save(folder / "mesh.stl")
    write_mesh(folder / "mesh.obj", source.vertices, source.faces)
    lines = [f"{x:.17g} {y:.17g} {z:.17g}" for x, y, z in source.vertices] + [
        f"3 {a} {b} {c}" for a, b, c in source.faces
    ]
    (folder / "mesh.off").write_text(f"OFF\n{len(source.vertices)} {len(source.faces)} 0\n" + "\n".join(lines) + "\n")
    paths = {p.name: p for p in folder.iterdir()}
    return paths


def _big_endian_ply(path, mesh):
    header = (
        f"ply\nformat binary_big_endian 1.0\nelement vertex {len(mesh.vertices)}\nproperty double x\n"
        f"property double y\nproperty double z\nelement face {len(mesh.faces)}\n"
        "property list uchar int vertex_indices\nend_header\n"
    )
    rows = np.zeros(len(mesh.faces), dtype=[("n", "u1"), ("i", ">i4", 3)])
    rows["n"], rows["i"] = 3, mesh.faces
    path.write_bytes(header.encode() + mesh.vertices.astype(">f8").tobytes() + rows.tobytes())
