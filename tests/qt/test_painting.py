"""Painting mu weights on the source: strokes from real mouse events, modes, undo, files, use in runs."""

import subprocess
import sys

import numpy as np
import pytest
from gui_helpers import quick_settings, rendered, run_to_end
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QFileDialog

from shapeviewer.io.masks import save_mask


def _pixel_of(window, point) -> QPoint:
    view = window.inputs.view
    view.render()
    renderer = view.renderers[0]
    renderer.SetWorldPoint(*point, 1.0)
    renderer.WorldToDisplay()
    x, y, _ = renderer.GetDisplayPoint()
    return QPoint(int(x), int(view.height() - y))


def _visible_vertex(window) -> np.ndarray:
    source = np.asarray(window.inputs.meshes["source"].points)
    eye = np.array(window.inputs.view.renderers[0].GetActiveCamera().GetPosition())
    return source[np.argmin(((source - eye) ** 2).sum(1))]


def _drag(qtbot, window, start: QPoint, end: QPoint, steps: int = 5) -> None:
    view = window.inputs.view
    qtbot.mouseMove(view, start)
    qtbot.mousePress(view, Qt.MouseButton.LeftButton, pos=start)
    for k in range(1, steps + 1):
        qtbot.mouseMove(view, start + (end - start) * (k / steps))
    qtbot.mouseRelease(view, Qt.MouseButton.LeftButton, pos=end)


def test_a_drag_in_paint_mode_paints_one_undo_step_and_keeps_the_camera(window, qtbot):
    panel, paint = window.paint_panel, window.paint
    panel.clear.click()
    assert not paint.weights.any() and not window.run_button.isEnabled()  # all-zero mask refused
    assert "zero everywhere" in window.run_problem.text()
    panel.paint.setChecked(True)
    camera = window.inputs.view.camera_position
    start = _pixel_of(window, _visible_vertex(window))
    _drag(qtbot, window, start, start + QPoint(12, 3))
    assert paint.weights.max() > 0.3 and (paint.weights == 0).sum() > 0.5 * len(paint.weights)
    assert window.inputs.view.camera_position == camera  # painting did not rotate the view
    assert window.inputs.view.renderers[1].GetDraw()  # the target view is drawn again after the stroke
    assert paint.cursor_actor is not None and paint.cursor_actor.GetVisibility()
    assert paint.undo_stack.count() == 2  # clear + one stroke
    assert window.run_button.isEnabled()
    painted = paint.weights.copy()
    panel.undo_action.trigger()
    assert not paint.weights.any()
    panel.redo_action.trigger()
    np.testing.assert_array_equal(paint.weights, painted)


def test_outside_paint_mode_a_drag_turns_the_camera_and_paints_nothing(window, qtbot):
    before = window.paint.weights.copy()
    camera = window.inputs.view.camera_position
    start = _pixel_of(window, _visible_vertex(window))
    _drag(qtbot, window, start, start + QPoint(60, 10))
    np.testing.assert_array_equal(window.paint.weights, before)
    assert window.inputs.view.camera_position != camera


def test_buttons_fill_invert_and_refuse_a_region_fill_without_a_brush_position(window, qtbot):
    panel, paint = window.paint_panel, window.paint
    panel.value.setValue(0.25)
    panel.fill_all.click()
    assert np.all(paint.weights == 0.25)
    panel.invert.click()
    assert np.allclose(paint.weights, 0.75)
    panel.fill_region.click()
    assert "Move the brush" in window.last_dialog.text()
    assert paint.undo_stack.count() == 2


def test_mask_files_round_trip_and_bad_ones_change_nothing(window, tmp_path, monkeypatch):
    panel, paint = window.paint_panel, window.paint
    n = len(paint.weights)
    weights = np.linspace(0, 1, n)
    paint.set_weights(weights)
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(tmp_path / "m.vtp"), ""))
    panel.save.click()
    paint.set_weights(np.ones(n))
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(tmp_path / "m.vtp"), ""))
    panel.load.click()
    np.testing.assert_allclose(paint.weights, weights)
    np.save(tmp_path / "short.npy", np.ones(n - 1))
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(tmp_path / "short.npy"), ""))
    panel.load.click()
    assert "short.npy" in window.last_dialog.text() and f"({n},)" in window.last_dialog.text()
    np.testing.assert_allclose(paint.weights, weights)


