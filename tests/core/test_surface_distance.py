"""Exact point-to-surface distances and their summaries, against closed forms and brute force."""

import numpy as np
import pytest
from scipy.optimize import minimize
from scipy.spatial import ConvexHull

from shapeviewer.core.surface_distance import (
    DistanceSummary,
    SurfaceIndex,
    follow_on_mesh,
    point_to_surface,
    surface_distances,
)


def _dot(a, b):
    return np.einsum("ij,ij->i", a, b)


def _segment_sq(p, a, b):
    ab = b - a
    length = _dot(ab, ab)
    t = np.where(length > 0, _dot(p - a, ab) / np.where(length > 0, length, 1.0), 0.0).clip(0.0, 1.0)
    d = p - (a + t[:, None] * ab)
    return _dot(d, d)


def point_triangle_squared(p, a, b, c):
    """The reference: (K,) squared distances from points p[k] to triangles (a[k], b[k], c[k]), written here
    independently of the library the app uses (the projection when it falls inside, else the nearest edge)."""
    ab, ac, ap = b - a, c - a, p - a
    n = np.cross(ab, ac)
    nn = _dot(n, n)
    ok = nn > 0
    safe = np.where(ok, nn, 1.0)
    beta = _dot(np.cross(ap, ac), n) / safe
    gamma = _dot(np.cross(ab, ap), n) / safe
    inside = ok & (beta >= 0) & (gamma >= 0) & (beta + gamma <= 1)
    plane = _dot(ap, n) ** 2 / safe
    edges = np.minimum(np.minimum(_segment_sq(p, a, b), _segment_sq(p, b, c)), _segment_sq(p, c, a))
    return np.where(inside, np.minimum(plane, edges), edges)


def sphere(n=400):
    """A triangulated unit sphere whose vertices all lie on the sphere (Fibonacci points, convex hull)."""
    k = np.arange(n) + 0.5
    phi, theta = np.arccos(1 - 2 * k / n), np.pi * (1 + 5**0.5) * k
    v = np.c_[np.cos(theta) * np.sin(phi), np.sin(theta) * np.sin(phi), np.cos(phi)]
    return v, ConvexHull(v).simplices


def brute_force(points, vertices, faces):
    p = np.repeat(points, len(faces), 0)
    f = np.tile(faces, (len(points), 1))
    sq = point_triangle_squared(p, vertices[f[:, 0]], vertices[f[:, 1]], vertices[f[:, 2]])
    return np.sqrt(sq.reshape(len(points), len(faces)).min(1))


def test_a_copy_offset_along_the_normals_by_d_is_d_away():
    v, f = sphere()
    d = 0.05
    outer = v * (1 + d)  # the sphere's normals are radial
    dist = surface_distances(outer, f, v, f)
    # outward: every point of the inscribed polyhedron has |x| <= 1, and the vertex itself is d away: exactly d
    assert np.abs(dist.to_target - d).max() < 1e-12
    # inward: the larger polyhedron's faces come closer than its vertices, by at most their sagitta
    sagitta = 1 - np.linalg.norm(v[f].mean(1), axis=1).min()
    assert (dist.to_source <= d + 1e-12).all() and (dist.to_source >= d - (1 + d) * sagitta).all()
    s = dist.source_summary
    assert s.count == len(v) and abs(s.mean - d) < 1e-12 and abs(s.rms - d) < 1e-12 and abs(s.max - d) < 1e-12
    assert abs(dist.hausdorff - d) < 1e-12


def test_the_index_is_exact_against_brute_force(human, rng):
    v, f = human.vertices, human.faces
    size = np.linalg.norm(np.ptp(v, axis=0))
    points = np.concatenate(
        [
            v + rng.normal(scale=0.01 * size, size=v.shape),  # near the surface
            rng.uniform(v.min(0) - size, v.max(0) + size, size=(200, 3)),  # anywhere, far ones included
            v[f[:40]].mean(1),  # on it
        ]
    )
    d, tri = SurfaceIndex(v, f).query(points)
    assert np.abs(d - brute_force(points, v, f)).max() < 1e-12
    closest = SurfaceIndex(v, f).closest_points(points, tri)
    assert np.allclose(np.linalg.norm(closest - points, axis=1), d, atol=1e-12)
    assert np.allclose(point_to_surface(points, v, f), d)


def test_triangles_of_very_different_sizes_are_searched_safely(rng):
    big = np.array([[-50.0, -50.0, 0.0], [50.0, -50.0, 0.0], [0.0, 80.0, 0.0]])
    small = rng.uniform(-1, 1, size=(300, 3)) * [5, 5, 0.2] + [0, 0, 3.0]
    v = np.concatenate([big, small])
    f = np.concatenate([[[0, 1, 2]], 3 + np.arange(300).reshape(100, 3)])
    points = rng.uniform(-60, 60, size=(500, 3)) * [1, 1, 0.2]
    assert np.abs(SurfaceIndex(v, f).query(points)[0] - brute_force(points, v, f)).max() < 1e-12


