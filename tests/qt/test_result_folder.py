"""File > Open result folder: a 'shapeviewer register' result shown, played and exported as after a run."""

import json
import shutil

import imageio_ffmpeg
import numpy as np
import pytest
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QFileDialog

from shapeviewer.cli import main
from shapeviewer.io.meshes import read_mesh, write_mesh
from shapeviewer.io.results import read_result_dir
from shapeviewer.qt import export_actions
from shapeviewer.render.movie import MovieSettings

STEPS = 4
FAST = ["--backend", "torch", "--steps", str(STEPS), "--dtype", "float64", "--iterations", "3"]


@pytest.fixture
def result_folder(small_pair, tmp_path):
    out = tmp_path / "registered"
    assert main(["register", str(small_pair[0]), str(small_pair[1]), "--out", str(out), *FAST]) == 0
    return out


def menu_action(window, text: str) -> QAction:
    return next(a for a in window.findChildren(QAction) if a.text() == text)


def open_through_menu(window, monkeypatch, folder) -> None:
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(folder))
    menu_action(window, "Open result &folder…").trigger()


def test_a_result_folder_plays_and_exports_as_after_a_run(window, result_folder, tmp_path, monkeypatch, qtbot):
    written = read_result_dir(result_folder)
    open_through_menu(window, monkeypatch, result_folder)
    doc = window.doc
    assert doc.result is not None and doc.result.n_frames == STEPS + 1
    assert window.meshes["source"].n_vertices == written.trajectory.shape[1]
    np.testing.assert_allclose(window.meshes["source"].vertices, written.trajectory[0])
    np.testing.assert_allclose(window.meshes["target"].vertices, written.target[0])
    assert window.windowTitle().startswith("registered")
    assert "Opened the result folder" in window.status_line.text()
    assert not window.isWindowModified()
    assert window.playback_bar.slider.maximum() == STEPS
    assert doc.result.report.status == written.info["status"]
    assert doc.result.report.fidelity_drop == pytest.approx(written.info["fidelity_drop"])
    assert len(doc.history) == len(written.info["loss_history"])

    window.playback.step(-1)  # as the Previous frame key does
    assert doc.frame == STEPS - 1
    np.testing.assert_allclose(window.current_frame_points(), written.trajectory[STEPS - 1], atol=1e-5)
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(tmp_path / "frame.ply"), ""))
    export_actions.export_current_mesh(window)
    np.testing.assert_allclose(read_mesh(tmp_path / "frame.ply").vertices, written.trajectory[STEPS - 1], atol=1e-5)

    movie = tmp_path / "geodesic.mp4"
    settings = MovieSettings(size=(320, 240), fps=10, frames_per_step=1, pingpong=False)
    assert export_actions.write_movie_with_progress(window, movie, settings)
    assert imageio_ffmpeg.count_frames_and_secs(str(movie))[0] == STEPS + 1
    assert window.actions.run.isEnabled()  # the panel's settings can register the pair again


def test_a_result_folder_reopens_as_a_saved_session(window, result_folder, tmp_path, monkeypatch):
    open_through_menu(window, monkeypatch, result_folder)
    steps = window.doc.result.n_frames
    assert window.session.save(tmp_path / "again.svsession")
    assert window.session.open(tmp_path / "again.svsession")
    assert window.doc.result.n_frames == steps


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda f: shutil.rmtree(f / "frames"), "holds no frames"),
        (lambda f: (f / "frames" / "frame_002.vtp").unlink(), "missing frame_002.vtp"),
        (lambda f: (f / "target.vtp").unlink(), "holds no target.vtp"),
        (lambda f: (f / "momenta.npy").unlink(), "momenta file"),
        (lambda f: (f / "result.json").write_text(json.dumps({"hamiltonian": "x"})), "not a finite number"),
    ],
)
def test_a_folder_that_is_not_a_whole_result_says_why_and_keeps_the_window(
    window, result_folder, monkeypatch, damage, message
):
    damage(result_folder)
    before = window.meshes["source"]
    open_through_menu(window, monkeypatch, result_folder)
    assert window.last_dialog is not None and window.last_dialog.windowTitle() == "Cannot open the result folder"
    assert message in window.last_dialog.text()
    assert str(result_folder) in window.last_dialog.text()
    assert window.meshes["source"] is before and window.doc.result is None


def test_an_aligned_result_is_shown_in_the_targets_frame(window, small_pair, tmp_path, monkeypatch):
    """After --align the frames are in the target's frame: the source shown is frame 0, not the file."""
    source = read_mesh(small_pair[0])
    turn = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])  # 90 degrees about z
    turned = tmp_path / "turned.ply"
    write_mesh(turned, source.vertices @ turn.T * [1.15, 1.0, 1.0] + [0.5, 0.0, 0.0], source.faces)  # and stretched
    out = tmp_path / "aligned"
    assert main(["register", str(small_pair[0]), str(turned), "--out", str(out), "--align", "rigid", *FAST]) == 0
    open_through_menu(window, monkeypatch, out)
    shown = window.meshes["source"].vertices
    np.testing.assert_allclose(shown, read_result_dir(out).trajectory[0])
    centre = read_mesh(turned).vertices.mean(0)  # 0.5 along x from the source file's
    np.testing.assert_allclose(shown.mean(0), centre, atol=0.05)  # moved onto the target, not the file as it was
