"""File > Export from the window: movie with progress and cancel, meshes, momenta, screenshot, summary."""

import json

import imageio_ffmpeg
import numpy as np
import pytest
from gui_helpers import quick_settings, run_to_end
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QFileDialog, QMessageBox

from shapeviewer.io.meshes import read_mesh
from shapeviewer.qt import export_actions
from shapeviewer.render.movie import MovieSettings


@pytest.fixture
def registered(window, qtbot):
    quick_settings(window, iterations=2, steps=4)
    run_to_end(qtbot, window)
    return window


def _save_as(monkeypatch, path):
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(path), ""))


def test_movie_from_the_window_has_every_frame(registered, tmp_path, monkeypatch):
    out = tmp_path / "geodesic.mp4"
    settings = MovieSettings(size=(320, 240), fps=10, frames_per_step=2, pingpong=False)
    assert export_actions.write_movie_with_progress(registered, out, settings)
    assert imageio_ffmpeg.count_frames_and_secs(str(out))[0] == 4 * 2 + 1
    assert "Exported the movie" in registered.status_line.text()


def test_the_progress_dialog_shows_before_the_renderer_starts(registered, tmp_path, monkeypatch):
    seen = {}
    real = export_actions.write_movie

    def spy(path, *args, **kwargs):
        box = registered.movie_progress  # the renderer starts inside write_movie: the user sees this meanwhile
        seen.update(visible=box.isVisible(), text=box.labelText(), busy=box.maximum() == 0)
        return real(path, *args, **kwargs)

    monkeypatch.setattr(export_actions, "write_movie", spy)
    out = tmp_path / "m.mp4"
    assert export_actions.write_movie_with_progress(registered, out, MovieSettings(size=(160, 120), fps=10))
    assert seen == {"visible": True, "text": "Starting the off-screen renderer for m.mp4…", "busy": True}


def test_cancelling_the_movie_leaves_no_file(registered, tmp_path, qtbot):
    out = tmp_path / "cancelled.mp4"
    settings = MovieSettings(size=(320, 240), fps=10, frames_per_step=20)

    def cancel():
        if registered.movie_progress is not None:
            registered.movie_progress.cancel()
        else:
            QTimer.singleShot(5, cancel)

    QTimer.singleShot(5, cancel)
    assert not export_actions.write_movie_with_progress(registered, out, settings)
    assert not list(tmp_path.glob("*cancelled*"))
    assert "cancelled" in registered.status_line.text()


def test_mesh_momenta_and_summary_exports(registered, tmp_path, monkeypatch):
    window = registered
    window.playback.seek(2)
    _save_as(monkeypatch, tmp_path / "frame.ply")
    export_actions.export_current_mesh(window)
    mesh = read_mesh(tmp_path / "frame.ply")
    np.testing.assert_allclose(mesh.vertices, window.run.final.trajectory[2], atol=1e-5)

    _save_as(monkeypatch, tmp_path / "seq.obj")
    export_actions.export_sequence(window)
    assert len(list(tmp_path.glob("seq_*.obj"))) == 5

    _save_as(monkeypatch, tmp_path / "p0.npy")
    export_actions.export_momenta(window)
    np.testing.assert_array_equal(np.load(tmp_path / "p0.npy"), window.run.final.momenta)

    _save_as(monkeypatch, tmp_path / "summary.json")
    export_actions.export_summary(window)
    data = json.loads((tmp_path / "summary.json").read_text())
    assert data["settings"]["iterations"] == 2 and data["settings"]["model"]["steps"] == 4
    assert data["distance"] > 0 and len(data["history"]["loss"]) == len(data["history"]["iteration"]) >= 2
    assert data["used"]["backend"] == "torch"

    _save_as(monkeypatch, tmp_path / "shot.png")
    export_actions.save_screenshot(window)
    assert (tmp_path / "shot.png").stat().st_size > 2000


def test_an_export_of_every_frame_can_be_cancelled_and_keeps_the_frames_written(registered, tmp_path, monkeypatch):
    window = registered
    write, written = export_actions.write_mesh, []

    def cancelling_after_the_second_frame(path, *args, **kwargs):
        write(path, *args, **kwargs)
        written.append(path)
        if len(written) == 2:
            window.sequence_progress.cancel()  # as the Cancel button does

    monkeypatch.setattr(export_actions, "write_mesh", cancelling_after_the_second_frame)
    _save_as(monkeypatch, tmp_path / "seq.vtp")
    export_actions.export_sequence(window)
    assert sorted(p.name for p in tmp_path.glob("seq_*.vtp")) == ["seq_000.vtp", "seq_001.vtp"]
    assert "cancelled: the first 2 of 5 frames" in window.status_line.text()
    assert window.sequence_progress is None and "cancelled after 2 of 5" in window.log_panel.toPlainText()


def test_a_name_typed_without_extension_gets_the_chosen_formats_and_obj_is_said_to_keep_no_values(
    registered, tmp_path, monkeypatch
):
    window = registered
    (tmp_path / "kept.npy").write_bytes(b"precious")
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.No)
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(tmp_path / "kept"), "NumPy array (*.npy)"))
    export_actions.export_momenta(window)  # "kept" typed: kept.npy exists, the answer is No
    assert (tmp_path / "kept.npy").read_bytes() == b"precious"
    for name, chosen, written in (
        ("mom", "NumPy array (*.npy)", "mom.npy"),
        ("sigma0.5", "NumPy array (*.npy)", "sigma0.5.npy"),  # a dot in the name is no extension
        ("frame", "Wavefront OBJ (*.obj)", "frame.obj"),
        ("shot.", "", "shot.png"),  # no filter reported: the default name's extension; the dot not doubled
    ):
        monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, n=name, c=chosen, **k: (str(tmp_path / n), c))
        by_format = {"npy": export_actions.export_momenta, "obj": export_actions.export_current_mesh,
                     "png": export_actions.save_screenshot}  # fmt: skip
        by_format[written.rsplit(".", 1)[1]](window)
        assert (tmp_path / written).is_file() and not (tmp_path / name).exists()
        assert str(tmp_path / written) in window.status_line.text()
        if written.endswith(".obj"):
            assert "OBJ keeps no per-vertex values" in window.status_line.text()


def test_exporting_before_any_run_says_why(window, tmp_path, monkeypatch):
    _save_as(monkeypatch, tmp_path / "x.npy")
    export_actions.export_momenta(window)
    assert "Run a registration first" in window.last_dialog.text()
    assert not (tmp_path / "x.npy").exists()


def test_an_export_into_a_missing_folder_says_so_in_words(registered, tmp_path, monkeypatch):
    _save_as(monkeypatch, tmp_path / "gone" / "x.vtp")
    export_actions.export_current_mesh(registered)
    text = registered.last_dialog.text() + registered.last_dialog.informativeText()
    assert f"its folder {tmp_path / 'gone'} does not exist" in text and "Errno" not in text