def test_influence_view_is_high_where_the_mask_is_heavy(window):
    """Influence = weight x Sinkhorn scaling (the effective mass): painted parts lead, not the reverse."""
    n = len(window.paint.weights)
    heavy = np.arange(n) < n // 2
    window.paint.set_weights(np.where(heavy, 1.0, 0.05))
    window.paint_panel.influence.setChecked(True)
    values = np.asarray(window.inputs.meshes["source"].point_data["shown values"])
    assert window.inputs.values_title == "influence"
    assert np.isfinite(values).all() and values.min() > 0 and values.max() == pytest.approx(1.0)
    assert np.median(values[heavy]) > 3 * np.median(values[~heavy])
    assert "leads the deformation" in window.status_line.text()


def test_painted_mask_drives_the_run_like_the_command_line(window, qtbot, tmp_path):
    quick_settings(window, iterations=2, steps=3)
    run_to_end(qtbot, window)
    uniform = window.run.final.trajectory[-1]
    source = window.meshes["source"]
    mask = np.where(source.vertices[:, 0] > 0, 1.0, 0.05)
    save_mask(tmp_path / "mask.npy", mask, source.vertices, source.faces)
    window.paint.set_weights(np.load(tmp_path / "mask.npy"))
    window.run.final = None
    run_to_end(qtbot, window)
    masked = window.run.final.trajectory[-1]
    assert np.abs(masked - uniform).max() > 1e-3  # the mask changed the result
    p = window.parameters
    cli = [
        sys.executable,
        "-m",
        "shapeviewer",
        "register",
        str(window.paths["source"]),
        str(window.paths["target"]),
        "--out",
        str(tmp_path / "cli"),
        "--mask",
        str(tmp_path / "mask.npy"),
        "--kernel",
        p.kernel.text.text(),
        "--steps",
        "3",
        "--iterations",
        "2",
        "--backend",
        "torch",
        "--integrator",
        "euler",
        "--fidelity-scale",
        str(p.fidelity_scale.value()),
        "--regularization",
        str(p.regularization.value()),
    ]
    subprocess.run(cli, check=True, capture_output=True)
    from shapeviewer.io.meshes import read_mesh

    np.testing.assert_allclose(read_mesh(tmp_path / "cli" / "deformed.vtp").vertices, masked, atol=1e-4)


