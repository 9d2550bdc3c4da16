"""The surface distance map: colours of the result view, the Distances tab, exports, against closed forms.

The pair is a flat grid and the same grid moved by D along its normal: every distance, both ways, is D.
A geodesic that moves the source onto the target in T equal steps has distance D (1 - k / T) at frame k.
"""

import json

import numpy as np
import pytest
import pyvista as pv
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QFileDialog

from shapeviewer.core.registration import Report
from shapeviewer.core.surface_distance import DISTANCE_TO_TARGET
from shapeviewer.io.meshes import read_mesh, write_mesh
from shapeviewer.qt import export_actions
from shapeviewer.render.scene import DISTANCE, DISTANCE_BAR, TARGET_DISTANCE

D = 0.05  # the target is the source moved by D along +z
STEPS = 4


def grid(n=8):
    u, v = np.meshgrid(np.linspace(0, 1, n), np.linspace(0, 1, n), indexing="ij")
    vertices = np.c_[u.ravel(), v.ravel(), np.zeros(n * n)]
    faces = []
    for i in range(n - 1):
        for j in range(n - 1):
            a, b, c, d = i * n + j, (i + 1) * n + j, (i + 1) * n + j + 1, i * n + j + 1
            faces += [(a, b, c), (a, c, d)]
    return vertices, np.array(faces)


@pytest.fixture
def planes(window, tmp_path):
    """The window showing a grid and the grid moved by D (no result yet: frame 0 is the source)."""
    vertices, faces = grid()
    write_mesh(tmp_path / "plane.ply", vertices, faces)
    write_mesh(tmp_path / "shifted.ply", vertices + [0, 0, D], faces)
    assert window.load_pair(tmp_path / "plane.ply", tmp_path / "shifted.ply")
    window.side_tabs.setCurrentIndex(window.side_tabs.count() - 1)  # Display
    window.bottom_tabs.setCurrentWidget(window.distances_panel)
    return window


def set_geodesic(window, steps=STEPS):
    """A geodesic that moves the source straight onto the target: frame k is at height D k / steps."""
    rest = window.meshes["source"].vertices
    trajectory = np.stack([rest + [0, 0, D * k / steps] for k in range(steps + 1)])
    rep = Report(3, 0.1, 0.1, 0.0, 1.0, trajectory, np.zeros((len(rest), 3)), status="finished", fidelity_initial=1)
    window.doc.set_result(rep, info={"backend": "torch"}, control_index=None)
    return trajectory


def vtp_point_data(path) -> dict:
    return {k: np.asarray(v) for k, v in pv.read(path).point_data.items()}


def ply_vertex_properties(path) -> dict:
    """The vertex properties of a binary little-endian PLY of doubles (as exported)."""
    data = path.read_bytes()
    end = data.index(b"end_header\n") + len(b"end_header\n")
    lines = data[:end].decode().splitlines()
    count = int(next(x for x in lines if x.startswith("element vertex")).split()[2])
    start = lines.index(next(x for x in lines if x.startswith("element vertex")))
    names = []
    for line in lines[start + 1 :]:
        if not line.startswith("property double"):
            break
        names.append(line.split()[2])
    table = np.frombuffer(data, dtype=[(n, "<f8") for n in names], count=count, offset=end)
    return {n: table[n] for n in names}


