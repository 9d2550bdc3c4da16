"""Session files: round trip, and every kind of bad file refused with a message naming it."""

import io
import json
import zipfile
from dataclasses import asdict

import numpy as np
import pytest
from test_session_forge import with_arrays, zip_of

from shapeviewer.core.registration import RegistrationSettings
from shapeviewer.io.demo import make_demo_pair
from shapeviewer.io.session import (
    Session,
    SessionReadError,
    SessionResult,
    read_session,
    session_bytes,
    settings_from_dict,
)


@pytest.fixture
def session():
    source, target = make_demo_pair(resolution=8)
    settings = RegistrationSettings(iterations=7)
    settings.model.kernel = "gaussian(0.3)"
    settings.model.sinkhorn.iterations = 2
    traj = np.stack([source.vertices + 0.1 * t for t in range(4)])
    result = SessionResult(
        traj,
        np.ones((len(source.vertices), 3)),
        "cancelled",
        5,
        0.2,
        0.1,
        0.05,
        {"backend": "torch"},
        {"iteration": [0, 1], "loss": [1.0, 0.5]},
    )
    mask = np.linspace(0, 1, source.n_vertices)
    return Session(source, target, asdict(settings), mask, result, frame=2)


def test_round_trip_keeps_everything(tmp_path, session):
    path = tmp_path / "s.svsession"
    path.write_bytes(session_bytes(session))
    back = read_session(path)
    np.testing.assert_array_equal(back.source.vertices, session.source.vertices)
    np.testing.assert_array_equal(back.target.faces, session.target.faces)
    np.testing.assert_array_equal(back.mask, session.mask)
    np.testing.assert_array_equal(back.result.trajectory, session.result.trajectory)
    assert back.result.status == "cancelled" and back.result.history["loss"] == [1.0, 0.5]
    assert back.frame == 2 and back.source.name == session.source.name
    assert settings_from_dict(back.settings) == settings_from_dict(session.settings)
    assert settings_from_dict(back.settings).model.sinkhorn.iterations == 2


def _rewrite(data: bytes, member: str, content: bytes) -> bytes:
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for item in src.namelist():
            z.writestr(item, content if item == member else src.read(item))
    return out.getvalue()


