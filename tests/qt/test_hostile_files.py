"""Corrupt meshes, masks and sessions opened through the window: a dialog that names the file, and
nothing changes (meshes, mask, result, document)."""

import numpy as np
import pytest
from gui_helpers import quick_settings, run_to_end

from shapeviewer.qt.mask_actions import load_mask_file


def _mesh_cases(small_pair, tmp_path):
    good = small_pair[0].read_bytes()
    header_end = good.index(b"end_header") + len(b"end_header\n")
    rng = np.random.default_rng(3)
    return {
        "half.ply": good[: len(good) // 2],
        "last-byte-missing.ply": good[:-1],
        "random-header.ply": rng.bytes(200) + good[header_end:],
        "huge-count.ply": good[:header_end].replace(b"element vertex", b"element vertex 1000000000000 x", 1),
        "empty.ply": b"",
        "random.vtk": rng.bytes(4000),
        "text.obj": b"this is not a mesh\n",
    }


@pytest.fixture
def registered(window, qtbot):
    quick_settings(window, iterations=2, steps=4)
    run_to_end(qtbot, window)
    return window


def _state(window):
    doc = window.doc
    return (doc.meshes["source"], doc.meshes["target"], doc.result, None if doc.mask is None else doc.mask.copy())


def _unchanged(window, before) -> None:
    after = _state(window)
    assert after[0] is before[0] and after[1] is before[1] and after[2] is before[2]
    if before[3] is None:
        assert after[3] is None
    else:
        np.testing.assert_array_equal(after[3], before[3])


def test_corrupt_meshes_give_a_dialog_and_change_nothing(registered, small_pair, tmp_path):
    window = registered
    for name, data in _mesh_cases(small_pair, tmp_path).items():
        path = tmp_path / name
        path.write_bytes(data)
        before = _state(window)
        for role in ("source", "target"):
            window.last_dialog = None
            assert not window.load_mesh(role, path), name
            assert window.last_dialog is not None and name in window.last_dialog.text(), name
            window.last_dialog.close()
            _unchanged(window, before)


def test_corrupt_masks_give_a_dialog_and_change_nothing(registered, tmp_path):
    window = registered
    n = window.meshes["source"].n_vertices
    cases = {
        "short.npy": np.ones(n - 1),
        "complex.npy": np.ones(n) * (1 + 1j),
        "nan.npy": np.full(n, np.nan),
        "negative.npy": -np.ones(n),
        "text.npy": np.array(["a"] * n),
    }
    for name, array in cases.items():
        np.save(tmp_path / name, array)
    (tmp_path / "garbage.npy").write_bytes(b"\x93NUMPY garbage")
    for name in [*cases, "garbage.npy"]:
        before = _state(window)
        window.last_dialog = None
        assert not load_mask_file(window, tmp_path / name), name
        assert window.last_dialog is not None and name in window.last_dialog.text(), name
        window.last_dialog.close()
        _unchanged(window, before)


def test_corrupt_sessions_give_a_dialog_and_change_nothing(registered, tmp_path):
    window = registered
    good = tmp_path / "good.svsession"
    assert window.session.save(good)
    data = good.read_bytes()
    cases = {
        "half.svsession": data[: len(data) // 2],
        "flipped.svsession": data[:200] + bytes(b ^ 0xFF for b in data[200:400]) + data[400:],
        "not-a-zip.svsession": b"hello",
    }
    for name, content in cases.items():
        (tmp_path / name).write_bytes(content)
        before = _state(window)
        window.last_dialog = None
        assert not window.session.open(tmp_path / name), name
        assert window.last_dialog is not None and name in window.last_dialog.text(), name
        window.last_dialog.close()
        _unchanged(window, before)
