"""The deformation scene off screen (no Qt): frames in place, colouring, overlay decimation."""

import numpy as np
import pyvista as pv

from shapeviewer.io.demo import make_demo_pair
from shapeviewer.render.scene import DISPLACEMENT, DeformationScene, overlay_mesh, polydata


def _scene():
    source, target = make_demo_pair(resolution=12)
    plotter = pv.Plotter(off_screen=True, window_size=(320, 240))
    return plotter, DeformationScene(plotter, source.vertices, source.faces, target.vertices, target.faces), source


def test_frames_overwrite_the_same_points_and_displacement():
    plotter, scene, source = _scene()
    points_array = scene.mesh.GetPoints().GetData()
    trajectory = np.stack([source.vertices + [0.1 * t, 0, 0] for t in range(4)])
    scene.set_trajectory(trajectory)
    scene.show_frame(3)
    assert scene.mesh.GetPoints().GetData() is points_array  # updated in place, no new actor or array
    np.testing.assert_allclose(scene.mesh.points, trajectory[3])
    np.testing.assert_allclose(scene.mesh.point_data[DISPLACEMENT], 0.3)
    np.testing.assert_allclose(scene.actor.mapper.scalar_range, (0.0, 0.3))  # one range for the whole geodesic
    plotter.close()


def test_colouring_only_once_there_is_a_deformation():
    plotter, scene, source = _scene()
    scene.color_by_displacement(True)
    assert not scene.actor.mapper.scalar_visibility and DISPLACEMENT not in plotter.scalar_bars
    scene.set_trajectory(np.stack([source.vertices, source.vertices + 0.2]))
    assert scene.actor.mapper.scalar_visibility and DISPLACEMENT in plotter.scalar_bars
    image = plotter.screenshot(return_img=True)
    assert image.std() > 5
    plotter.close()


def test_large_overlays_are_decimated_small_ones_kept():
    small = polydata(*[np.asarray(a) for a in (pv.Sphere().points, pv.Sphere().faces.reshape(-1, 4)[:, 1:])])
    assert overlay_mesh(small) is small
    big = pv.Sphere(theta_resolution=200, phi_resolution=200)
    reduced = overlay_mesh(big, max_points=5000)
    assert 3000 < reduced.n_points <= 5500
