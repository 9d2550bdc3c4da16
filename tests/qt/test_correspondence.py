"""The tracked point: picked with real key presses and clicks on the VTK views, followed along a known flow.

The geodesic is affine per frame, x_k = A_k x_0 + b_k, so the material point picked at p_0 on the source
is at A_k p_0 + b_k at frame k, whatever triangle and weights the pick found.
"""

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt

from shapeviewer.core.registration import Report
from shapeviewer.qt.correspondence import HOW_TO

STEPS = 4


def affine(k: int) -> tuple[np.ndarray, np.ndarray]:
    """A_k, b_k: a growing rotation about z, a stretch along x and a shift."""
    angle = 0.15 * k
    c, s = np.cos(angle), np.sin(angle)
    rotation = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])
    return rotation @ np.diag([1 + 0.1 * k, 1, 1]), np.array([0.05 * k, -0.02 * k, 0.03 * k])


def set_affine_geodesic(window) -> np.ndarray:
    rest = window.meshes["source"].vertices
    trajectory = np.stack([rest @ affine(k)[0].T + affine(k)[1] for k in range(STEPS + 1)])
    rep = Report(2, 0.1, 0.1, 0.0, 1.0, trajectory, np.zeros((len(rest), 3)), status="finished", fidelity_initial=1)
    window.doc.set_result(rep, info={}, control_index=None)
    return trajectory


def display_position(view, renderer, point) -> QPoint:
    """Where ``point`` is drawn in ``view``, in Qt widget coordinates."""
    view.render()
    renderer.SetWorldPoint(*point, 1.0)
    renderer.WorldToDisplay()
    x, y, _ = renderer.GetDisplayPoint()
    return QPoint(int(round(x)), int(round(view.height() - y)))


def visible_vertex(points, renderer) -> int:
    eye = np.array(renderer.GetActiveCamera().GetPosition())
    return int(np.argmin(((points - eye) ** 2).sum(1)))


def assert_follows_the_flow(window, p0, size):
    """Marker at A_k p0 + b_k at frames STEPS, 1, 2; the drawn path is the same points."""
    tracker = window.correspondence
    for k in (STEPS, 1, 2):
        window.playback.seek(k)
        A, b = affine(k)
        marker = np.asarray(tracker._marker.points)[0]
        np.testing.assert_allclose(marker, A @ p0 + b, atol=1e-9 * size)
        assert f"frame {k}:" in tracker.panel.where.text()
    path = np.asarray(window.result.view.renderer.actors["tracked-path"].GetMapper().GetInput().GetPoints().GetData())
    expected = np.stack([affine(k)[0] @ p0 + affine(k)[1] for k in range(STEPS + 1)])
    np.testing.assert_allclose(path, expected, atol=1e-9 * size)


def test_p_over_the_source_tracks_that_point_along_the_geodesic(window, qtbot):
    trajectory = set_affine_geodesic(window)
    source = window.meshes["source"].vertices
    size = float(np.ptp(source, axis=0).max())
    inputs = window.inputs
    renderer = inputs.view.renderers[0]
    vertex = visible_vertex(source, renderer)
    camera = renderer.GetActiveCamera().GetPosition()
    props = renderer.GetViewProps().GetNumberOfItems()
    target = display_position(inputs.view, renderer, source[vertex])
    qtbot.mouseMove(inputs.view, target + QPoint(7, 5))  # a move to where the cursor already is sends nothing
    qtbot.mouseMove(inputs.view, target)
    qtbot.keyClick(inputs.view, "p")
    tracker = window.correspondence
    assert tracker.active and vertex in window.meshes["source"].faces[tracker.triangle]
    assert renderer.GetViewProps().GetNumberOfItems() == props + 1  # the marker; not VTK's own P outline
    p0 = tracker.on_source()
    assert np.linalg.norm(p0 - source[vertex]) < 0.03 * size  # the point under the mouse, within a pixel or two
    assert renderer.GetActiveCamera().GetPosition() == camera
    np.testing.assert_allclose(inputs.view.renderer.actors["tracked-point"].GetMapper().GetInput().points[0], p0)
    assert_follows_the_flow(window, p0, size)
    window.playback.seek(STEPS)
    marker = np.asarray(tracker._marker.points)[0]
    assert np.linalg.norm(marker - trajectory[STEPS, vertex]) < 0.05 * size  # where that vertex went


def test_a_click_in_track_mode_picks_on_the_deformed_source_and_clear_removes_it(window, qtbot):
    set_affine_geodesic(window)
    window.playback.seek(2)
    view, renderer = window.result.view, window.result.view.renderer
    shown = window.result.scene.trajectory[2]
    size = float(np.ptp(shown, axis=0).max())
    vertex = visible_vertex(shown, renderer)
    at = display_position(view, renderer, shown[vertex])
    tracker = window.correspondence
    qtbot.mouseClick(view, Qt.MouseButton.LeftButton, pos=at)
    assert not tracker.active  # track mode is off: a click turns the camera, it picks nothing
    window.side_tabs.setCurrentIndex(window.side_tabs.count() - 1)  # Display
    qtbot.waitUntil(lambda: tracker.panel.pick.height() > 0)  # laid out once its tab shows
    qtbot.mouseClick(tracker.panel.pick, Qt.MouseButton.LeftButton)
    assert tracker.picking and window.status_line.text() == HOW_TO
    camera = renderer.GetActiveCamera().GetPosition()
    qtbot.mouseClick(view, Qt.MouseButton.LeftButton, pos=at)
    assert tracker.active and renderer.GetActiveCamera().GetPosition() == camera
    A, b = affine(2)
    p0 = np.linalg.solve(A, np.asarray(tracker._marker.points)[0] - b)  # the material point on the source
    np.testing.assert_allclose(tracker.on_source(), p0, atol=1e-9 * size)
    assert np.linalg.norm(A @ p0 + b - shown[vertex]) < 0.03 * size  # what was under the mouse
    assert_follows_the_flow(window, p0, size)
    qtbot.mouseClick(tracker.panel.clear, Qt.MouseButton.LeftButton)
    assert not tracker.active and "tracked-point" not in renderer.actors
    assert "tracked-path" not in renderer.actors and "tracked-point" not in window.inputs.view.renderer.actors
    assert not tracker.panel.clear.isEnabled()


def test_a_new_source_or_geodesic_keeps_the_point_honest(window, qtbot, small_pair):
    set_affine_geodesic(window)
    tracker = window.correspondence
    tracker.track_vertex(5)
    window.playback.seek(STEPS)
    np.testing.assert_allclose(tracker._marker.points[0], window.result.scene.trajectory[STEPS, 5])
    trajectory = set_affine_geodesic(window) * 1.5  # another geodesic: the path is redrawn from it
    window.doc.set_result(
        Report(2, 0.1, 0.1, 0.0, 1.0, trajectory, np.zeros((len(trajectory[0]), 3)), fidelity_initial=1), info={}
    )
    np.testing.assert_allclose(tracker.trajectory(), trajectory[:, 5])
    assert window.load_mesh("source", small_pair[1])  # a new source: the old point means nothing on it
    assert not tracker.active and "tracked-point" not in window.result.view.renderer.actors
    with pytest.raises(ValueError, match="barycentric"):
        tracker.track(0, [0.5, 0.6, 0.0])
