"""Landmarks in the app: placed, moved and deleted with real clicks, undone, read and written, used for the
pre-alignment and in the registration, listed with their errors, and kept in sessions."""

import json

import numpy as np
import pytest
from gui_helpers import quick_settings, run_to_end
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QFileDialog

from shapeviewer.core.alignment import RigidTransform
from shapeviewer.io.landmarks import read_landmarks
from shapeviewer.io.meshes import read_mesh, write_mesh

ROLES = ("source", "target")


def _pixel(window, role: str, point) -> QPoint:
    view = window.inputs.view
    view.render()
    renderer = view.renderers[ROLES.index(role)]
    renderer.SetWorldPoint(*[float(c) for c in point], 1.0)
    renderer.WorldToDisplay()
    x, y, _ = renderer.GetDisplayPoint()
    return QPoint(round(x), round(view.height() - y))


def _front_vertex(window, role: str) -> np.ndarray:
    """A vertex facing the camera, a little off the silhouette's centre (so two of them differ)."""
    points = np.asarray(window.inputs.meshes[role].points)
    eye = np.array(window.inputs.view.renderers[ROLES.index(role)].GetActiveCamera().GetPosition())
    return points[np.argsort(((points - eye) ** 2).sum(1))[0]]


def _click(qtbot, window, pos: QPoint) -> None:
    view = window.inputs.view
    qtbot.mouseMove(view, pos)
    qtbot.mousePress(view, Qt.MouseButton.LeftButton, pos=pos)
    qtbot.mouseRelease(view, Qt.MouseButton.LeftButton, pos=pos)


def _place(qtbot, window, role: str, point) -> None:
    _click(qtbot, window, _pixel(window, role, point))


def _table(window) -> list[list[str]]:
    t = window.landmark_panel.table
    return [[t.item(i, j).text() for j in range(t.columnCount())] for i in range(t.rowCount())]


def test_clicks_place_numbered_pairs_on_the_surfaces_and_the_list_shows_them(window, qtbot):
    lm = window.doc.landmarks
    point = _front_vertex(window, "source")
    _place(qtbot, window, "source", point)
    assert lm.count("source") == 0, "outside placement mode a click only turns the camera"

    qtbot.mouseClick(window.landmark_panel.place, Qt.MouseButton.LeftButton)
    assert window.side_tabs.currentWidget() is window.landmark_tab
    camera = window.inputs.view.camera_position.to_list()
    _place(qtbot, window, "source", point)
    assert lm.labels("source") == ["1"]
    size = np.ptp(window.doc.meshes["source"].vertices, axis=0).max()
    assert np.linalg.norm(lm.points["source"]["1"] - point) < 0.03 * size  # where the click was, on the surface
    assert window.inputs.view.camera_position.to_list() == camera, "placing must not turn the camera"
    assert "place 1 on the target next" in window.status_line.text()

    _place(qtbot, window, "target", _front_vertex(window, "target"))
    assert lm.labels("target") == ["1"]
    assert _table(window) == [["1", "placed", "placed", ""]]
    assert "1 pairs" in window.landmark_panel.summary.text()
    assert "landmarks-source-points" in window.inputs.view.renderers[0].actors  # the labelled points are drawn


