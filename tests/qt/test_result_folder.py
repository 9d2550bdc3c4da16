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
from shapeviewer.qt.mesh_views import SOURCE_VALUES
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


# ---- the run's mask and settings come back with its result ---------------------------------------------------


def ramp_mask(mesh_path, out_path):
    """Zero on one side of the source, a ramp, then one: the weights differ from any default."""
    x = read_mesh(mesh_path).vertices[:, 0]
    weights = np.clip(2.0 * (x - x.min()) / np.ptp(x) - 0.5, 0.0, 1.0)
    np.save(out_path, weights)
    return weights


@pytest.fixture
def masked_folder(small_pair, tmp_path):
    mask = ramp_mask(small_pair[0], tmp_path / "ramp.npy")
    out = tmp_path / "masked"
    args = ["register", str(small_pair[0]), str(small_pair[1]), "--out", str(out), "--mask", str(tmp_path / "ramp.npy")]
    assert main([*args, "--kernel", "gaussian(0.4)", "--cometric", "normalized", *FAST]) == 0
    return out, mask


def test_a_masked_result_folder_brings_back_its_mask_and_settings(window, masked_folder, monkeypatch):
    folder, mask = masked_folder
    window.parameters.kernel.set_spec("cauchy(0.2)")  # what the panel held before: none of it may stay
    window.parameters.iterations.setValue(100)
    open_through_menu(window, monkeypatch, folder)

    np.testing.assert_array_equal(window.doc.mask, mask)  # what the next Run registers with
    np.testing.assert_array_equal(window.doc.mask_for_run(), mask)
    source_view = window.inputs
    assert source_view.values_title == "weight" and source_view.actors["source"].mapper.scalar_visibility
    np.testing.assert_allclose(source_view.meshes["source"].point_data[SOURCE_VALUES], mask)

    p = window.parameters
    assert p.iterations.value() == 3 and p.steps.value() == STEPS
    assert p.kernel.text.text() == "gaussian(0.4)" and p.backend.currentText() == "torch"
    assert p.dtype.currentText() == "float64"
    assert window.doc.settings.iterations == 3 and window.doc.settings.model.kernel == "gaussian(0.4)"
    assert "its mask" in window.status_line.text() and "no mask" not in window.status_line.text()
    assert not window.isWindowModified()
    assert window.actions.run.isEnabled()


def test_an_older_folder_without_a_mask_opens_and_says_so(window, masked_folder, monkeypatch):
    folder, _ = masked_folder
    (folder / "mask.npy").unlink()
    info = json.loads((folder / "result.json").read_text())
    for key in ("mask", "settings"):  # as folders written before both were kept
        info.pop(key)
    (folder / "result.json").write_text(json.dumps(info))
    window.paint.set_weights(np.zeros_like(window.paint.weights) + 0.5)  # a mask painted before: not the run's
    open_through_menu(window, monkeypatch, folder)

    assert window.doc.result is not None and window.doc.mask_for_run() is None
    assert "no mask in the folder" in window.status_line.text()
    log = window.log_panel.toPlainText()
    assert "holds no mask.npy" in log and "Max iterations" in log
    assert window.parameters.kernel.text.text() == "gaussian(0.4)"  # the kernel the run reported
    assert window.parameters.steps.value() == STEPS


def test_a_setting_the_panel_cannot_show_is_said_not_fatal(window, masked_folder, monkeypatch):
    folder, mask = masked_folder
    info = json.loads((folder / "result.json").read_text())
    info["settings"]["model"]["steps"] = 5000  # over the panel's range
    info["settings"]["fidelity"] = "hausdorff"  # not a fidelity of this version
    (folder / "result.json").write_text(json.dumps(info))
    open_through_menu(window, monkeypatch, folder)

    assert window.doc.result is not None and window.last_dialog is None
    np.testing.assert_array_equal(window.doc.mask, mask)
    log = window.log_panel.toPlainText()
    assert "steps: the run used 5000, the panel shows 500" in log
    assert "fidelity = 'hausdorff' is not used" in log
    assert "see the Log tab" in window.status_line.text()
    assert window.parameters.iterations.value() == 3


def test_the_app_started_on_a_result_folder_shows_it(result_folder, qtbot, tmp_path):
    """'shapeviewer gui DIR': the window opens on the folder's result, its last frame shown."""
    from shapeviewer.qt.app import create_window

    window = create_window(folder=result_folder)
    qtbot.addWidget(window)
    window.ask_unsaved = lambda *_: "discard"
    assert window.doc.result is not None and window.doc.frame == window.doc.result.n_frames - 1
    assert "Opened the result folder" in window.status_line.text() and not window.isWindowModified()
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "result.json").write_text("{")
    again = create_window(folder=broken)  # a dialog says why, over the demo pair
    qtbot.addWidget(again)
    again.ask_unsaved = lambda *_: "discard"
    assert again.last_dialog is not None and again.last_dialog.windowTitle() == "Cannot open the result folder"
    assert again.meshes["source"] is not None and again.doc.result is None
