"""Cost of one brush step while painting a 100k-vertex source in the real window (Xvfb, software GL).

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python benchmarks/brush_step.py [--vertices 100000]

A step = the neighbour search and weight update (core), the in-place scalar update of the view, and a
render of the source/target view. Prints median and worst over a stroke, against the 16 ms target.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from meshes import mesh_of_size, window_on_mesh  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--vertices", type=int, default=100_000)
    parser.add_argument("--steps", type=int, default=60)
    args = parser.parse_args()
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    vertices, faces = mesh_of_size(args.vertices)
    win = window_on_mesh(app, vertices, faces)
    win.paint_panel.paint.setChecked(True)
    app.processEvents()
    paint, view = win.paint, win.inputs.view
    path = vertices[np.argsort(vertices[:, 0])[:: max(1, len(vertices) // args.steps)]][: args.steps]
    core, full = [], []
    paint.begin_stroke()
    for point in path:
        t0 = time.perf_counter()
        paint.painter.stroke_step(point, paint.brush)
        t1 = time.perf_counter()
        paint.step(point)  # core again + scalar update + legend
        view.render()
        full.append(time.perf_counter() - t1)
        core.append(t1 - t0)
    paint.end_stroke()
    core_ms, full_ms = 1000 * np.array(core), 1000 * np.array(full)
    print(
        f"brush step on {len(vertices)} vertices (radius {paint.brush.radius:.3g}): neighbour search + update "
        f"{np.median(core_ms):.1f} ms median; with view update and render {np.median(full_ms):.1f} ms median, "
        f"{full_ms.max():.1f} ms worst (target median 16 ms: ratio {np.median(full_ms) / 16:.2f})"
    )
    win.setWindowModified(False)
    win.close()


if __name__ == "__main__":
    main()
