"""Sessions from the window: save/open round trip, unsaved-changes prompt, autosave recovery, bad files."""

import threading
import time

import numpy as np
from gui_helpers import quick_settings, run_to_end
from PySide6.QtWidgets import QFileDialog

from shapeviewer.qt.main_window import MainWindow


def _new_window(qtbot, recovery):
    win = MainWindow()
    win.session.recovery_path = recovery
    win.ask_unsaved = lambda *_: "discard"
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    return win


def test_save_and_reopen_restores_meshes_parameters_result_and_frame(window, qtbot, tmp_path, monkeypatch):
    quick_settings(window, iterations=2, steps=5)
    window.parameters.kernel.set_spec("0.5*gaussian(0.4) + cauchy(1)")
    window.parameters.regularization.setValue(0.25)
    run_to_end(qtbot, window)
    window.playback.seek(3)
    assert window.isWindowModified() and window.windowTitle().startswith("untitled[*]")
    path = tmp_path / "work.svsession"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(tmp_path / "work"), ""))
    assert window.session.save_as()
    assert path.exists() and not window.isWindowModified() and window.windowTitle().startswith("work.svsession")

    other = _new_window(qtbot, tmp_path / "other-recovery.svsession")
    assert other.session.open(path)
    assert other.meshes["source"].n_vertices == window.meshes["source"].n_vertices
    np.testing.assert_array_equal(other.meshes["target"].vertices, window.meshes["target"].vertices)
    assert other.parameters.kernel.text.text() == "0.5*gaussian(0.4) + cauchy(1)"
    assert other.parameters.regularization.value() == 0.25 and other.parameters.steps.value() == 5
    np.testing.assert_allclose(other.doc.result.trajectory, window.run.final.trajectory)
    assert other.playback.index == 3 and other.playback.n_frames == 6
    np.testing.assert_allclose(other.current_frame_points(), window.run.final.trajectory[3])
    assert other.doc.history.series["loss"] == window.doc.history.series["loss"]
    assert not other.isWindowModified()
    qtbot.waitUntil(lambda: other.loss_plot.curves["loss"].getData()[0] is not None)  # the reopened history
    assert "press Run" not in _result_title(other) and "iteration 2" in _result_title(other)


def _result_title(win) -> str:
    return win.result.view.renderer.actors["result-title"].GetText(2)


def test_a_reopened_session_keeps_control_points_camera_and_joins_recent(window, qtbot, tmp_path):
    """Momentum arrows need the control points' indices; the camera and the Recent menu come back too."""
    quick_settings(window, iterations=2, steps=4)
    window.parameters.control_points.setValue(12)
    run_to_end(qtbot, window)
    index = window.doc.result.control_index
    assert index is not None and len(index) == 12
    window.result.view.camera_position = [(5.0, 1.0, 2.0), (0.0, 0.0, 0.0), (0.0, 0.0, 1.0)]
    path = tmp_path / "cp.svsession"
    assert window.session.save(path)

    other = _new_window(qtbot, tmp_path / "other-recovery.svsession")
    assert other.session.open(path)
    np.testing.assert_array_equal(other.doc.result.control_index, index)
    other.display.momenta.setChecked(True)
    assert other.result.scene.arrows_actor is not None  # drawn on the 12 control points
    np.testing.assert_allclose(other.result.view.camera_position.position, (5.0, 1.0, 2.0))
    assert f"{path.name} (session)" in [a.text() for a in other.actions.recent_menu.actions()]


def test_a_plain_start_reopens_the_last_session(window, tmp_path):
    from shapeviewer.qt.app import create_window

    path = tmp_path / "last.svsession"
    window.parameters.kernel.set_spec("laplacian(0.9)")
    assert window.session.save(path)
    again = create_window()
    try:
        assert again.session.path == path
        assert again.parameters.kernel.text.text() == "laplacian(0.9)"
    finally:
        again.ask_unsaved = lambda *_: "discard"
        again.close()


def test_closing_with_unsaved_changes_asks(window, qtbot):
    window.parameters.iterations.setValue(42)
    assert window.isWindowModified()
    window.ask_unsaved = lambda *_: "cancel"
    window.close()
    assert window.isVisible()  # cancelled: still open, nothing lost
    window.ask_unsaved = lambda *_: "discard"
    window.close()
    assert not window.isVisible()


def test_autosave_is_offered_back_after_a_crash(window, qtbot, tmp_path):
    recovery = window.session.recovery_path
    window.parameters.kernel.set_spec("laplacian(0.7)")
    window.session.autosave(wait=True)
    assert recovery.exists()
    # a crash: the window never closes cleanly, so the recovery file stays for the next start
    fresh = _new_window(qtbot, recovery)
    assert fresh.session.offer_recovery(ask=lambda: True)
    assert fresh.parameters.kernel.text.text() == "laplacian(0.7)"
    assert fresh.isWindowModified()  # recovered work is not saved anywhere yet
    fresh.close()
    assert not recovery.exists()  # a clean exit removes it


def test_autosave_writes_in_the_background_and_says_when_it_fails(window, qtbot, monkeypatch):
    """Compressing a 200k-vertex result took 2 s of the GUI thread every minute; a failure still reaches the log."""
    from shapeviewer.qt import session_manager

    real, release = session_manager.session_bytes, threading.Event()
    monkeypatch.setattr(session_manager, "session_bytes", lambda session: release.wait(10) and real(session))
    window.parameters.kernel.set_spec("laplacian(0.7)")
    started = time.perf_counter()
    window.session.autosave()
    assert time.perf_counter() - started < 1.0 and not window.session.recovery_path.exists()  # not waited for
    window.session.autosave()  # one at a time: this one is skipped
    release.set()
    window.session.autosave(wait=True)
    assert window.session.recovery_path.exists()
    for error, said in ((ValueError("full"), "full"), (MemoryError(), "MemoryError: ")):
        monkeypatch.setattr(session_manager, "session_bytes", lambda session, error=error: (_ for _ in ()).throw(error))
        window.session.autosave(wait=True)
        qtbot.waitUntil(lambda said=said: f"autosave failed: {said}" in window.log_panel.toPlainText(), timeout=5_000)
    window.session.discard_recovery()  # a clean exit: no autosave after it
    assert not window.session.autosave_timer.isActive() and not window.session.recovery_path.exists()


def test_corrupt_session_gives_a_dialog_and_changes_nothing(window, tmp_path):
    bad = tmp_path / "broken.svsession"
    bad.write_bytes(b"PK\x03\x04 truncated")
    before = window.meshes["source"]
    assert not window.session.open(bad)
    assert "broken.svsession" in window.last_dialog.text()
    assert window.meshes["source"] is before


def test_recovery_offers_the_autosave_of_a_dead_app_not_of_a_running_one(window, tmp_path):
    """Several apps may run at once: each autosaves under its own process id, and a start offers only the
    files of apps that are gone."""
    import os

    window.parameters.kernel.set_spec("laplacian(0.6)")
    dead, running = tmp_path / "recovery-999999.svsession", tmp_path / "recovery-1.svsession"  # pid 1 lives
    window.session.recovery_path = dead
    window.session.autosave(wait=True)
    running.write_bytes(dead.read_bytes())
    window.parameters.kernel.set_spec("cauchy(0.5)")
    window.session.recovery_path = tmp_path / f"recovery-{os.getpid()}.svsession"
    assert window.session.offer_recovery(ask=lambda: True)
    assert window.parameters.kernel.text.text() == "laplacian(0.6)"
    assert not dead.exists() and running.exists()  # the running app's autosave is left alone
    assert window.session.recovery_path.exists()  # the restored work is autosaved under this app's name