def test_painted_region_is_visible(window, qtbot):
    n = len(window.paint.weights)
    window.paint.set_weights(np.where(np.arange(n) < n // 2, 1.0, 0.0))
    image = rendered(window.inputs.view)
    left = image[:, : image.shape[1] // 2].astype(int)
    dark_purple = (left[..., 2] > left[..., 1] + 40) & (left[..., 0] < 120)  # low end of 'plasma'
    yellow = (left[..., 0] > 200) & (left[..., 1] > 180) & (left[..., 2] < 120)  # high end
    assert dark_purple.mean() > 0.002 and yellow.mean() > 0.002
    assert window.inputs.values_title == "weight"


def test_zero_weight_regions_keep_the_run_and_the_influence_finite(window, qtbot):
    source = window.meshes["source"]
    window.paint.set_weights(np.where(source.vertices[:, 0] > 0, 1.0, 0.0))
    window.paint_panel.influence.setChecked(True)
    shown = np.asarray(window.inputs.meshes["source"].point_data["shown values"])
    assert np.isfinite(shown).all()
    assert (shown[source.vertices[:, 0] <= 0] == 0).all() and (shown[source.vertices[:, 0] > 0] > 0).all()
    assert "follow it passively" in window.status_line.text()
    quick_settings(window, iterations=2, steps=3)
    run_to_end(qtbot, window)
    assert window.run.final.status in ("finished", "converged")
    assert np.isfinite(window.run.final.trajectory).all()


def test_radius_slider_spin_box_and_bracket_keys_agree(window, qtbot):
    panel, brush = window.paint_panel, window.paint.brush
    panel.radius_slider.setValue(panel.radius_slider.maximum())
    assert brush.radius == pytest.approx(0.5 * panel.shape_size, rel=1e-3)
    window.activateWindow()
    qtbot.waitActive(window)
    window.inputs.view.setFocus()
    qtbot.waitUntil(window.inputs.view.hasFocus)
    qtbot.keyClick(window.inputs.view, "[")
    assert brush.radius == pytest.approx(0.4 * panel.shape_size, rel=1e-3)
    assert panel.radius.value() == pytest.approx(brush.radius, rel=1e-3)
    assert panel.radius_slider.value() < panel.radius_slider.maximum()


def test_large_sources_paint_through_a_stand_in_and_end_exact(window, qtbot, monkeypatch):
    from shapeviewer.qt import paint_controller

    n = len(window.paint.weights)
    monkeypatch.setattr(paint_controller, "STROKE_STAND_IN_ABOVE", n // 2)  # as if this mesh were large
    monkeypatch.setattr(paint_controller, "STROKE_STAND_IN_POINTS", (2 * n) // 3)
    paint, view = window.paint, window.inputs.view
    window.paint_panel.clear.click()
    window.paint_panel.paint.setChecked(True)
    start = _pixel_of(window, _visible_vertex(window))
    qtbot.mouseMove(view, start)
    qtbot.mousePress(view, Qt.MouseButton.LeftButton, pos=start)
    qtbot.mouseMove(view, start + QPoint(6, 2))
    stand_in = paint._stand_in
    assert stand_in is not None and stand_in.actor.GetVisibility()  # mid-stroke: the lighter copy
    assert not window.inputs.actors["source"].GetVisibility()
    shown = np.asarray(stand_in.proxy.mesh.point_data["shown values"])
    np.testing.assert_array_equal(shown, paint.weights[stand_in.proxy.index])
    qtbot.mouseRelease(view, Qt.MouseButton.LeftButton, pos=start + QPoint(6, 2))
    assert window.inputs.actors["source"].GetVisibility() and not stand_in.actor.GetVisibility()
    full = np.asarray(window.inputs.meshes["source"].point_data["shown values"])
    np.testing.assert_array_equal(full, paint.weights)  # exact again, every vertex
    assert paint.weights.max() > 0.3 and paint.undo_stack.count() == 2


def test_hovering_the_brush_sets_the_region_to_fill(window, qtbot):
    panel = window.paint_panel
    panel.paint.setChecked(True)
    spot = _pixel_of(window, _visible_vertex(window))
    qtbot.mouseMove(window.inputs.view, spot + QPoint(3, 3))  # a real move, wherever the cursor was
    qtbot.mouseMove(window.inputs.view, spot)
    panel.value.setValue(0.4)
    panel.fill_region.click()
    assert np.allclose(window.paint.weights, 0.4)  # the demo source is one connected piece
    assert window.paint.undo_stack.count() == 1


def test_a_loaded_mask_replaces_a_refusal_in_the_status_and_a_new_source_says_it_drops_the_mask(
    window, tmp_path, small_pair
):
    from shapeviewer.qt.mask_actions import load_mask_file

    n = window.meshes["source"].n_vertices
    np.save(tmp_path / "short.npy", np.ones(n - 1))
    window.show_error = lambda *args: window.status_line.setText(f"Cannot load the mask: {args[1]}")  # no dialog
    assert not load_mask_file(window, tmp_path / "short.npy")
    np.save(tmp_path / "half.npy", np.r_[np.zeros(n // 2), np.ones(n - n // 2)])
    assert load_mask_file(window, tmp_path / "half.npy")
    assert window.status_line.text() == f"Loaded the mask half.npy ({n // 2} of {n} vertices at weight 0)"
    assert window.load_mesh("source", small_pair[0])
    assert "the mask of the previous source was dropped" in window.log_panel.toPlainText()
    assert window.paint.mask() is None
