"""A demo pair made by the project: an elongated blob and a bent, bulged copy with the same vertices."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .meshes import Mesh, read_mesh, write_mesh

DEMO_DIR = Path(__file__).resolve().parents[2] / "resources" / "demo"


def make_demo_pair(resolution: int = 24) -> tuple[Mesh, Mesh]:
    import pyvista as pv

    sphere = pv.Sphere(radius=1.0, theta_resolution=resolution, phi_resolution=resolution)
    faces = np.asarray(sphere.faces).reshape(-1, 4)[:, 1:].astype(np.int64)
    p = np.asarray(sphere.points, dtype=np.float64) * np.array([2.0, 0.7, 0.7])
    source = p.copy()
    x = p[:, 0]
    target = p.copy()
    target[:, 1] += 0.25 * x**2  # bend
    target[:, 2] *= 1.0 + 0.35 * np.exp(-((x - 1.0) ** 2) / 0.3)  # bulge near one end
    target[:, 0] += 0.3
    return Mesh(source, faces, "demo_source.ply"), Mesh(target, faces, "demo_target.ply")


def demo_folder() -> Path:
    """Where the demo pair is (or will be) written: resources/demo, or a cache folder without resources/."""
    return DEMO_DIR if DEMO_DIR.parent.is_dir() else Path.home() / ".cache" / "shapeviewer" / "demo"


def demo_paths() -> tuple[Path, Path]:
    """Paths of the demo pair, written into resources/demo (or a cache folder) on first use."""
    folder = demo_folder()
    src, tgt = folder / "demo_source.ply", folder / "demo_target.ply"
    if not (src.exists() and tgt.exists()):
        folder.mkdir(parents=True, exist_ok=True)
        for mesh, path in zip(make_demo_pair(), (src, tgt), strict=True):
            write_mesh(path, mesh.vertices, mesh.faces)
    return src, tgt


def load_demo_pair() -> tuple[Mesh, Mesh]:
    src, tgt = demo_paths()
    return read_mesh(src), read_mesh(tgt)
