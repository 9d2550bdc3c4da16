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


def test_large_meshes_play_as_an_exact_subset_stand_in():
    sphere = pv.Sphere(theta_resolution=120, phi_resolution=120)
    vertices = np.asarray(sphere.points, dtype=np.float64)
    faces = sphere.faces.reshape(-1, 4)[:, 1:]
    plotter = pv.Plotter(off_screen=True, window_size=(200, 150))
    scene = DeformationScene(plotter, vertices, faces, vertices + 1, faces)
    scene.lod_threshold, scene.overlay_lod_threshold = 5000, 3000
    trajectory = np.stack([vertices * (1 + 0.1 * t) for t in range(4)])
    scene.set_trajectory(trajectory)
    scene.prepare_playback()  # built ahead (on loading): pressing Play rebuilds nothing
    proxy, target_fast = scene.proxy, scene.target_fast
    scene.set_fast(True)
    assert scene.proxy is proxy and scene.target_fast is target_fast
    assert scene.fast and scene.proxy_actor.GetVisibility() and not scene.actor.GetVisibility()
    assert scene.proxy.mesh.n_points <= 5500
    assert scene.target_actor.mapper.GetInput().GetNumberOfPoints() <= 3300  # the target is lighter too
    for frame in (2, 3):  # the second frame too: the first once overwrote the stand-in's rest shape
        scene.show_frame(frame)
        np.testing.assert_allclose(scene.proxy.mesh.points, trajectory[frame][scene.proxy.index])
        moved = np.linalg.norm(trajectory[frame] - vertices, axis=1)[scene.proxy.index]  # coloured by it
        np.testing.assert_allclose(scene.proxy.mesh.point_data[DISPLACEMENT], moved)
    scene.set_fast(False)  # paused: the exact mesh at the same frame
    assert scene.actor.GetVisibility() and not scene.proxy_actor.GetVisibility()
    assert scene.target_actor.mapper.GetInput().GetNumberOfPoints() == scene.target.n_points
    np.testing.assert_allclose(scene.mesh.points, trajectory[3])
    plotter.close()


def test_a_stand_in_is_made_of_the_meshs_own_vertices_and_carries_their_values():
    """Snapped to the mesh's vertices (a plain index away), no folded triangles, the same surface."""
    from shapeviewer.render.stand_in import VertexSubsetStandIn

    sphere = pv.Sphere(theta_resolution=150, phi_resolution=150)
    sphere.point_data["weights"] = np.arange(sphere.n_points, dtype=np.float64)
    stand_in = VertexSubsetStandIn(sphere, np.asarray(sphere.points, dtype=np.float64), 2000)
    assert 1500 < stand_in.mesh.n_points <= 2200
    np.testing.assert_array_equal(stand_in.mesh.points, np.asarray(sphere.points)[stand_in.index])
    np.testing.assert_array_equal(stand_in.mesh.point_data["weights"], stand_in.index)
    triangles = stand_in.mesh.regular_faces
    assert (np.diff(np.sort(triangles, axis=1), axis=1) > 0).all()
    assert abs(stand_in.mesh.area / sphere.area - 1) < 0.02


def test_a_mesh_coloured_alone_by_distance_spans_the_whole_scale():
    plotter, scene, source = _scene()
    scene.set_trajectory(np.stack([source.vertices, source.vertices + 0.2]))
    scene.show_frame(1)
    to_target = np.linspace(0.0, 0.05, len(source.vertices))
    to_source = np.linspace(0.0, 0.4, len(scene.target_vertices))  # the other direction's far larger maximum
    scene.set_distances(1, to_target, to_source)
    scene.set_colouring("distance")
    np.testing.assert_allclose(scene.actor.mapper.scalar_range, (0.0, 0.05))  # the source's own top
    scene.colour_target(True)  # both coloured: one scale, so that equal colours mean equal distances
    np.testing.assert_allclose(scene.actor.mapper.scalar_range, (0.0, 0.4))
    np.testing.assert_allclose(scene.target_actor.mapper.scalar_range, (0.0, 0.4))
    scene.set_colouring("plain")  # the target alone
    np.testing.assert_allclose(scene.target_actor.mapper.scalar_range, (0.0, 0.4))
    plotter.close()
