"""Running, stopping and failing registrations from the window, and playing the geodesic back."""

import time

import numpy as np
import pytest
from gui_helpers import quick_settings, rendered, run_to_end
from PySide6.QtCore import Qt, QThread

from shapeviewer.core.registration import Report


def test_run_shows_live_frames_loss_and_progress(window, qtbot):
    quick_settings(window, iterations=3, steps=4)
    source = np.array(window.result.scene.rest)
    run_to_end(qtbot, window)
    run = window.run
    assert run.reports_received >= 2 and run.frames_applied >= 1
    assert run.final.status in ("finished", "converged")
    shown = window.current_frame_points()
    assert np.abs(shown - source).max() > 1e-3  # the displayed mesh moved towards the target
    np.testing.assert_allclose(shown, run.final.trajectory[-1])
    assert window.playback.n_frames == 5 and window.playback_bar.slider.maximum() == 4
    history = window.doc.history
    assert len(history) >= 2 and window.loss_plot.history is history  # the plot shows the document's history
    losses = history.series["loss"]
    assert losses[-1] < losses[0]
    drawn = window.loss_plot.curves["loss"].getData()[1]
    np.testing.assert_allclose(10**drawn, 100 * np.asarray(losses))  # % of the initial mismatch, log axis
    assert window.progress.value() == window.progress.maximum() == run.final.iteration == history.iterations[-1]
    assert window.progress.text() == f"{run.final.status}: {run.final.iteration} iterations"
    title = window.loss_plot.getPlotItem().titleLabel.text
    assert "mismatch down" in title and f"best: iteration {history.best_iteration()}" in title
    assert "mismatch down" in window.status_line.text()
    assert window.run_button.isEnabled() and not window.stop_button.isEnabled()
    assert "torch on cpu" in window.log_panel.toPlainText()


def test_stop_cancels_within_a_second_and_keeps_the_best_result(window, qtbot):
    quick_settings(window, iterations=10_000, steps=20)
    qtbot.mouseClick(window.run_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.run.reports_received >= 2, timeout=60_000)
    assert window.stop_button.isEnabled() and not window.run_button.isEnabled()
    assert not window.parameters.isEnabled()  # settings of a running job cannot change under it
    clicked = time.perf_counter()
    qtbot.mouseClick(window.stop_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not window.run.running, timeout=10_000)
    assert time.perf_counter() - clicked < 2.0
    final = window.run.final
    assert final.status == "cancelled"
    np.testing.assert_allclose(window.current_frame_points(), final.trajectory[-1])
    assert "Cancelled" in window.status_line.text()
    assert window.run_button.isEnabled() and window.parameters.isEnabled()


def test_error_in_the_worker_reaches_a_dialog_and_the_log(window, qtbot, monkeypatch):
    from shapeviewer.core import registration

    def broken_run(self, should_stop=None, setting_up=None):
        raise RuntimeError("simulated failure in the optimiser")
        yield

    monkeypatch.setattr(registration.Registration, "run", broken_run)
    quick_settings(window)
    qtbot.mouseClick(window.run_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.last_dialog is not None and window.last_dialog.isVisible(), timeout=30_000)
    assert "simulated failure" in window.last_dialog.text()
    assert "Traceback" in window.last_dialog.detailedText()
    qtbot.waitUntil(lambda: not window.run.running, timeout=10_000)
    assert "simulated failure" in window.log_panel.toPlainText()
    window.last_dialog.close()
    monkeypatch.undo()
    run_to_end(qtbot, window)  # still usable
    assert window.run.final.status in ("finished", "converged")


def test_playback_advances_frames_and_changes_the_picture(window, qtbot):
    quick_settings(window, iterations=2, steps=6)
    run_to_end(qtbot, window)
    pb = window.playback
    pb.seek(0)
    np.testing.assert_allclose(window.current_frame_points(), window.result.scene.rest, atol=1e-12)
    first = rendered(window.result.view)
    seen = set()
    pb.frame_changed.connect(seen.add)
    window.result.scene.lod_threshold = 40  # as if the mesh were large: play a stand-in
    window.playback_bar.play.click()
    qtbot.waitUntil(lambda: len(seen) >= 6, timeout=5_000)
    assert window.result.scene.fast and window.result.scene.proxy_actor.GetVisibility()
    window.playback_bar.play.click()
    assert not pb.playing
    assert not window.result.scene.fast and window.result.scene.actor.GetVisibility()  # exact when paused
    pb.seek(6)
    assert window.playback_bar.label.text() == "t = 6/6"
    assert np.abs(rendered(window.result.view).astype(int) - first).mean() > 0.5


@pytest.mark.parametrize("mode, expected", [("loop", [5, 6, 0, 1]), ("ping-pong", [5, 6, 5, 4]), ("once", [5, 6])])
def test_playback_modes_at_the_last_frame(qtbot, mode, expected):
    from shapeviewer.qt.playback import Playback

    pb = Playback()
    pb.set_frame_count(7)
    pb.mode = mode
    pb.seek(4)
    seen = []
    pb.frame_changed.connect(seen.append)
    for _ in range(4):
        pb._tick()
    assert seen == expected
    assert pb.playing is False


