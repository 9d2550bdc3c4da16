"""Damaged mesh files of every format, generated: cut at every fraction, random tails, lying headers."""

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from shapeviewer.io.meshes import MeshReadError, read_mesh
from tests.hostile.hostile import FAST, assert_refused

FORMATS = [
    "source.ply", "ascii.ply", "big_endian.ply", "v51.vtk", "v51_ascii.vtk", "v42.vtk", "v42_ascii.vtk",
    "mesh.vtp", "mesh.stl", "mesh.off", "mesh.obj",
]  # fmt: skip
CUTS = 30  # fractions k / CUTS of each file, plus the last byte


def _register(bad, target, out):
    return ["register", bad, target, *FAST, "--out", out]


def _cuts(data: bytes, name: str) -> list[int]:
    cuts = {len(data) * k // CUTS for k in range(CUTS)} | {len(data) - 1}
    if data.endswith(b"\n"):
        cuts.discard(len(data) - 1)  # without its final line break the file is still whole
    if name.endswith(".obj"):  # OBJ declares no counts: only a cut inside a line can be seen
        cuts = {c for c in cuts if data[c - 1 : c] != b"\n"}
    if name.endswith(".vtk"):  # point and cell data are optional: a cut just before them leaves a whole file
        cuts = {c for c in cuts if not data[c:].lstrip().startswith((b"POINT_DATA", b"CELL_DATA"))}
    return sorted(cuts)


def test_the_valid_files_are_read_alike(valid):
    meshes = [read_mesh(valid[name]) for name in FORMATS]
    assert {m.n_vertices for m in meshes} == {50} and {len(m.faces) for m in meshes} == {96}
    for name, mesh in zip(FORMATS, meshes, strict=True):
        order = np.lexsort(mesh.vertices.T) if name.endswith(".stl") else slice(None)  # STL merges its points anew
        expected = meshes[0].vertices[np.lexsort(meshes[0].vertices.T)] if name.endswith(".stl") else meshes[0].vertices
        np.testing.assert_allclose(mesh.vertices[order], expected, atol=1e-6)


@pytest.mark.parametrize("name", FORMATS)
def test_a_file_cut_anywhere_is_refused(valid, tmp_path, name):
    data = valid[name].read_bytes()
    for cut in _cuts(data, name):
        bad = tmp_path / f"cut{valid[name].suffix}"
        bad.write_bytes(data[:cut])
        assert_refused(
            _register(bad, valid["target.ply"], tmp_path / "out"), tmp_path / "out", [bad, valid["target.ply"]]
        )


@pytest.mark.parametrize("name", FORMATS)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(keep=st.floats(0, 1), tail=st.binary(max_size=600))
def test_a_valid_start_and_random_bytes_are_refused(valid, tmp_path, name, keep, tail):
    data = valid[name].read_bytes()
    bad = tmp_path / f"random{valid[name].suffix}"
    bad.write_bytes(data[: int(keep * len(data))] + tail)
    try:
        read_mesh(bad)
        assume(False)  # the bytes happen to form a valid mesh: nothing to refuse
    except MeshReadError:
        pass
    assert_refused(_register(valid["source.ply"], bad, tmp_path / "out"), tmp_path / "out", [bad])


def _ply(header_lines: list[str], body: bytes = b"") -> bytes:
    return ("ply\n" + "\n".join(header_lines) + "\nend_header\n").encode() + body


FACE = ["element face 1", "property list uchar int vertex_indices"]
XYZ = ["property float x", "property float y", "property float z"]
LIES = {
    "huge_count.ply": (_ply(["format binary_little_endian 1.0", "element vertex 1000000000000", *XYZ, *FACE]), "bytes"),
    "random_header.ply": (b"ply\n" + bytes(range(256)) * 3 + b"\nend_header\n", "PLY"),
    "no_format.ply": (_ply(["element vertex 3", *XYZ]), "format"),
    "no_xyz.ply": (_ply(["format ascii 1.0", "element vertex 1", "property float q"], b"1\n"), "x, y, z"),
    "float_count.ply": (
        _ply(["format ascii 1.0", "element vertex 0", "element face 0", "property list float int vertex_indices"]),
        "type",
    ),  # fmt: skip
    "huge_list.ply": (
        _ply(["format ascii 1.0", "element vertex 3", *XYZ, *FACE], b"0 0 0\n1 0 0\n0 1 0\n200 0 1 2\n"),
        "face",
    ),  # fmt: skip
    "fake_face.ply": (
        _ply(
            ["format ascii 1.0", "element vertex 3", *XYZ, "element face 2", FACE[1]], b"0 0 0\n1 0 0\n0 1 0\n3 0 1 2\n"
        ),
        "truncated",
    ),  # fmt: skip
    "extra_values.ply": (
        _ply(["format ascii 1.0", "element vertex 3", *XYZ, *FACE], b"0 0 0\n1 0 0\n0 1 0\n3 0 1 2\n7 7 7\n"),
        "more than",
    ),  # fmt: skip
    "fraction_index.ply": (
        _ply(["format ascii 1.0", "element vertex 3", *XYZ, *FACE], b"0 0 0\n1 0 0\n0 1 0\n3 0 1 1.5\n"),
        "fractional",
    ),  # fmt: skip
    "huge.vtk": (b"# vtk DataFile Version 3.0\nx\nBINARY\nDATASET POLYDATA\nPOINTS 1000000000000 float\n", "POINTS"),
    "grid.vtk": (b"# vtk DataFile Version 3.0\nx\nASCII\nDATASET STRUCTURED_POINTS\n", "POLYDATA"),
    "huge.off": (b"OFF\n1000000000000 1 0\n0 0 0\n", "truncated"),
    "huge.stl": (b"\0" * 80 + (10**9).to_bytes(4, "little") + b"\0" * 50, "STL"),
    "no_facets.stl": (b"solid x\nendsolid x\n", "ASCII STL with no triangles"),
    "text.vtp": (b"<VTKFile type='PolyData'>" + b"x" * 100, "mesh"),
    "flat.off": (b"OFF\n3 1 0\n0 0 0\n1 0 0\n2 0 0\n3 0 1 2\n", "degenerate"),
    "far.off": (b"OFF\n4 1 0\n0 0 0\n1 0 0\n0 1 0\n1e6 0 0\n3 0 1 2\n", "used by no face"),
    "huge_coordinates.off": (b"OFF\n3 1 0\n0 0 0\n1e300 0 0\n0 1e300 0\n3 0 1 2\n", "rescale"),
    "lines.off": (b"OFF\n3 1 0\n0 0 0\n1 0 0\n0 1 0\n2 0 1\n", "no faces"),
    "negative.off": (b"OFF\n3 1 0\n0 0 0\n1 0 0\n0 1 0\n3 0 1 -2\n", "negative"),
    "empty.ply": (b"", "empty"),
}


@pytest.mark.parametrize("name", sorted(LIES))
def test_lying_or_degenerate_files_are_refused_with_a_message_about_the_mesh(valid, tmp_path, name):
    content, mention = LIES[name]
    bad = tmp_path / name
    bad.write_bytes(content)
    line = assert_refused(_register(bad, valid["target.ply"], tmp_path / "o"), tmp_path / "o", [bad], mention)
    assert name in line and "kernel" not in line and "mask" not in line


def test_double_coordinates_stay_double(tmp_path, valid):
    mesh = read_mesh(valid["big_endian.ply"])
    shifted = tmp_path / "shifted.ply"
    from shapeviewer.io.meshes import write_mesh

    write_mesh(shifted, mesh.vertices + 1e6 + 1e-7, mesh.faces)
    back = read_mesh(shifted)
    assert back.vertices.dtype == np.float64
    np.testing.assert_array_equal(back.vertices, mesh.vertices + 1e6 + 1e-7)


def test_a_name_that_is_not_utf8_is_read(tmp_path, valid):
    import os

    for name in ("source.ply", "mesh.vtp", "mesh.stl"):
        odd = os.path.join(os.fsencode(tmp_path), b"m\xff\xfe" + os.fsencode(valid[name].suffix))
        with open(odd, "wb") as f:
            f.write(valid[name].read_bytes())
        assert read_mesh(os.fsdecode(odd)).n_vertices == 50
