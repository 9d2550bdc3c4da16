"""GUI responsiveness while a registration runs on the CPU, and playback speed of a 50k-vertex mesh.

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python benchmarks/gui_responsiveness.py [--seconds 30]

Part 1 registers finger0 -> finger1 (2046 vertices, default settings) in the real window and records a
10 ms QTimer heartbeat on the GUI thread: the longest gap between beats is the worst stall a user feels.
Part 2 loads a ~50k-vertex mesh, gives the result view an 11-frame geodesic and plays it at 60 fps
requested, drawn in full and then as the app does (a 20k-vertex stand-in while playing, exact when
paused); it counts the frames VTK actually rendered per second and the cost of one full frame.
Targets (issue 3): no stall over 100 ms, playback at 30 fps or more.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from meshes import DATA, mesh_of_size, smooth_deformation, window_on_mesh  # noqa: E402


def heartbeat_during_run(app, seconds: float, source: Path, target: Path) -> dict:
    from PySide6.QtCore import QTimer

    from shapeviewer.qt.main_window import MainWindow

    win = MainWindow()
    win.show()
    win.load_pair(source, target)
    app.processEvents()
    beats: list[float] = []
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: beats.append(time.perf_counter()))
    win.start_run()
    timer.start()
    end = time.perf_counter() + seconds
    while time.perf_counter() < end and win.run.running:
        app.processEvents()
        time.sleep(0.001)
    timer.stop()
    win.run.stop()
    win.run.shutdown()
    gaps = np.diff(beats) * 1000
    result = {
        "reports": win.run.reports_received,
        "frames_applied": win.run.frames_applied,
        "max_gap_ms": float(gaps.max()),
        "p99_gap_ms": float(np.percentile(gaps, 99)),
        "median_gap_ms": float(np.median(gaps)),
        "backend": win.run.info.get("backend"),
    }
    win.setWindowModified(False)  # no "save the session?" question
    win.close()
    return result


def playback_rate(app, n_vertices: int, seconds: float = 3.0, stand_in: bool = True) -> dict:
    vertices, faces = mesh_of_size(n_vertices)
    win = window_on_mesh(app, vertices, faces)
    target = smooth_deformation(vertices)
    trajectory = np.stack([vertices + t * (target - vertices) for t in np.linspace(0, 1, 11)])
    win.result.scene.set_trajectory(trajectory)
    if not stand_in:
        win.result.scene.lod_threshold = float("inf")  # draw the full mesh while playing too
    win.playback_bar.set_frame_count(len(trajectory))
    view = win.result.view
    renders: list[float] = []
    view.ren_win.AddObserver("EndEvent", lambda *_: renders.append(time.perf_counter()))
    costs = []
    for i in range(30):  # one frame, drawn now: overwrite points + displacement, render
        t0 = time.perf_counter()
        win.result.scene.show_frame(i % 11)
        view.render()
        costs.append(time.perf_counter() - t0)
    win.playback_bar.fps.setValue(60)
    renders.clear()
    win.playback.play()
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        app.processEvents()
    win.playback.pause()
    fps = (len(renders) - 1) / (renders[-1] - renders[0]) if len(renders) > 1 else 0.0
    win.setWindowModified(False)  # no "save the session?" question
    win.close()
    return {
        "vertices": len(vertices),
        "fps_at_60_requested": fps,
        "frame_ms_median": 1000 * float(np.median(costs)),
        "frame_ms_max": 1000 * float(np.max(costs)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=30.0, help="how long to watch the registration")
    parser.add_argument("--playback-vertices", type=int, default=50_000)
    args = parser.parse_args()
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    run = heartbeat_during_run(app, args.seconds, DATA / "finger0.ply", DATA / "finger1.ply")
    print(
        f"registration ({run['backend']}): {run['reports']} reports, {run['frames_applied']} frame updates shown; "
        f"GUI heartbeat gap median {run['median_gap_ms']:.1f} ms, p99 {run['p99_gap_ms']:.1f} ms, "
        f"max {run['max_gap_ms']:.1f} ms (target <= 100 ms: ratio {run['max_gap_ms'] / 100:.2f})"
    )
    exact = playback_rate(app, args.playback_vertices, stand_in=False)
    print(
        f"playback of {exact['vertices']} vertices drawn in full: {exact['fps_at_60_requested']:.1f} frames "
        "rendered per second at 60 requested"
    )
    play = playback_rate(app, args.playback_vertices)
    print(
        f"playback of {play['vertices']} vertices (20k-vertex stand-in while playing): "
        f"{play['fps_at_60_requested']:.1f} "
        "frames rendered per second "
        "at 60 requested; "
        f"one frame {play['frame_ms_median']:.1f} ms median, {play['frame_ms_max']:.1f} ms max "
        f"(target >= 30 fps: ratio {play['fps_at_60_requested'] / 30:.2f})"
    )


if __name__ == "__main__":
    main()