def test_a_landmark_is_dragged_along_the_surface_deleted_and_undone(window, qtbot):
    lm = window.doc.landmarks
    source = window.doc.meshes["source"]
    start = _front_vertex(window, "source")
    lm.add("source", start)
    window.landmark_panel.place.setChecked(True)
    view = window.inputs.view
    a = _pixel(window, "source", start)
    b = a + QPoint(12, 8)
    qtbot.mouseMove(view, a)
    qtbot.mousePress(view, Qt.MouseButton.LeftButton, pos=a)
    for k in range(1, 5):
        qtbot.mouseMove(view, a + (b - a) * (k / 4))
    qtbot.mouseRelease(view, Qt.MouseButton.LeftButton, pos=b)
    moved = lm.points["source"]["1"]
    assert lm.labels("source") == ["1"] and not np.allclose(moved, start)
    from shapeviewer.core.surface_distance import SurfaceIndex

    on_surface = SurfaceIndex(source.vertices, source.faces).query(moved[None])[0][0]
    assert on_surface < 1e-6 * np.ptp(source.vertices, axis=0).max()
    assert window.landmark_control.selected == ("source", "1")

    view.setFocus()
    qtbot.keyClick(view, Qt.Key.Key_Delete)
    assert lm.count("source") == 0
    window.landmark_panel.undo_action.trigger()
    assert np.allclose(lm.points["source"]["1"], moved)
    window.landmark_panel.undo_action.trigger()  # before the drag
    assert np.allclose(lm.points["source"]["1"], start)
    # with the Landmarks tab shown, Ctrl+Z is the landmarks' (the mask's undo gives its shortcut up)
    assert window.landmark_panel.undo_action.shortcut().toString() == "Ctrl+Z"
    assert window.paint_panel.undo_action.shortcut().isEmpty()
    window.side_tabs.setCurrentIndex(1)
    assert window.paint_panel.undo_action.shortcut().toString() == "Ctrl+Z"


def test_the_table_selects_and_deletes_and_new_labels_fill_the_gap(window, qtbot):
    lm = window.doc.landmarks
    v = window.doc.meshes["source"].vertices
    for i in range(3):
        lm.add("source", v[i])
    window.landmark_panel.table.selectRow(1)
    assert window.landmark_control.selected == ("source", "2")
    qtbot.mouseClick(window.landmark_panel.delete, Qt.MouseButton.LeftButton)
    assert lm.labels("source") == ["1", "3"]
    assert lm.add("source", v[5]) == "2"  # pairs with the target's 2


def test_landmark_files_round_trip_and_bad_ones_say_what_is_wrong(window, tmp_path, monkeypatch):
    lm = window.doc.landmarks
    v = window.doc.meshes["source"].vertices
    for i in (0, 7, 20):
        lm.add("source", v[i])
    out = tmp_path / "src.mrk.json"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(out), ""))
    window.landmark_panel.file_buttons["export", "source"].click()
    assert np.allclose(read_landmarks(out).points, v[[0, 7, 20]])

    tgt = window.doc.meshes["target"].vertices
    csv = tmp_path / "tgt.csv"
    csv.write_text("name,x,y,z\n" + "".join(f"p{i},{x},{y},{z}\n" for i, (x, y, z) in enumerate(tgt[[1, 2, 3]])))
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(csv), ""))
    window.landmark_panel.file_buttons["import", "target"].click()
    assert lm.labels("target") == ["1", "2", "3"]  # no label matched: paired by order, and said so
    assert "pair by order" in window.status_line.text()
    assert np.allclose(lm.array("target"), tgt[[1, 2, 3]])

    far = tmp_path / "far.csv"
    far.write_text("name,x,y,z\nnose,100,100,100\n")
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(far), ""))
    window.landmark_panel.file_buttons["import", "source"].click()
    assert "nose" in window.last_dialog.text() and "surface" in window.last_dialog.text()
    assert lm.count("source") == 3, "a refused file changes nothing"

    broken = tmp_path / "broken.mrk.json"
    broken.write_text("{not json")
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(broken), ""))
    window.landmark_panel.file_buttons["import", "source"].click()
    assert "broken.mrk.json" in window.last_dialog.text()


@pytest.fixture
def moved_pair(tmp_path, small_pair):
    """The small source, and as target the same mesh turned by 40 degrees, scaled by 1.3 and shifted."""
    source = read_mesh(small_pair[0])
    angle = np.radians(40.0)
    rot = np.array([[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]])
    truth = RigidTransform(rot, np.array([0.5, -0.2, 0.3]), 1.3, "similarity")
    path = tmp_path / "moved.ply"
    write_mesh(path, truth.apply(source.vertices), source.faces)
    return small_pair[0], path, truth


