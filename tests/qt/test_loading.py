"""Opening meshes through the window: files, drag and drop, bad files, recent pairs, views."""

import numpy as np
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication

from shapeviewer.io.meshes import read_mesh
from shapeviewer.qt import settings_store


def test_pair_is_shown_in_both_views_and_run_is_possible(window, small_pair):
    n = read_mesh(small_pair[0]).n_vertices
    assert window.inputs.meshes["source"].n_points == n
    assert window.inputs.meshes["target"].n_points == read_mesh(small_pair[1]).n_vertices
    assert window.result.scene is not None and window.result.scene.mesh.n_points == n
    assert window.run_button.isEnabled()
    assert QApplication.overrideCursor() is None
    assert "Ready" in window.status_line.text()


def test_corrupt_file_gives_a_dialog_naming_it_and_keeps_the_old_mesh(window, tmp_path, qtbot):
    bad = tmp_path / "broken.ply"
    bad.write_bytes(b"ply\nformat ascii 1.0\nelement vertex 3\nend_header\n1 2\n")
    before = np.array(window.inputs.meshes["source"].points)
    assert not window.load_mesh("source", bad)
    assert QApplication.overrideCursor() is None  # the wait cursor is gone before the dialog shows
    dialog = window.last_dialog
    qtbot.waitUntil(dialog.isVisible)
    assert "broken.ply" in dialog.text()
    np.testing.assert_array_equal(window.inputs.meshes["source"].points, before)
    assert window.meshes["source"].n_vertices == len(before)
    assert "broken.ply" in window.log_panel.toPlainText()
    dialog.close()
    assert window.run_button.isEnabled()


