"""A run that ends before its first iteration (stopped, or failed during the set-up) loses nothing: the previous
result, its convergence plot, the frame shown and the modified flag stay as they were, and the status says so."""

import threading

import numpy as np
import pytest
from gui_helpers import quick_settings, run_to_end
from PySide6.QtCore import Qt

from shapeviewer.core import registration

UPPER_LEFT = 2  # the corner of the result view's title


def result_title(window) -> str:
    return window.result.view.actors["result-title"].GetText(UPPER_LEFT)


def plot_title(window) -> str:
    return window.loss_plot.getPlotItem().titleLabel.item.toPlainText()


def drawn(item) -> list:
    """The x and y of a plot item (an empty curve has None)."""
    return [[] if a is None else list(a) for a in item.getData()]


def what_the_user_sees(window) -> dict:
    plot = window.loss_plot
    return {
        "curves": {name: drawn(curve) for name, curve in plot.curves.items()},
        "best": drawn(plot.best),
        "plot title": plot_title(window),
        "history": window.doc.history.as_dict(),
        "result title": result_title(window),
        "frame label": window.playback_bar.label.text(),
        "modified": window.isWindowModified(),
    }


@pytest.fixture
def finished_run(window, qtbot):
    """A run to the end, its geodesic shown at t = 2/4, saved (not modified): what a new run must not lose."""
    quick_settings(window, iterations=3, steps=4)
    run_to_end(qtbot, window)
    assert window.run.final.status in ("finished", "converged")
    window.playback.seek(2)
    window.doc.set_modified(False)
    qtbot.waitUntil(lambda: not window.loss_plot.redraw.isActive(), timeout=2_000)
    seen = what_the_user_sees(window)
    assert seen["frame label"] == "t = 2/4" and "mismatch down" in seen["plot title"]
    return window.doc.result, window.result.scene.mesh.points.copy(), seen


def gate(monkeypatch, where: str) -> threading.Event:
    """Holds the next run's worker until the event is set: in its set-up, or after its start point (iteration 0)."""
    opened = threading.Event()
    original_init, original_run = registration.Registration.__init__, registration.Registration.run

    def slow_set_up(self, *args, **kwargs):
        opened.wait(10)
        original_init(self, *args, **kwargs)

    def held_after_start_point(self, should_stop=None, setting_up=None):
        steps = original_run(self, should_stop=should_stop, setting_up=setting_up)
        yield next(steps)  # iteration 0: the start point, before any L-BFGS step
        opened.wait(10)
        yield from steps

    if where == "set-up":
        monkeypatch.setattr(registration.Registration, "__init__", slow_set_up)
    else:
        monkeypatch.setattr(registration.Registration, "run", held_after_start_point)
    return opened


def assert_nothing_lost(window, before) -> None:
    result, points, seen = before
    assert window.doc.result is result
    np.testing.assert_array_equal(window.result.scene.mesh.points, points)  # the same geodesic, the same frame
    assert what_the_user_sees(window) == seen


@pytest.mark.parametrize("where", ["set-up", "start point"])
def test_stop_before_the_first_iteration_keeps_the_previous_result_and_its_plot(
    window, qtbot, monkeypatch, finished_run, where
):
    opened = gate(monkeypatch, where)
    window.activateWindow()
    qtbot.waitActive(window)  # shortcuts go to the active window
    window.result.view.setFocus()
    qtbot.waitUntil(window.result.view.hasFocus)
    qtbot.keyClick(window.result.view, Qt.Key.Key_F5)
    assert window.run.running
    if where == "start point":
        qtbot.waitUntil(lambda: window.run.reports_received >= 1, timeout=30_000)
    qtbot.keyClick(window.result.view, Qt.Key.Key_Escape)
    opened.set()
    qtbot.waitUntil(lambda: not window.run.running, timeout=30_000)
    qtbot.waitUntil(lambda: not window.loss_plot.redraw.isActive(), timeout=2_000)
    assert_nothing_lost(window, finished_run)
    assert window.status_line.text() == "Stopped before the first iteration; the previous result is kept"
    assert window.last_dialog is None
    assert "(converged" in result_title(window) or "(finished" in result_title(window)
    kept = window.doc.result.report  # the progress strip speaks of it too, not of a run of 0 iterations
    assert window.progress.text() == f"kept, {kept.status}: {kept.iteration} iterations"
    assert window.run_button.isEnabled() and not window.stop_button.isEnabled()


def test_a_failure_during_the_set_up_keeps_the_previous_result_and_says_so(window, qtbot, monkeypatch, finished_run):
    def broken_run(self, should_stop=None, setting_up=None):
        raise RuntimeError("simulated failure in the set-up")
        yield

    monkeypatch.setattr(registration.Registration, "run", broken_run)
    qtbot.mouseClick(window.run_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not window.run.running, timeout=30_000)
    qtbot.waitUntil(lambda: not window.loss_plot.redraw.isActive(), timeout=2_000)
    assert_nothing_lost(window, finished_run)
    assert "simulated failure" in window.last_dialog.text()
    status = window.status_line.text()
    assert "simulated failure" in status and status.endswith("the previous result is kept")


def test_without_a_previous_result_the_plot_says_the_run_ended_before_its_first_iteration(window, qtbot, monkeypatch):
    quick_settings(window)
    opened = gate(monkeypatch, "start point")
    window.start_run()
    qtbot.waitUntil(lambda: window.run.reports_received >= 1, timeout=30_000)
    window.stop_run()
    opened.set()
    qtbot.waitUntil(lambda: not window.run.running, timeout=30_000)
    qtbot.waitUntil(lambda: not window.loss_plot.redraw.isActive(), timeout=2_000)
    assert window.doc.result is None and len(window.doc.history) == 0
    assert "the run ended before its first iteration" in plot_title(window)
    assert result_title(window) == "Result: press Run"
    assert window.status_line.text() == "Stopped before the first iteration; there is no result to keep"


def test_the_first_iteration_is_said_to_be_the_slowest(window, qtbot, monkeypatch):
    """Its line search has no curvature yet (8.6 s against 1.7 s later in a walkthrough): it must not look stalled."""
    opened = gate(monkeypatch, "start point")
    quick_settings(window, iterations=2, steps=3)
    window.start_run()
    qtbot.waitUntil(lambda: window.run.reports_received >= 1, timeout=30_000)
    qtbot.waitUntil(lambda: "Iteration 0/2" in window.status_line.text(), timeout=5_000)
    assert "finding the first step, the slowest iteration" in window.status_line.text()
    opened.set()
    qtbot.waitUntil(lambda: not window.run.running, timeout=30_000)
    assert "finding the first step" not in window.status_line.text()