def click(qtbot, button):
    """On the indicator: a radio button or check box takes clicks on its indicator and text only."""
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton, pos=QPoint(6, button.height() // 2))


def test_a_shifted_plane_is_at_distance_d_everywhere_both_ways(planes, qtbot):
    window = planes
    click(qtbot, window.display.colour_distance)
    click(qtbot, window.display.target_distance)
    scene = window.result.scene
    qtbot.waitUntil(lambda: window.distances.current is not None)
    np.testing.assert_allclose(scene.mesh.point_data[DISTANCE], D, rtol=1e-9)
    np.testing.assert_allclose(scene.target.point_data[TARGET_DISTANCE], D, rtol=1e-9)
    assert scene.actor.mapper.scalar_visibility and scene.actor.mapper.array_name == DISTANCE
    assert scene.target_actor.mapper.scalar_visibility
    assert list(window.result.view.scalar_bars.keys()) == [DISTANCE_BAR]  # one scale, with the mesh's units
    assert window.result.view.legend.GetEntryString(0) == "source: colour = distance to target"  # no geodesic yet
    assert window.result.view.legend.GetEntryString(1) == "target: colour = distance to source"
    text = window.distances_panel.summary.text()
    assert "frame 0 of 0" in text and f"<b>{D:.4g}</b>" in text  # the Hausdorff distance
    assert text.count(f"{D:.4g}") == 9  # mean, RMS, 95%, max both ways, and Hausdorff
    x, y = window.distances_panel.curves["source"].getData()
    assert y[-1] == pytest.approx(100.0) and x[-1] == pytest.approx(D)  # every vertex in the last bin, at D
    click(qtbot, window.display.colour_plain)
    assert not scene.actor.mapper.scalar_visibility
    assert list(window.result.view.scalar_bars.keys()) == [DISTANCE_BAR]  # the target is still coloured
    click(qtbot, window.display.target_distance)
    assert not window.result.view.scalar_bars.keys() and not scene.target_actor.mapper.scalar_visibility
    assert window.result.view.legend.GetEntryString(1) == "target"


def test_the_map_follows_the_frame_shown(planes, qtbot):
    window = planes
    click(qtbot, window.display.colour_distance)
    set_geodesic(window)
    scene = window.result.scene
    for k in (STEPS, 1, 2):
        window.playback.seek(k)
        expected = D * (1 - k / STEPS)
        assert window.distances.current.frame == k
        np.testing.assert_allclose(scene.mesh.point_data[DISTANCE], expected, atol=1e-12)
        assert window.distances.current.distances.hausdorff == pytest.approx(expected)
        assert f"frame {k} of {STEPS}" in window.distances_panel.summary.text()
        assert f"<b>{expected:.4g}</b>" in window.distances_panel.summary.text()
        bar = window.result.view.scalar_bars[DISTANCE_BAR]
        assert bar.GetLookupTable().GetRange()[1] == pytest.approx(max(expected, 1e-4 * scene.size))
    window.playback.play()  # a small pair is measured at every frame; the tab follows at most 10 times a second
    qtbot.wait(400)
    window.playback.pause()
    k = window.playback.index
    np.testing.assert_allclose(scene.mesh.point_data[DISTANCE], D * (1 - k / STEPS), atol=1e-12)
    assert f"frame {k} of {STEPS}" in window.distances_panel.summary.text()


def test_playback_measures_small_pairs_only_when_their_distance_colours_are_shown(planes, qtbot):
    window = planes
    set_geodesic(window)  # coloured by displacement (the default)
    window.playback.play()
    qtbot.waitUntil(lambda: window.playback.index not in (0, STEPS))
    assert window.distances.current is None  # the Distances tab waits for the pause
    window.playback.pause()
    assert window.distances.current.frame == window.playback.index
    click(qtbot, window.display.colour_distance)
    paused_at = window.playback.index
    window.playback.play()
    qtbot.waitUntil(lambda: window.playback.index not in (0, STEPS, paused_at))
    assert window.distances.current.frame == window.playback.index  # measured frame by frame
    window.playback.pause()


def test_large_pairs_are_measured_off_the_gui_thread_once_playback_stops(planes, qtbot):
    window = planes
    window.distances.sync_max_triangles = 0  # measure this small pair as if it were large
    click(qtbot, window.display.colour_distance)
    set_geodesic(window)
    scene = window.result.scene
    qtbot.waitUntil(lambda: window.distances.current is not None and window.distances.current.frame == STEPS)
    np.testing.assert_allclose(scene.mesh.point_data[DISTANCE], 0.0, atol=1e-12)
    window.playback.play()
    qtbot.waitUntil(lambda: window.playback.index != STEPS)
    assert window.distances.current is None and not scene.actor.mapper.scalar_visibility  # plain while playing
    assert "measured when the result view settles" in window.distances_panel.summary.text()
    qtbot.wait(300)
    assert window.distances.current is None  # nothing measured during playback
    window.playback.pause()
    k = window.playback.index
    qtbot.waitUntil(lambda: window.distances.current is not None)
    assert window.distances.current.frame == k and scene.actor.mapper.scalar_visibility
    np.testing.assert_allclose(scene.mesh.point_data[DISTANCE], D * (1 - k / STEPS), atol=1e-12)


def test_exports_carry_the_distance_map_and_the_summary(planes, qtbot, tmp_path, monkeypatch):
    window = planes
    set_geodesic(window)
    window.playback.seek(1)
    for name, read in (("frame.vtp", vtp_point_data), ("frame.ply", ply_vertex_properties)):
        monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, n=name, **k: (str(tmp_path / n), ""))
        export_actions.export_current_mesh(window)
        mesh = read_mesh(tmp_path / name)
        np.testing.assert_allclose(mesh.vertices, window.doc.result.trajectory[1])
        values = read(tmp_path / name)[DISTANCE_TO_TARGET]
        np.testing.assert_allclose(values, D * (1 - 1 / STEPS), rtol=1e-9)
        np.testing.assert_allclose(read(tmp_path / name)["displacement"], D / STEPS, rtol=1e-9)
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(tmp_path / "seq.vtp"), ""))
    export_actions.export_sequence(window)
    for k in range(STEPS + 1):
        values = vtp_point_data(tmp_path / f"seq_{k:03d}.vtp")[DISTANCE_TO_TARGET]
        np.testing.assert_allclose(values, D * (1 - k / STEPS), atol=1e-9)
    window.playback.seek(STEPS - 1)  # the summary is of the last frame whatever the frame shown
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(tmp_path / "summary.json"), ""))
    export_actions.export_summary(window)
    data = json.loads((tmp_path / "summary.json").read_text())["surface_distance"]
    assert data["hausdorff"] == pytest.approx(0.0, abs=1e-12)
    assert set(data["source_to_target"]) == {"mean", "rms", "p95", "max", "count"}
    assert data["target_to_source"]["count"] == 64


