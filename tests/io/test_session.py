"""Session files: round trip, and every kind of bad file refused with a message naming it."""

import io
import json
import zipfile
from dataclasses import asdict

import numpy as np
import pytest

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
    session.mask = np.ones(3)
    (tmp_path / "m.svsession").write_bytes(session_bytes(session))
    with pytest.raises(SessionReadError, match="mask has"):
        read_session(tmp_path / "m.svsession")
