"""Broken result folders given to ``movie``: refused in one line, no movie written, the folder untouched."""

import json
import shutil

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shapeviewer.io.meshes import read_mesh, write_mesh
from tests.hostile.hostile import FAST, assert_refused, run


@pytest.fixture(scope="session")
def result(valid, tmp_path_factory):
    out = tmp_path_factory.mktemp("result") / "r"
    code, lines = run(["register", valid["source.ply"], valid["target.ply"], *FAST, "--out", out])
    assert code == 0, lines
    return out


def _frames(folder):
    return sorted((folder / "frames").iterdir())


def _json(folder, value):
    (folder / "result.json").write_text(json.dumps(value))


def _damage(case, folder, valid):
    frames = _frames(folder)
    info = json.loads((folder / "result.json").read_text())
    if case == "missing_frame":
        frames[1].unlink()
    elif case == "only_last_frame":
        for f in frames[:-1]:
            f.unlink()
    elif case == "single_frame":
        for f in frames[1:]:
            f.unlink()
    elif case == "extra_frame":
        shutil.copy(frames[-1], folder / "frames" / f"frame_{len(frames):03d}.vtp")
    elif case == "other_padding":
        for i, f in enumerate(frames):
            f.rename(f.with_name(f"frame_{i:05d}.vtp"))
    elif case == "stray_file":
        (folder / "frames" / "notes.txt").write_text("hi")
    elif case == "other_faces":
        mesh = read_mesh(frames[1])
        write_mesh(frames[1], mesh.vertices, mesh.faces[:, ::-1], {"displacement": mesh.vertices[:, 0] * 0})
    elif case == "other_mesh":
        other = read_mesh(valid["mesh.off"])
        write_mesh(frames[1], other.vertices[:-1], other.faces[other.faces.max(1) < len(other.vertices) - 1])
    elif case == "json_list":
        _json(folder, [1, 2])
    elif case == "json_null":
        _json(folder, None)
    elif case == "string_distance":
        _json(folder, {**info, "distance": "far"})
    elif case == "nan_distance":
        _json(folder, {**info, "distance": float("nan")})
    elif case == "steps_mismatch":
        _json(folder, {**info, "steps": 7})
    elif case == "json_garbage":
        (folder / "result.json").write_bytes(b"\xff\xfe{")
    elif case == "cut_frame":
        frames[1].write_bytes(frames[1].read_bytes()[:200])
    elif case == "cut_target":
        (folder / "target.vtp").write_bytes((folder / "target.vtp").read_bytes()[:300])
    elif case == "no_frames":
        shutil.rmtree(folder / "frames")
    elif case == "frames_is_file":
        shutil.rmtree(folder / "frames")
        (folder / "frames").write_text("x")


CASES = ["missing_frame", "only_last_frame", "single_frame", "extra_frame", "other_padding", "stray_file",
         "other_faces", "other_mesh", "json_list", "json_null", "string_distance", "nan_distance", "steps_mismatch",
         "json_garbage", "cut_frame", "cut_target", "no_frames", "frames_is_file"]  # fmt: skip


@pytest.mark.parametrize("case", CASES)
def test_a_broken_result_folder_gives_no_movie(result, valid, tmp_path, case):
    folder = tmp_path / "r"
    shutil.copytree(result, folder)
    _damage(case, folder, valid)
    out = tmp_path / "m.mp4"
    assert_refused(["movie", folder, "--out", out, "--size", "64x48"], out, [folder])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(garbage=st.binary(max_size=400), which=st.integers(0, 2))
def test_random_bytes_in_place_of_a_frame_give_no_movie(result, tmp_path_factory, garbage, which):
    folder = tmp_path_factory.mktemp("broken") / "r"
    shutil.copytree(result, folder)
    _frames(folder)[which].write_bytes(garbage)
    out = folder.parent / "m.gif"
    assert_refused(["movie", folder, "--out", out, "--size", "64x48"], out, [folder])