def test_surfaces_far_apart_degenerate_triangles_and_bad_input(human, rng):
    v, f = human.vertices, human.faces
    size = np.linalg.norm(np.ptp(v, axis=0))
    shifted = v + [0.3 * size, 0.0, 0.1 * size]  # a whole copy a third of the shape away: many near candidates
    squashed = f.copy()
    squashed[:30, 2] = squashed[:30, 1]  # segments
    index = SurfaceIndex(v, squashed)
    assert np.abs(index.query(shifted)[0] - brute_force(shifted, v, squashed)).max() < 1e-12
    assert index.query(np.zeros((0, 3)))[0].shape == (0,)
    with pytest.raises(ValueError, match="finite points"):
        index.query(np.array([[0.0, np.nan, 0.0]]))
    with pytest.raises(ValueError, match="name vertices 0 to"):
        SurfaceIndex(v, f + len(v))
    with pytest.raises(ValueError, match=r"\(M, 3\) triangles"):
        SurfaceIndex(v, f[:, :2])


def test_point_triangle_distance_matches_a_constrained_minimisation(rng):
    for _ in range(30):
        a, b, c, p = rng.normal(size=(4, 3)) * [1, 1, 0.5]
        if rng.random() < 0.2:
            c = a + 0.3 * (b - a)  # degenerate: a segment
        got = float(np.sqrt(point_triangle_squared(p[None], a[None], b[None], c[None])[0]))

        def cost(st, a=a, b=b, c=c, p=p):
            return float(((a + st[0] * (b - a) + st[1] * (c - a) - p) ** 2).sum())

        cons = [{"type": "ineq", "fun": lambda st: st[0]}, {"type": "ineq", "fun": lambda st: st[1]},
                {"type": "ineq", "fun": lambda st: 1 - st[0] - st[1]}]  # fmt: skip
        best = min(
            minimize(cost, x0, constraints=cons, method="SLSQP", options={"ftol": 1e-15}).fun
            for x0 in ([0.2, 0.2], [0.9, 0.05], [0.05, 0.9])
        )
        assert got == pytest.approx(np.sqrt(max(best, 0.0)), abs=1e-6)


def test_summary_numbers():
    d = np.arange(1.0, 101.0)
    s = DistanceSummary.of(d)
    assert s.mean == 50.5 and s.max == 100.0 and s.count == 100
    assert s.rms == pytest.approx(np.sqrt((d**2).mean())) and s.p95 == pytest.approx(np.percentile(d, 95))
    assert set(s.to_json()) == {"mean", "rms", "p95", "max", "count"}
    with pytest.raises(ValueError, match="finite"):
        SurfaceIndex(*sphere(50)).query([[np.nan, 0, 0]])


def test_a_picked_surface_point_is_followed_through_the_frames(human, rng):
    v, f = human.vertices, human.faces
    index = SurfaceIndex(v, f)
    w_true = rng.dirichlet([1.0, 1.0, 1.0], size=20)
    tri = rng.choice(len(f), 20, replace=False)
    picked = np.einsum("kcd,kc->kd", v[f[tri]], w_true)
    _, found = index.query(picked)
    weights = index.barycentric(picked, found)
    assert np.allclose(np.einsum("kcd,kc->kd", v[f[found]], weights), picked, atol=1e-12)
    frames = np.stack([v, 2.0 * v + 1.0])  # an affine motion keeps barycentric combinations
    moved = follow_on_mesh(frames, f, found, weights)
    assert moved.shape == (2, 20, 3) and np.allclose(moved[1], 2.0 * picked + 1.0, atol=1e-12)


def test_an_index_alive_at_exit_leaves_no_leak_report_on_the_terminal():
    """libigl's bindings report trees still alive when Python ends (as one a window keeps): users would read
    "nanobind: leaked 1 instances!" after every run of the app."""
    import subprocess
    import sys

    script = (
        "import numpy as np\n"
        "from shapeviewer.core.surface_distance import SurfaceIndex\n"
        "import ctypes\n"
        "kept = SurfaceIndex(np.eye(3), np.array([[0, 1, 2]]))\n"
        "ctypes.pythonapi.Py_IncRef(ctypes.py_object(kept))  # held for good, as by a C++ object\n"
        "print(kept.query(np.zeros((1, 3)))[0][0])\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert float(done.stdout) == pytest.approx(1 / np.sqrt(3))
    assert "leak" not in done.stderr