def test_bad_files_are_refused_with_their_name(tmp_path, session):
    good = session_bytes(session)
    meta = json.loads(zipfile.ZipFile(io.BytesIO(good)).read("session.json"))
    cases = {
        "garbage.svsession": (b"not a zip at all", "not a shapeviewer session or is truncated"),
        "truncated.svsession": (good[: len(good) // 2], "truncated"),
        "newer.svsession": (
            _rewrite(good, "session.json", json.dumps({**meta, "version": 99}).encode()),
            r"newer shapeviewer \(session format 99",
        ),
        "foreign.svsession": (_rewrite(good, "session.json", b'{"format": "other"}'), "not a shapeviewer session"),
    }
    for name, (data, message) in cases.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(SessionReadError, match=message) as err:
            read_session(tmp_path / name)
        assert name in str(err.value)
    with pytest.raises(SessionReadError, match="does not exist"):
        read_session(tmp_path / "missing.svsession")


def test_a_mask_of_the_wrong_length_is_refused(tmp_path, session):
    good = session_bytes(session)
    (tmp_path / "m.svsession").write_bytes(with_arrays(good, mask=np.ones(3)))
    with pytest.raises(SessionReadError, match="mask has"):
        read_session(tmp_path / "m.svsession")
    session.mask = np.ones(3)
    with pytest.raises(ValueError, match="cannot save the session: the mask has"):
        session_bytes(session)  # the writer refuses what would not reopen


def _version1_bytes(s: Session) -> bytes:
    """What the version 1 writer produced: no camera, paths, control indices or levels."""
    arrays = {
        "source_vertices": s.source.vertices, "source_faces": s.source.faces,
        "target_vertices": s.target.vertices, "target_faces": s.target.faces, "mask": s.mask,
        "trajectory": s.result.trajectory, "momenta": s.result.momenta,
    }  # fmt: skip
    r = s.result
    result = {"status": r.status, "iteration": r.iteration, "loss": r.loss, "fidelity": r.fidelity}
    result |= {"energy": r.energy, "info": r.info, "history": r.history}
    meta = {
        "format": "shapeviewer-session", "version": 1, "settings": s.settings, "frame": s.frame,
        "source_name": s.source.name, "target_name": s.target.name, "result": result,
    }  # fmt: skip
    npz = io.BytesIO()
    np.savez_compressed(npz, **arrays)
    return zip_of({"session.json": json.dumps(meta, indent=1).encode(), "arrays.npz": npz.getvalue()})


def test_a_version_1_file_still_opens(tmp_path, session):
    (tmp_path / "v1.svsession").write_bytes(_version1_bytes(session))
    back = read_session(tmp_path / "v1.svsession")
    np.testing.assert_array_equal(back.result.momenta, session.result.momenta)
    assert back.frame == 2 and back.result.history == session.result.history
    assert back.camera is None and back.source_path is None and back.result.control_index is None
    assert back.result.levels is None
    session.result.momenta = session.result.momenta[:7]  # momenta on control points of unknown index
    (tmp_path / "v1c.svsession").write_bytes(_version1_bytes(session))
    assert read_session(tmp_path / "v1c.svsession").result.momenta.shape == (7, 3)


def _reopened(tmp_path, session) -> Session:
    (tmp_path / "r.svsession").write_bytes(session_bytes(session))
    return read_session(tmp_path / "r.svsession")


def test_camera_round_trip(tmp_path, session):
    session.camera = [(4, 3.5, 2), (0.1, 0, 0), np.array([0, 0, 1.0])]
    assert _reopened(tmp_path, session).camera == [(4.0, 3.5, 2.0), (0.1, 0.0, 0.0), (0.0, 0.0, 1.0)]
    session.camera = [(np.inf, 0, 0), (0, 0, 0), (0, 0, 1)]
    with pytest.raises(ValueError, match="camera"):
        session_bytes(session)


def test_control_index_round_trip(tmp_path, session):
    session.result.control_index = np.array([0, 5, 9])
    session.result.momenta = np.full((3, 3), 0.5)
    back = _reopened(tmp_path, session).result
    np.testing.assert_array_equal(back.control_index, [0, 5, 9])
    assert back.control_index.dtype == np.int64 and back.momenta.shape == (3, 3)
    for bad, message in [([0, 5], "momenta have shape"), ([0, 5, 5], "repeat"), ([0, 5, 99], "outside")]:
        session.result.control_index = np.array(bad)
        with pytest.raises(ValueError, match=message):
            session_bytes(session)


def test_levels_and_paths_round_trip(tmp_path, session):
    session.result.levels = [{"source_vertices": 10, "run": False}, {"source_vertices": 50, "run": True}]
    session.source_path, session.target_path = "/data/é source.ply", None
    back = _reopened(tmp_path, session)
    assert back.result.levels == session.result.levels
    assert back.source_path == "/data/é source.ply" and back.target_path is None


def test_the_history_of_a_multi_level_run_round_trips(tmp_path, session):
    """What a coarse-to-fine run leaves (every scan above the single-level size): saving, and autosave, refused it."""
    from shapeviewer.document.history import LevelStart, LossHistory

    series = {name: [1.0, 0.5, 0.25] for name in ("loss", "fidelity", "energy", "landmarks")}
    history = LossHistory([0, 1, 2], series, [LevelStart(0, 1, 1601), LevelStart(2, 2, 8001)])
    session.result.history = history.as_dict()
    back = _reopened(tmp_path, session).result.history
    assert back["levels"] == [[0, 1, 1601], [2, 2, 8001]]
    assert LossHistory.from_dict(back).level_starts == history.level_starts
    session.result.history["levels"] = [[0, 1]]
    with pytest.raises(ValueError, match="'levels' is not a list of \\[iteration, level, vertices\\]"):
        session_bytes(session)


def test_settings_with_unknown_keys_are_a_clear_error(session):
    with pytest.raises(SessionReadError, match="unknown keys: colour"):
        settings_from_dict({**session.settings, "colour": 3})
    with pytest.raises(SessionReadError, match=r"settings\.model has unknown keys: warp"):
        settings_from_dict({"model": {"warp": 1}})
    with pytest.raises(SessionReadError, match=r"settings\.iterations"):
        settings_from_dict({"iterations": "many"})


def test_landmarks_alignment_and_layers_round_trip_and_bad_ones_are_named(tmp_path, session):
    from shapeviewer.core.alignment import RigidTransform

    turn = RigidTransform(np.array([[0.0, -1, 0], [1, 0, 0], [0, 0, 1]]), np.array([1.0, 2, 3]), 1.5, "similarity")
    session.landmarks = {"source": {"1": [0.1, 0.2, 0.3], "nasion": [1, 2, 3]}, "target": {"1": [0, 0, 1]}}
    session.alignment = turn.to_json()
    session.layers = {"target": {"visible": False, "opacity": 0.4}}
    session.result.landmark_trajectory = np.zeros((4, 2, 3))
    back = _reopened(tmp_path, session)
    assert back.landmarks["source"]["nasion"] == [1.0, 2.0, 3.0] and back.landmarks["target"] == {"1": [0.0, 0.0, 1.0]}
    assert RigidTransform.from_json(back.alignment) == turn
    assert back.layers == session.layers
    assert back.result.landmark_trajectory.shape == (4, 2, 3)
    for field, bad, message in [
        ("landmarks", {"source": {"1": [0, "x", 1]}}, "source landmark '1' is not three finite numbers"),
        ("landmarks", {"left": {}}, "unknown keys: left"),
        ("alignment", {"matrix": [[1, 0], [0, 1]]}, "4x4"),
        ("alignment", {"matrix": np.diag([-1.0, 1, 1, 1]).tolist()}, "mirrors"),
    ]:
        good = getattr(session, field)
        setattr(session, field, bad)
        with pytest.raises(ValueError, match=message):
            session_bytes(session)
        setattr(session, field, good)
    session.result.landmark_trajectory = np.zeros((3, 2, 3))
    with pytest.raises(ValueError, match="landmark trajectory has shape"):
        session_bytes(session)


def test_a_mesh_opened_as_a_session_is_named_as_a_mesh(tmp_path):
    from shapeviewer.io.meshes import write_mesh

    source, _ = make_demo_pair(resolution=6)
    for suffix, kind in ((".ply", "PLY mesh"), (".stl", "STL mesh"), (".vtp", "XML file"), (".obj", "OBJ mesh")):
        path = tmp_path / f"shape{suffix}"
        write_mesh(path, source.vertices, source.faces)
        with pytest.raises(SessionReadError, match=f"it looks like an? {kind}.*; open meshes with File > Open source"):
            read_session(path)
