"""The input views turn together, each centred on its own mesh: a target far away or in another pose is
not drawn small and off-centre (one shared camera did that)."""

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt

from shapeviewer.core.alignment import RigidTransform
from shapeviewer.io.meshes import read_mesh, write_mesh

ROLES = ("source", "target")


@pytest.fixture
def far_pair(tmp_path, small_pair):
    source = read_mesh(small_pair[0])
    turn = RigidTransform(np.eye(3), np.array([40.0, -25.0, 10.0]), 0.5)  # far away and half as large
    path = tmp_path / "far.ply"
    write_mesh(path, turn.apply(source.vertices), source.faces)
    return small_pair[0], path


def _extent(window, role: str) -> float:
    """How wide the mesh is drawn, as a fraction of its view's width."""
    view = window.inputs.view
    renderer = view.renderers[ROLES.index(role)]
    xs = []
    for p in window.doc.meshes[role].vertices:
        renderer.SetWorldPoint(*p, 1.0)
        renderer.WorldToDisplay()
        xs.append(renderer.GetDisplayPoint()[0])
    return (max(xs) - min(xs)) / (view.width() / 2)


def _direction(camera) -> np.ndarray:
    d = np.array(camera.GetFocalPoint()) - np.array(camera.GetPosition())
    return d / np.linalg.norm(d)


def test_a_far_small_target_fills_its_own_view(window, far_pair):
    assert window.load_pair(*far_pair)
    window.inputs.view.render()
    extents = [_extent(window, role) for role in ROLES]
    assert min(extents) > 0.2 and extents[1] == pytest.approx(extents[0], rel=0.05)  # drawn alike
    centre = window.doc.meshes["target"].vertices.mean(0)
    focal = np.array(window.inputs.cameras.camera(1).GetFocalPoint())
    assert np.linalg.norm(focal - centre) < 0.2 * np.ptp(window.doc.meshes["target"].vertices, axis=0).max()


def test_turning_one_view_turns_the_other_about_its_own_mesh(window, far_pair, qtbot):
    assert window.load_pair(*far_pair)
    view, sync = window.inputs.view, window.inputs.cameras
    view.render()
    focal = np.array(sync.camera(1).GetFocalPoint())
    before = _direction(sync.camera(0))
    start = QPoint(view.width() // 8, view.height() // 2)  # on the source's side, off the mesh is fine
    qtbot.mousePress(view, Qt.MouseButton.LeftButton, pos=start)
    for k in range(1, 6):
        qtbot.mouseMove(view, start + QPoint(12 * k, 4 * k))
    qtbot.mouseRelease(view, Qt.MouseButton.LeftButton, pos=start + QPoint(60, 20))
    after = _direction(sync.camera(0))
    assert np.degrees(np.arccos(np.clip(before @ after, -1, 1))) > 5  # the drag turned the source's view
    np.testing.assert_allclose(_direction(sync.camera(1)), after, atol=1e-9)
    np.testing.assert_allclose(sync.camera(1).GetViewUp(), sync.camera(0).GetViewUp(), atol=1e-9)
    np.testing.assert_allclose(sync.camera(1).GetFocalPoint(), focal)  # still centred on the target
    sync.camera(1).Zoom(2.0)  # zooming one zooms the other, relative to its mesh
    ratio = [sync.camera(i).GetDistance() / sync.sizes[i] for i in (0, 1)]
    assert ratio[0] == pytest.approx(ratio[1])