def _drop(widget, paths, x_fraction):
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    pos = QPointF(widget.width() * x_fraction, widget.height() / 2)
    args = (Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    enter = QDragEnterEvent(pos.toPoint(), *args)  # Qt delivers a drop only after an accepted enter
    QApplication.sendEvent(widget, enter)
    assert enter.isAccepted()
    QApplication.sendEvent(widget, QDropEvent(pos, *args))


def test_dropping_a_file_on_the_right_half_replaces_the_target(window, human):
    path = window.paths["source"].parent / "dropped.ply"
    from shapeviewer.io.meshes import write_mesh

    write_mesh(path, human.vertices, human.faces)
    _drop(window.inputs.view, [path], 0.8)
    assert window.paths["target"] == path
    assert window.inputs.meshes["target"].n_points == human.n_vertices
    assert window.meshes["source"].n_vertices != human.n_vertices  # the source did not change


def test_recent_pairs_are_remembered_and_reopen(window, small_pair):
    assert settings_store.recent_pairs()[0] == (str(small_pair[0]), str(small_pair[1]))
    actions = window.actions.recent_menu.actions()
    assert actions and small_pair[0].name in actions[0].text()
    window.load_demo()
    assert window.paths["source"].name == "demo_source.ply"
    assert len(window.actions.recent_menu.actions()) == 1  # the bundled demo is neither recent nor a folder
    assert settings_store.last_folder() == str(small_pair[0].parent)  # Open starts where the user's files are
    from shapeviewer.io.demo import demo_paths

    assert window.load_pair(*demo_paths())  # opened by its paths ('shapeviewer gui resources/demo/...'): the same
    assert settings_store.last_folder() == str(small_pair[0].parent)
    window.actions.recent_menu.actions()[0].trigger()
    assert window.paths["source"] == small_pair[0]


def test_source_and_target_views_turn_together(window):
    view = window.inputs.view
    left, right = view.renderers[0].GetActiveCamera(), view.renderers[1].GetActiveCamera()
    before = right.GetPosition()
    left.Azimuth(40)
    direction = [np.subtract(c.GetFocalPoint(), c.GetPosition()) for c in (left, right)]
    direction = [d / np.linalg.norm(d) for d in direction]
    np.testing.assert_allclose(direction[1], direction[0], atol=1e-12)  # each about its own mesh (test_input_cameras)
    assert right.GetPosition() != before


def test_display_toggles_change_what_is_drawn(window):
    d, scene = window.display, window.result.scene
    d.wireframe.setChecked(True)
    assert scene.actor.GetProperty().GetRepresentationAsString() == "Wireframe"
    assert window.inputs.actors["source"].GetProperty().GetRepresentationAsString() == "Wireframe"
    d.target.setChecked(False)
    assert not scene.target_actor.GetVisibility()
    d.kernel_scale.setChecked(True)
    sphere = window.inputs.kernel_sphere
    assert sphere is not None
    bounds = np.array(sphere.GetBounds())
    sigma = window.parameters.kernel.kernel.largest_scale
    assert abs((bounds[1] - bounds[0]) / 2 - sigma) < 0.02 * sigma


def test_gui_subcommand_needs_both_files(capsys):
    from shapeviewer.cli import main

    assert main(["gui", "only_one.ply"]) == 2
    assert "both SOURCE and TARGET" in capsys.readouterr().err


def test_k_over_the_source_moves_the_kernel_sphere_there(window, qtbot):
    from PySide6.QtCore import QPoint

    window.display.kernel_scale.setChecked(True)
    inputs, view = window.inputs, window.inputs.view
    source = np.asarray(inputs.meshes["source"].points)
    view.render()  # camera and viewport as shown
    renderer = view.renderers[0]
    camera = np.array(renderer.GetActiveCamera().GetPosition())
    tip = source[np.argmin(((source - camera) ** 2).sum(1))]  # the vertex nearest the eye is visible
    renderer.SetWorldPoint(*tip, 1.0)
    renderer.WorldToDisplay()
    x, y, _ = renderer.GetDisplayPoint()
    before_pick = inputs.kernel_center.copy()
    qtbot.mouseMove(view, QPoint(int(x) + 7, int(view.height() - y) + 5))  # a move to the cursor's place sends nothing
    qtbot.mouseMove(view, QPoint(int(x), int(view.height() - y)))
    qtbot.keyClick(view, "k")
    assert not np.allclose(inputs.kernel_center, before_pick)
    assert np.linalg.norm(inputs.kernel_center - tip) < 0.1 * np.ptp(source[:, 0])
    bounds = np.array(inputs.kernel_sphere.GetBounds())
    np.testing.assert_allclose((bounds[::2] + bounds[1::2]) / 2, inputs.kernel_center, atol=1e-6)
    before = inputs.kernel_center.copy()
    qtbot.mouseMove(view, QPoint(2, 2))  # empty background: nothing picked, nothing moves
    qtbot.keyClick(view, "k")
    np.testing.assert_array_equal(inputs.kernel_center, before)


def test_gui_without_a_display_says_so(monkeypatch, capsys):
    from shapeviewer.cli import main

    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    assert main([]) == 2
    assert "no display" in capsys.readouterr().err


def test_window_size_is_remembered(qtbot):
    from shapeviewer.qt.main_window import MainWindow

    first = MainWindow()
    qtbot.addWidget(first)
    first.show()
    first.resize(1111, 777)
    qtbot.waitUntil(lambda: first.width() == 1111)
    first.close()
    second = MainWindow()
    qtbot.addWidget(second)
    assert (second.width(), second.height()) == (1111, 777)


def test_a_target_far_from_the_source_stays_in_its_view(window, data_dir):
    """The views share one camera; the target must not fall outside the clipping range of its renderer."""
    from gui_helpers import rendered

    assert window.load_pair(data_dir / "human.ply", data_dir / "finger1.ply")
    image = rendered(window.inputs.view).astype(int)
    right = image[:, image.shape[1] // 2 :]
    blue = (right[..., 2] > right[..., 0] + 60) & (right[..., 2] > 120)
    assert blue.mean() > 0.002  # finger1 drawn in blue in the target's half
