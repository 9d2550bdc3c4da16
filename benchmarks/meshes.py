"""Benchmark meshes of chosen sizes, resampled from the real scans in tests/data."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parents[1] / "tests" / "data"
# Where exported meshes are read from on machines without pyvista (the GPU check).
EXPORTED = os.environ.get("SHAPEVIEWER_BENCH_MESHES")


def mesh_of_size(n: int) -> tuple[np.ndarray, np.ndarray]:
    """A closed scan with about n vertices (finger0 below 3k, cactus3 above), float64 vertices."""
    if EXPORTED and (Path(EXPORTED) / f"mesh_{n}.npz").exists():
        data = np.load(Path(EXPORTED) / f"mesh_{n}.npz")
        return data["vertices"], data["faces"]
    import pyvista as pv

    base = pv.read(DATA / ("finger0.ply" if n < 3000 else "cactus3.ply")).triangulate().clean()
    while base.n_points < n:
        base = base.subdivide(1, "loop").clean()
    if base.n_points > 1.1 * n:
        base = base.decimate(1 - n / base.n_points).clean()
    return np.asarray(base.points, dtype=np.float64), base.faces.reshape(-1, 4)[:, 1:].astype(np.int64)


def smooth_deformation(vertices: np.ndarray) -> np.ndarray:
    """A target with the same faces: a bend plus a shift of a tenth of the size."""
    size = np.linalg.norm(vertices.max(0) - vertices.min(0))
    c = (vertices - vertices.mean(0)) / size
    out = vertices.copy()
    out[:, 0] += 0.08 * size * np.sin(3 * c[:, 1])
    return out + 0.05 * size


def export_meshes(folder: Path, sizes: list[int]) -> None:
    """Write mesh_N.npz files (and finger0/finger1) for machines without pyvista."""
    from shapeviewer.io.meshes import read_mesh

    folder.mkdir(parents=True, exist_ok=True)
    for n in sizes:
        v, f = mesh_of_size(n)
        np.savez(folder / f"mesh_{n}.npz", vertices=v, faces=f)
    for name in ("finger0", "finger1"):
        m = read_mesh(DATA / f"{name}.ply")
        np.savez(folder / f"{name}.npz", vertices=m.vertices, faces=m.faces)


def window_on_mesh(app, vertices: np.ndarray, faces: np.ndarray):
    """The real main window (1500x950) with ``vertices`` as source and a smooth deformation as target."""
    import tempfile

    from shapeviewer.io.meshes import write_mesh
    from shapeviewer.qt.main_window import MainWindow

    folder = Path(tempfile.mkdtemp())
    write_mesh(folder / "source.vtp", vertices, faces)
    write_mesh(folder / "target.vtp", smooth_deformation(vertices), faces)
    win = MainWindow()
    win.resize(1500, 950)
    win.show()
    win.load_pair(folder / "source.vtp", folder / "target.vtp")
    app.processEvents()
    return win
