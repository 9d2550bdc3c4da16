"""What a new user hit in the first walkthrough, each driven as the user would."""

import numpy as np
from gui_helpers import quick_settings, run_to_end
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication, QScrollArea

from shapeviewer.qt.movie_dialog import MovieDialog


def _wheel(widget, steps: int = -1) -> None:
    pos = QPointF(widget.width() / 2, widget.height() / 2)
    buttons, modifiers = Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier
    angle = QPoint(0, 120 * steps)
    event = QWheelEvent(pos, widget.mapToGlobal(pos), QPoint(0, 0), angle, buttons, modifiers,
                        Qt.ScrollPhase.NoScrollPhase, False)  # fmt: skip
    QApplication.sendEvent(widget, event)


def test_the_wheel_scrolls_the_panel_instead_of_changing_an_unfocused_field(window, qtbot):
    box = window.parameters.levels
    before = box.currentText()
    scroll = box.parentWidget()
    while not isinstance(scroll, QScrollArea):
        scroll = scroll.parentWidget()
    bar = scroll.verticalScrollBar()
    bar.setValue(0)
    _wheel(box)
    assert box.currentText() == before
    assert bar.maximum() == 0 or bar.value() > 0  # the panel scrolled (when it can)
    window.activateWindow()
    qtbot.waitActive(window)
    box.setFocus()
    qtbot.waitUntil(box.hasFocus)
    _wheel(box)
    assert box.hasFocus() and box.currentText() != before  # a focused field still takes the wheel


def test_the_parameters_panel_fits_its_dock_without_side_scrolling(window):
    scroll = window.parameters.parentWidget().parentWidget().parentWidget()
    assert isinstance(scroll, QScrollArea)
    assert scroll.horizontalScrollBarPolicy() == Qt.ScrollBarPolicy.ScrollBarAlwaysOff
    assert window.parameters.minimumSizeHint().width() <= scroll.viewport().width()


def test_an_invalid_kernel_is_said_in_the_plot_too(window):
    editor = window.parameters.kernel
    editor.text.setText("gaussian(0.3) +")
    assert editor.plot.message.toPlainText() == "invalid kernel" and editor.plot.line is None
    assert "color:#b00020" in editor.error.text()
    editor.text.setText("gaussian(0.3)")
    assert editor.plot.message.toPlainText() == "" and editor.plot.line is not None


def test_the_first_stroke_on_an_unpainted_mask_does_something(window):
    panel = window.paint_panel
    assert np.all(window.paint.weights == 1.0) and panel.mode.currentText() == "add"
    panel.paint.setChecked(True)
    assert panel.mode.currentText() == "subtract" and "Clear" in panel.hint.text()
    paint = window.paint
    paint.begin_stroke()
    paint.step(window.meshes["source"].vertices[0])
    paint.end_stroke()
    assert paint.weights.min() < 1.0


def test_undo_and_redo_keep_short_labels_and_tell_the_step_in_the_tooltip(window):
    panel = window.paint_panel
    panel.fill_all.click()
    assert panel.undo_action.text() == "Undo" and "fill all" in panel.undo_action.toolTip()
    panel.undo_action.trigger()
    assert panel.redo_action.text() == "Redo" and "fill all" in panel.redo_action.toolTip()


def test_the_movie_dialog_remembers_its_options_and_tab_skips_the_duration(window):
    first = MovieDialog(window, "caption of the run")
    assert first.caption.minimumWidth() >= 300
    assert first.duration.focusPolicy() == Qt.FocusPolicy.NoFocus
    first.fps.setValue(12)
    first.pingpong.setChecked(True)
    first.size_box.setCurrentText("640x360")
    first.accept()
    again = MovieDialog(window, "another caption")
    assert again.fps.value() == 12 and again.pingpong.isChecked() and again.size_box.currentText() == "640x360"
    assert again.caption.text() == "another caption"
    cancelled = MovieDialog(window)
    cancelled.fps.setValue(50)
    cancelled.reject()
    assert MovieDialog(window).fps.value() == 12  # only an export that went ahead is remembered


def test_status_and_progress_agree_before_during_and_after_a_run(window, qtbot):
    assert window.progress.text() == ""  # no "0 / 1" before any run
    quick_settings(window, iterations=3, steps=4)
    run_to_end(qtbot, window)
    shown = window.doc.result.report.iteration
    assert window.doc.history.iterations[-1] == shown  # the plot ends where the state shown is
    assert window.progress.text() == f"{window.run.final.status}: {shown} iteration{'' if shown == 1 else 's'}"
    assert f"iteration {shown}" in window.result.view.renderer.actors["result-title"].GetText(2)
    assert f"iteration {shown}" in window.status_line.text() or f"after {shown} iterations" in window.status_line.text()
    assert "iterations — iteration" not in window.status_line.text()  # the count is said once


def test_momentum_arrows_follow_their_points_and_the_legend_says_what_colours_mean(window, qtbot):
    quick_settings(window, iterations=2, steps=4)
    run_to_end(qtbot, window)
    window.display.momenta.setChecked(True)
    window.playback.seek(0)
    at_start = np.array(window.result.scene.arrows_actor.GetBounds())
    window.playback.seek(window.playback.n_frames - 1)
    at_end = np.array(window.result.scene.arrows_actor.GetBounds())
    assert np.abs(at_end - at_start).max() > 1e-3  # drawn where the control points are at the frame shown
    legend = window.result.view.legend
    assert "displacement" in legend.GetEntryString(0)  # the default colouring is by displacement
    window.display.colour_plain.setChecked(True)
    assert window.result.view.legend.GetEntryString(0) == "deformed source"


