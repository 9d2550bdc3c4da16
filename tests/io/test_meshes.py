import numpy as np
import pytest
import pyvista as pv

from shapeviewer.io.meshes import MeshReadError, read_mesh, write_mesh
from tests.hostile.full_disk import full_disk_folder  # noqa: F401  (the full_disk fixture)


@pytest.mark.parametrize("suffix", [".ply", ".obj", ".stl", ".vtk", ".vtp"])
def test_formats_round_trip(tmp_path, human, suffix):
    path = tmp_path / f"m{suffix}"
    write_mesh(path, human.vertices, human.faces)
    back = read_mesh(path)
    assert back.faces.shape == human.faces.shape
    if suffix != ".stl":  # STL stores triangles, not shared vertices
        assert back.vertices.shape == human.vertices.shape
        assert np.allclose(back.vertices, human.vertices, atol=1e-5)


def test_off_with_quads_is_read_and_triangulated(tmp_path):
    path = tmp_path / "quad.off"
    path.write_text(
        "OFF\n# a square and a triangle\n5 2 0\n0 0 0\n1 0 0\n1 1 0\n0 1 0\n0.5 0.5 1\n4 0 1 2 3\n3 0 1 4\n"
    )
    mesh = read_mesh(path)
    assert mesh.vertices.shape == (5, 3) and mesh.faces.shape == (3, 3)


def test_polygons_from_vtk_formats_are_triangulated(tmp_path):
    cube = pv.Cube()  # six quads
    cube.save(tmp_path / "cube.vtp")
    assert read_mesh(tmp_path / "cube.vtp").faces.shape == (12, 3)


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("empty.ply", "", "the file is empty"),
        ("corrupt.ply", "ply\nformat ascii 1.0\nelement vertex 3\n@@@", "corrupt"),
        ("bad_index.off", "OFF\n3 1 0\n0 0 0\n1 0 0\n0 1 0\n3 0 1 7\n", "refers to vertex 7"),
        ("truncated.off", "OFF\n3 1 0\n0 0 0\n1 0\n", "malformed OFF"),
        ("nan.off", "OFF\n3 1 0\n0 0 0\nnan 0 0\n0 1 0\n3 0 1 2\n", "non-finite"),
        ("cloud.off", "OFF\n3 0 0\n0 0 0\n1 0 0\n0 1 0\n", "point cloud"),
    ],
)
def test_bad_files_name_the_file_and_the_problem(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(MeshReadError) as info:
        read_mesh(path)
    assert str(path) in str(info.value) and message in str(info.value)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(MeshReadError, match="no such file"):
        read_mesh(tmp_path / "absent.ply")
    with pytest.raises(MeshReadError, match="is a folder"):
        read_mesh(tmp_path)


def test_point_cloud_without_faces_is_refused(tmp_path):
    pv.PolyData(np.random.default_rng(0).random((10, 3))).save(tmp_path / "cloud.vtp")
    with pytest.raises(MeshReadError, match="point cloud"):
        read_mesh(tmp_path / "cloud.vtp")


def test_double_coordinates_far_from_the_origin_are_not_quantised(tmp_path, human):
    path = tmp_path / "offset.ply"
    write_mesh(path, human.vertices + 1e6, human.faces)
    back = read_mesh(path)
    assert back.vertices.dtype == np.float64
    np.testing.assert_array_equal(back.vertices, human.vertices + 1e6)


@pytest.mark.parametrize(
    "content, message",
    [
        ("OFF\n4 1 0\n0 0 0\n1 0 0\n0 1 0\n1e5 1e5 0\n3 0 1 2\n", "1 vertex used by no face lies far"),
        ("OFF\n3 1 0\n0 0 0\n1 1 1\n2 2 2\n3 0 1 2\n", "degenerate mesh"),
        ("OFF\n3 1 0\n0 0 0\n0 0 0\n0 0 0\n3 0 1 2\n", "degenerate mesh"),
    ],
)
def test_far_unused_vertices_and_degenerate_meshes_are_refused_as_meshes(tmp_path, content, message):
    path = tmp_path / "m.off"
    path.write_text(content)
    with pytest.raises(MeshReadError, match=message) as info:
        read_mesh(path)
    assert "kernel" not in str(info.value) and "mask" not in str(info.value)


@pytest.mark.parametrize("suffix", [".ply", ".vtk", ".vtp", ".stl"])
def test_a_file_cut_in_half_is_refused_not_read_smaller(tmp_path, human, suffix):
    path = tmp_path / f"m{suffix}"
    write_mesh(path, human.vertices, human.faces)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(MeshReadError) as info:
        read_mesh(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_vtk_errors_become_the_message(tmp_path):
    path = tmp_path / "bad.vtp"
    path.write_text('<?xml version="1.0"?>\n<VTKFile type="PolyData" version="0.1"><PolyData><Piece NumberOfPoints="3"')
    with pytest.raises(MeshReadError, match="bad.vtp"):
        read_mesh(path)


def test_a_full_disk_raises_instead_of_writing_a_short_file(full_disk, human):
    for suffix in (".vtp", ".ply", ".stl"):
        with pytest.raises(OSError):
            write_mesh(full_disk / f"m{suffix}", human.vertices, human.faces)