def test_exporting_a_frame_not_yet_measured_measures_one_way_only(planes, qtbot, tmp_path, monkeypatch):
    """A large pair's frame is measured in the background once still; an export before that measures the
    source's distances to the target only (the other way, half the work, is not written)."""
    window = planes
    set_geodesic(window)
    window.distances.sync_max_triangles = 0  # measured in the background, as a large pair
    window.playback.seek(2)
    assert window.distances.current is None or window.distances.current.frame != 2

    def both_ways(*args, **kwargs):
        raise AssertionError("measured both ways for a one-way export")

    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(tmp_path / "frame.vtp"), ""))
    with monkeypatch.context() as m:
        m.setattr(window.distances, "measure", both_ways)
        export_actions.export_current_mesh(window)
    values = vtp_point_data(tmp_path / "frame.vtp")[DISTANCE_TO_TARGET]
    np.testing.assert_allclose(values, D * (1 - 2 / STEPS), rtol=1e-9)


def test_the_summary_of_a_run_matches_the_command_lines_numbers(window, qtbot, tmp_path, monkeypatch):
    from gui_helpers import quick_settings, run_to_end

    from shapeviewer.core.surface_distance import surface_distances

    quick_settings(window, iterations=2, steps=3)
    window.display.colour_distance.setChecked(True)  # chosen before the run: the map follows its geodesics
    run_to_end(qtbot, window)
    final = window.run.final.trajectory[-1]
    src, tgt = window.meshes["source"], window.meshes["target"]
    expected = surface_distances(final, src.faces, tgt.vertices, tgt.faces).to_json()  # as cli_inspect does
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(tmp_path / "s.json"), ""))
    export_actions.export_summary(window)
    data = json.loads((tmp_path / "s.json").read_text())["surface_distance"]
    for key in ("source_to_target", "target_to_source"):
        assert data[key] == pytest.approx(expected[key])
    assert data["hausdorff"] == pytest.approx(expected["hausdorff"])
    shown = window.distances.current
    assert shown.frame == 3 and shown.distances.hausdorff == pytest.approx(expected["hausdorff"])
    distances = surface_distances(final, src.faces, tgt.vertices, tgt.faces)
    np.testing.assert_allclose(window.result.scene.mesh.point_data[DISTANCE], distances.to_target)
    assert expected["hausdorff"] > 0


def test_a_measuring_process_that_dies_is_replaced_and_a_lost_measurement_said(planes, qtbot):
    """The background measurement runs in its own process. Killed between frames (say, out of memory), the
    next frame starts a new one; a measurement lost with it is said in a dialog."""
    from concurrent.futures import Future
    from concurrent.futures.process import BrokenProcessPool

    window = planes
    window.distances.sync_max_triangles = 0
    click(qtbot, window.display.colour_distance)
    set_geodesic(window)
    qtbot.waitUntil(lambda: window.distances.current is not None, timeout=30_000)
    process = window.distances._process
    (first,) = process._executor._processes.values()
    first.kill()
    first.join(10)
    window.playback.seek(2)
    qtbot.waitUntil(lambda: (window.distances.current or 0) and window.distances.current.frame == 2, timeout=30_000)
    np.testing.assert_allclose(window.result.scene.mesh.point_data[DISTANCE], D * (1 - 2 / STEPS), atol=1e-12)
    (second,) = process._executor._processes.values()
    assert second.pid != first.pid and window.last_dialog is None

    lost = Future()
    lost.set_exception(BrokenProcessPool("a child process terminated abruptly"))
    window.distances._done(lost, window.distances._key)
    qtbot.waitUntil(lambda: window.last_dialog is not None)
    assert "ended unexpectedly" in window.last_dialog.text() and process._executor is None