def test_while_playing_the_timeline_follows_at_10_hz_and_is_exact_when_paused(qtbot, monkeypatch):
    from shapeviewer.qt import playback as module

    now = [100.0]
    monkeypatch.setattr(module, "_clock", lambda: now[0])
    pb = module.Playback()
    bar = module.PlaybackBar(pb)
    qtbot.addWidget(bar)
    bar.set_frame_count(11)
    pb.set_fps(1)  # playing, but the ticks below are driven by hand
    pb.play()
    shown = []
    for dt in (0.2, 0.03, 0.03, 0.05):  # each tick after dt seconds
        now[0] += dt
        pb._tick()
        shown.append((bar.label.text(), bar.slider.value()))
    assert pb.index == 4
    assert shown == [("t = 1/10", 1), ("t = 1/10", 1), ("t = 1/10", 1), ("t = 4/10", 4)]
    now[0] += 0.01
    pb._tick()
    assert bar.label.text() == "t = 4/10"
    pb.pause()
    assert (bar.label.text(), bar.slider.value()) == ("t = 5/10", 5)  # exact as soon as playback stops
    pb.step(1)
    assert bar.label.text() == "t = 6/10"  # stepping by hand shows every frame


def test_closing_during_a_run_stops_the_thread(window, qtbot):
    quick_settings(window, iterations=10_000, steps=20)
    qtbot.mouseClick(window.run_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.run.reports_received >= 1, timeout=60_000)
    thread = window.run.runner._thread
    assert isinstance(thread, QThread) and thread.isRunning()
    started = time.perf_counter()
    window.close()
    assert time.perf_counter() - started < 5
    assert not window.run.running
    assert not window.isVisible()
    # the worker's last signals are queued: one that arrives after the views have closed changes nothing
    qtbot.wait(100)  # those of this run
    rest = window.meshes["source"].vertices
    late = Report(3, 0.1, 0.1, 0.0, 1.0, np.stack([rest] * 21), np.zeros_like(rest), status="finished")
    window.run.runner.finished.emit(late)
    assert window.run.final is not late
    window.doc.set_result(late)  # and nothing written into the document reaches the closed views
    window.doc.set_frame(5)


def test_keyboard_runs_plays_and_steps(window, qtbot):
    quick_settings(window, iterations=2, steps=4)
    window.activateWindow()
    qtbot.waitActive(window)  # shortcuts go to the active window
    window.result.view.setFocus()
    qtbot.waitUntil(window.result.view.hasFocus)
    qtbot.keyClick(window.result.view, Qt.Key.Key_F5)
    assert window.run.running or window.run.final is not None, window.status_line.text()
    qtbot.waitUntil(lambda: window.run.final is not None and not window.run.running, timeout=60_000)
    assert window.playback.index == 4
    qtbot.keyClick(window.result.view, Qt.Key.Key_Home)
    assert window.playback.index == 0
    qtbot.keyClick(window.result.view, Qt.Key.Key_Period)
    assert window.playback.index == 1
    qtbot.keyClick(window.result.view, Qt.Key.Key_Space)
    assert window.playback.playing
    qtbot.keyClick(window.result.view, Qt.Key.Key_Space)
    assert not window.playback.playing


def test_momentum_arrows_follow_the_result(window, qtbot):
    quick_settings(window, iterations=2, steps=3)
    run_to_end(qtbot, window)
    window.display.momenta.setChecked(True)
    arrows = window.result.scene.arrows_actor
    assert arrows is not None and arrows.GetVisibility()
    window.display.momenta.setChecked(False)
    assert window.result.scene.arrows_actor is None


def test_stop_during_the_set_up_is_a_quiet_cancel_not_a_failure(window, qtbot, monkeypatch):
    from shapeviewer.core import registration

    original = registration.Registration.run

    def stop_at_once(self, should_stop=None, setting_up=None):  # Stop pressed before the first evaluation
        yield from original(self, should_stop=lambda: True, setting_up=setting_up)

    monkeypatch.setattr(registration.Registration, "run", stop_at_once)
    quick_settings(window)
    window.start_run()
    window.run.stop()
    qtbot.waitUntil(lambda: not window.run.running, timeout=30_000)
    assert window.last_dialog is None  # no "Registration failed" dialog
    assert "Stopped before the first iteration" in window.status_line.text()
    assert window.progress.text().startswith("cancelled")


def test_the_seconds_shown_count_the_set_up_too(window, qtbot, monkeypatch):
    """A large mesh's set-up (pyramid, first data term) takes seconds before the first iteration: the time in
    the status bar is the time since Run, the log tells both."""
    import re

    from shapeviewer.core import registration

    original = registration.Registration.__init__

    def slow_set_up(self, *args, **kwargs):
        time.sleep(1.5)
        original(self, *args, **kwargs)

    monkeypatch.setattr(registration.Registration, "__init__", slow_set_up)
    quick_settings(window, iterations=2, steps=3)
    run_to_end(qtbot, window)
    shown = float(re.search(r", ([\d.]+) s$", window.status_line.text()).group(1))
    assert shown >= window.run.final.elapsed + 1.4  # the sleep before the first iteration counted
    logged = re.search(r"([\d.]+) s \(([\d.]+) s optimising\)", window.log_panel.toPlainText())
    assert float(logged.group(1)) >= 1.5 and float(logged.group(2)) == pytest.approx(window.run.final.elapsed, abs=0.06)