def test_a_keops_compilation_in_the_worker_is_said_with_its_count(window, qtbot, monkeypatch):
    """The first run on a machine compiles KeOps formulas for minutes: the window says so, formula by
    formula, instead of looking hung (the worker's notices come from core.keops_compile)."""
    from pykeops.torch import Genred

    from shapeviewer.core import keops_compile, registration, warmup

    def compiling_run(self, should_stop=None, setting_up=None):
        x = np.zeros((5, 3))
        import torch

        Genred("Sum(Abs(x-y))*b", ["x = Vi(3)", "y = Vj(3)", "b = Vj(1)"], axis=1)(
            torch.as_tensor(x), torch.as_tensor(x), torch.ones(5, 1, dtype=torch.float64)
        )
        raise RuntimeError("stop after the compilation")
        yield

    monkeypatch.setattr(keops_compile, "_library_exists", lambda _path: False)
    monkeypatch.setattr(registration.Registration, "run", compiling_run)
    counted = []  # the census before the set-up (core.keops_census), asked for since no warm-up ran
    monkeypatch.setattr(warmup, "formulas_to_compile", lambda *args: counted.append(args) or 3)
    monkeypatch.setattr(window.warmup, "run_may_compile", lambda: True)
    statuses, progress = [], []
    window.run.status.connect(statuses.append)
    window.run.progress.connect(lambda *args: progress.append(args))
    quick_settings(window)
    window.start_run()
    qtbot.waitUntil(lambda: not window.run.running, timeout=60_000)
    assert len(counted) == 1 and counted[0][2].landmark_weight == 0.0
    assert any(s.startswith("Compiling KeOps formula 1 of 3 for this machine") for s in statuses), statuses
    assert (0, 3, "compiling formula 1 of 3") in progress and (1, 3, "compiled formula 1 of 3") in progress
    assert "KeOps: compiling formula 1 of 3" in window.log_panel.toPlainText()


def test_a_keops_failure_in_the_worker_is_said_in_the_window_and_the_run_goes_on(window, qtbot, monkeypatch):
    from shapeviewer.core import backends
    from tests.core.test_keops_fallback import fail_first_fidelity_set_up

    monkeypatch.setattr(backends, "_keops_broken", None)
    fail_first_fidelity_set_up(monkeypatch)
    quick_settings(window, iterations=2, steps=4)
    run_to_end(qtbot, window)
    assert window.run.final.status in ("finished", "converged")
    qtbot.waitUntil(lambda: "warning: KeOps failed" in window.log_panel.toPlainText())


def test_about_names_the_version_licence_and_the_libraries_in_use(window):
    import torch

    about = next(a for a in window.findChildren(type(window.actions.run)) if a.text() == "&About shapeviewer")
    about.trigger()
    text = window.last_dialog.text()
    assert "MIT License" in text and torch.__version__ in text
    for name in ("KeOps", "VTK", "Qt"):
        assert f"<td>{name}</td>" in text
    window.last_dialog.close()


def test_the_window_has_the_project_icon(window):
    icon = window.windowIcon()
    assert not icon.isNull() and not icon.pixmap(32, 32).toImage().isNull()


def test_max_iterations_and_levels_are_in_view_without_scrolling(window):
    """The less used settings fold away under one line that says their values."""
    p = window.parameters
    scroll = p.parentWidget().parentWidget().parentWidget()
    viewport = scroll.viewport()
    for field in (p.iterations, p.levels, p.tolerance):
        bottom = field.mapTo(viewport, field.rect().bottomLeft()).y()
        assert 0 <= bottom <= viewport.height(), field
    toggle = p.advanced_toggle
    summary = p.advanced_summary.text()
    assert not p.steps.isVisible() and "10 steps" in summary and "euler" in summary
    p.steps.setValue(7)
    assert "7 steps" in p.advanced_summary.text()
    toggle.click()
    assert p.steps.isVisible() and not p.advanced_summary.isVisible()


def test_the_app_refuses_the_kernel_scales_the_command_line_refuses(window):
    window.parameters.kernel.text.setText("cauchy(1e9)")
    assert not window.run_button.isEnabled() and "x the source's size" in window.run_problem.text()
    window.parameters.kernel.text.setText("cauchy(0.5)")
    assert window.run_button.isEnabled()


def test_a_preset_kernel_comes_back_as_its_preset(window):
    editor = window.parameters.kernel
    editor.set_spec("gaussian(0.3)")
    assert editor.preset.currentText() == "gaussian" and abs(editor.scales[0].value() - 0.3) < 1e-9
    editor.set_spec("0.5*gaussian(0.4) + cauchy(1)")
    assert editor.preset.currentText() == "custom string"


def test_the_paint_hint_goes_once_the_mask_is_painted(window):
    panel = window.paint_panel
    panel.paint.setChecked(True)
    assert panel.hint.text()
    panel.clear.click()
    assert panel.hint.text() == ""


def test_identical_source_and_target_say_no_mismatch_was_gained(window, qtbot):
    window.load_pair(window.paths["source"], window.paths["source"])
    quick_settings(window, iterations=2, steps=3)
    run_to_end(qtbot, window)
    title = window.loss_plot.getPlotItem().titleLabel.text
    assert "−100" not in title and "mismatch unchanged" in title
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a loss of 0 has no place on the log axis: no dot, no NaN warning
        window.loss_plot.refresh()
        window.loss_plot.grab()