def test_similarity_from_landmark_pairs_recovers_a_known_pose_and_moves_the_start(window, moved_pair, qtbot):
    assert window.load_pair(moved_pair[0], moved_pair[1])
    truth = moved_pair[2]
    v = window.doc.meshes["source"].vertices
    lm = window.doc.landmarks
    for i in (0, 11, 23, 40):
        lm.add("source", v[i])
        lm.add("target", truth.apply(v[i][None])[0])
    window.landmark_panel.align_kind.setCurrentText("similarity")
    qtbot.mouseClick(window.landmark_panel.align_button, Qt.MouseButton.LeftButton)
    got = window.doc.alignment
    assert got is not None and got.method == "landmarks"
    assert np.allclose(got.matrix, truth.matrix, atol=1e-9)
    text = window.landmark_panel.alignment_text.text()
    assert "40.00 deg" in text and "scale 1.3" in text
    # the result view starts from the aligned source: on the target already
    assert np.allclose(window.result.displayed_points, window.doc.meshes["target"].vertices, atol=1e-9)

    out = window.doc.meshes["target"].vertices
    assert np.allclose(out, truth.apply(v))
    qtbot.mouseClick(window.landmark_panel.align_reset, Qt.MouseButton.LeftButton)
    assert window.doc.alignment is None
    assert np.allclose(window.result.displayed_points, v)


def test_without_landmarks_the_alignment_is_icp_and_the_matrix_exports(
    window, moved_pair, qtbot, tmp_path, monkeypatch
):
    assert window.load_pair(moved_pair[0], moved_pair[1])
    window.landmark_panel.align_kind.setCurrentText("similarity")
    qtbot.mouseClick(window.landmark_panel.align_button, Qt.MouseButton.LeftButton)
    got = window.doc.alignment
    assert got.method == "icp" and got.scale == pytest.approx(1.3, rel=1e-4)
    # the demo source is symmetric: any of its symmetries composed with the truth fits as well
    from scipy.spatial import cKDTree

    gap = cKDTree(window.doc.meshes["target"].vertices).query(window.result.displayed_points)[0]
    assert gap.max() < 1e-4
    # the run registers the source scaled by 1.3: the default scales follow its size, as 'register --align' does
    panel = window.parameters
    moved = got.apply(window.doc.meshes["source"].vertices)
    assert panel.shape_size == pytest.approx(np.linalg.norm(np.ptp(moved, 0)))  # was the unscaled source's
    assert panel.settings().fidelity_scale == pytest.approx(0.1 * panel.shape_size, rel=1e-3)
    assert "scales now follow the source's size (1.3x)" in window.status_line.text()
    kernel = panel.settings().model.kernel
    assert window.session.save(tmp_path / "aligned.svsession")
    window.load_pair(moved_pair[0], moved_pair[1])  # sizes back to the unscaled source's
    assert window.session.open(tmp_path / "aligned.svsession")
    assert panel.shape_size == pytest.approx(np.linalg.norm(np.ptp(moved, 0)))  # reopened: the run's source size
    assert panel.settings().model.kernel == kernel  # and the saved scales as they were
    out = tmp_path / "m.txt"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(out), ""))
    qtbot.mouseClick(window.landmark_panel.matrix_button, Qt.MouseButton.LeftButton)
    assert np.allclose(np.loadtxt(out), got.matrix)


def test_landmark_weight_needs_partners_then_the_run_lists_each_error_and_the_session_keeps_all(
    window, moved_pair, qtbot, tmp_path
):
    assert window.load_pair(moved_pair[0], moved_pair[1])
    truth = moved_pair[2]
    quick_settings(window, iterations=4)
    v = window.doc.meshes["source"].vertices
    lm = window.doc.landmarks
    for i in (0, 11, 23):
        lm.add("source", v[i])
        lm.add("target", truth.apply(v[i][None])[0])
    lm.add("source", v[40])  # no partner yet
    window.parameters.landmark_weight.setValue(1.0)
    assert not window.run_button.isEnabled()
    assert "landmark 4 has no partner on the target" in window.run_problem.text()
    lm.add("target", truth.apply(v[40][None])[0])
    assert window.run_button.isEnabled()

    window.landmark_panel.align_kind.setCurrentText("rigid")  # a rigid start leaves the scale to the flow
    qtbot.mouseClick(window.landmark_panel.align_button, Qt.MouseButton.LeftButton)
    run_to_end(qtbot, window)
    res = window.doc.result
    errors = res.landmark_errors()
    assert list(errors) == ["1", "2", "3", "4"]
    initial = np.linalg.norm(window.doc.alignment.apply(v[[0, 11, 23, 40]]) - truth.apply(v[[0, 11, 23, 40]]), axis=1)
    assert np.mean(list(errors.values())) < np.mean(initial), "the flow brings the landmarks closer"
    rows = _table(window)
    assert [r[0] for r in rows] == ["1", "2", "3", "4"] and all(r[3] for r in rows)
    assert "mean error" in window.landmark_panel.summary.text()
    assert res.info["alignment"]["kind"] == "rigid"
    from shapeviewer.document.summary import summary

    exported = json.loads(json.dumps(summary(window.doc)))
    assert exported["landmark_errors"] == pytest.approx(errors)
    assert np.allclose(exported["alignment"]["matrix"], window.doc.alignment.matrix)
    # the carried landmarks are drawn along the geodesic
    moving = window.result.view.actors.get("landmarks-deformed-points")
    assert moving is not None
    drawn = np.asarray(moving.mapper.dataset.points)
    assert np.allclose(drawn, res.report.landmark_trajectory[window.doc.frame])
    gaps = window.result.view.actors["landmarks-gap"].mapper.dataset  # each carried landmark to its target
    assert gaps.n_lines == 4
    assert np.allclose(np.asarray(gaps.points)[4:], truth.apply(v[[0, 11, 23, 40]]))

    path = tmp_path / "lm.svsession"
    assert window.session.save(path)
    saved = {"alignment": window.doc.alignment, "points": lm.to_json(), "errors": errors}
    window.load_demo()
    assert window.doc.landmarks.count("source") == 0 and window.doc.alignment is None
    assert window.session.open(path)
    assert window.doc.landmarks.to_json() == saved["points"]
    assert window.doc.alignment == saved["alignment"]
    assert window.doc.result.landmark_errors() == pytest.approx(saved["errors"])
    assert [r[3] for r in _table(window)] == [r[3] for r in rows]
    assert json.loads(json.dumps(lm.to_json()))  # plain JSON in the file


def test_landmark_layer_colouring_and_tracked_point_survive_a_session(window, qtbot, tmp_path):
    v = window.doc.meshes["source"].vertices
    window.doc.landmarks.add("source", v[0])
    window.doc.landmarks.add("target", window.doc.meshes["target"].vertices[0])
    assert "landmarks-source-points" in window.inputs.view.renderers[0].actors
    assert "landmarks-deformed-points" in window.result.view.actors  # before a run: where the run starts
    window.layers.set_visible("Landmarks", False)
    assert "landmarks-source-points" not in window.inputs.view.renderers[0].actors
    assert "landmarks-deformed-points" not in window.result.view.actors
    window.display.colour_distance.setChecked(True)
    window.display.target_distance.setChecked(True)
    window.correspondence.track(3, [0.2, 0.3, 0.5])
    path = tmp_path / "hidden.svsession"
    assert window.session.save(path)
    window.layers.set_visible("Landmarks", True)
    window.display.colour_plain.setChecked(True)
    window.display.target_distance.setChecked(False)
    assert window.session.open(path)
    assert window.layers.layers["Landmarks"].visible is False
    assert window.display.colouring_choice() == "distance" and window.display.target_distance.isChecked()
    assert window.correspondence.triangle == 3 and window.correspondence.weights.tolist() == [0.2, 0.3, 0.5]
    assert "landmarks-source-points" not in window.inputs.view.renderers[0].actors
    qtbot.mouseClick(window.landmark_panel.place, Qt.MouseButton.LeftButton)  # placing shows them again
    assert window.layers.layers["Landmarks"].visible is True
    assert "landmarks-source-points" in window.inputs.view.renderers[0].actors


def test_aligning_over_a_result_asks_first_and_edited_landmarks_lose_their_error(window, moved_pair, qtbot):
    assert window.load_pair(moved_pair[0], moved_pair[1])
    truth = moved_pair[2]
    quick_settings(window, iterations=2)
    v = window.doc.meshes["source"].vertices
    lm = window.doc.landmarks
    for i in (0, 11):
        lm.add("source", v[i])
        lm.add("target", truth.apply(v[i][None])[0])
    window.landmark_panel.align_kind.setCurrentText("rigid")
    qtbot.mouseClick(window.landmark_panel.align_button, Qt.MouseButton.LeftButton)
    reason = window.landmark_panel.alignment_text.text()
    assert "started from the pose that brings the 2 landmark pairs closest (3 are needed to fit them)" in reason
    run_to_end(qtbot, window)
    assert [r[3] != "" for r in _table(window)] == [True, True]

    lm.move("source", "1", v[3])  # an edited landmark has no error until the next run
    assert [r[3] for r in _table(window)][0] == "" and _table(window)[1][3] != ""

    qtbot.mouseClick(window.landmark_panel.align_button, Qt.MouseButton.LeftButton)  # the same pose: nothing
    assert window.doc.result is not None and "nothing changed" in window.status_line.text()
    asked = []
    window.ask_yes_no = lambda title, text: asked.append(text) or False
    window.landmark_panel.align_kind.setCurrentText("similarity")
    qtbot.mouseClick(window.landmark_panel.align_button, Qt.MouseButton.LeftButton)
    assert "discards the registration shown" in asked[0] and window.doc.result is not None
    window.ask_yes_no = lambda title, text: True
    qtbot.mouseClick(window.landmark_panel.align_button, Qt.MouseButton.LeftButton)
    assert window.doc.result is None and window.doc.alignment.kind == "similarity"
    assert window.progress.text() == ""  # nothing left of the run that went
    window.loss_plot.refresh()
    assert "ended before" not in window.loss_plot.getPlotItem().titleLabel.text


def test_align_is_in_view_without_scrolling_on_a_small_screen(window, qtbot):
    window.resize(1280, 760)
    window.side_tabs.setCurrentWidget(window.landmark_tab)
    qtbot.wait(50)
    viewport = window.landmark_tab.viewport()
    button = window.landmark_panel.align_button
    assert 0 <= button.mapTo(viewport, button.rect().bottomLeft()).y() <= viewport.height()
    v = window.doc.meshes["source"].vertices
    for i in range(12):  # a long list scrolls inside the table; the alignment stays where it was
        window.doc.landmarks.add("source", v[i])
    assert 0 <= button.mapTo(viewport, button.rect().bottomLeft()).y() <= viewport.height()


def test_a_press_off_the_mesh_while_placing_says_so(window, qtbot):
    qtbot.mouseClick(window.landmark_panel.place, Qt.MouseButton.LeftButton)
    _place(qtbot, window, "source", _front_vertex(window, "source"))
    assert window.doc.landmarks.count("source") == 1
    _click(qtbot, window, QPoint(3, window.inputs.view.height() - 3))  # the source view's empty corner
    assert window.doc.landmarks.count("source") == 1
    assert "No source surface under the pointer" in window.status_line.text()  # not "Placed source landmark 1"
