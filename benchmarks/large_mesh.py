"""Large scans: coarse-to-fine registration of 50k- and 200k-vertex pairs with known correspondence.

Each pair is a real scan (cactus3) subdivided to the size (midpoints, then Taubin smoothing), and its
smooth non-rigid warp (a bend and a
shift, :func:`meshes.smooth_deformation`), so vertex i of the source belongs at vertex i of the target.
Every configuration runs in its own process (its own peak memory) and reports: wall time from the
meshes in memory to the final full-resolution geodesic, peak resident memory, the levels run, the
data term on the full meshes at the end relative to the start (computed afterwards, not timed), and
the correspondence error mean_i |phi(x_i) - y_i| as a fraction of the bounding-box diagonal.

With --baseline, the same pair also runs on one level (the full meshes, ``--levels 1``) until its
correspondence error is as small as the multiscale run's, or for --baseline-limit seconds; the ratio of
the two times is printed (a lower bound when the baseline hit its limit). Usage:
    .venv/bin/python benchmarks/large_mesh.py [--sizes 50000 200000] [--baseline] [--device cpu|cuda]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
CACHE = Path(__file__).resolve().parent / ".cache"


def subdivide(vertices: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Split every triangle in four at its edge midpoints (NumPy only: runs where pyvista is missing)."""
    edges = np.sort(np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]]), axis=1)
    unique, index = np.unique(edges, axis=0, return_inverse=True)
    mid = len(vertices) + index.reshape(3, -1).T  # midpoints of edges 01, 12, 20 of each face
    a, b, c = faces.T
    ab, bc, ca = mid.T
    new_faces = np.concatenate([np.stack(t, 1) for t in ((a, ab, ca), (ab, b, bc), (ca, bc, c), (ab, bc, ca))])
    return np.concatenate([vertices, vertices[unique].mean(1)]), new_faces


def base_mesh() -> tuple[np.ndarray, np.ndarray]:
    """cactus3's vertices and faces, kept as .npz beside the pairs (machines without VTK read that)."""
    path = CACHE / "cactus3.npz"
    if not path.exists():
        from benchmarks.meshes import DATA
        from shapeviewer.io.meshes import read_mesh

        mesh = read_mesh(DATA / "cactus3.ply")
        CACHE.mkdir(exist_ok=True)
        np.savez(path, vertices=mesh.vertices, faces=mesh.faces)
    data = np.load(path)
    return data["vertices"], data["faces"]


def taubin(vertices: np.ndarray, faces: np.ndarray, steps: int = 3) -> np.ndarray:
    """Taubin smoothing (lambda 0.5, mu -0.53): rounds the flat facets that midpoint subdivision leaves, as a
    scan's surface is rounded, without shrinking it."""
    from scipy.sparse import coo_matrix

    i = np.concatenate([faces[:, 0], faces[:, 1], faces[:, 2], faces[:, 1], faces[:, 2], faces[:, 0]])
    j = np.concatenate([faces[:, 1], faces[:, 2], faces[:, 0], faces[:, 0], faces[:, 1], faces[:, 2]])
    adjacency = coo_matrix((np.ones(len(i)), (i, j)), shape=(len(vertices),) * 2).tocsr()
    adjacency.data[:] = 1.0
    degree = np.asarray(adjacency.sum(1)).ravel()
    out = vertices.copy()
    for _ in range(steps):
        for factor in (0.5, -0.53):
            out = out + factor * (adjacency @ out / degree[:, None] - out)
    return out


def pair(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(source vertices, faces, target vertices) with about n vertices: cactus3 subdivided and smoothed, then
    decimated to n; the target is its smooth warp (same faces). Cached as .npz."""
    path = CACHE / f"large_pair_{n}.npz"
    if not path.exists():
        from benchmarks.meshes import smooth_deformation
        from shapeviewer.core.pyramid import decimate

        v, f = base_mesh()
        while len(v) < n:
            v, f = subdivide(v, f)
            v = taubin(v, f)
        level = decimate(v, f, n)
        v, f = level.vertices, level.faces
        CACHE.mkdir(exist_ok=True)
        np.savez(path, vertices=v, faces=f, target=smooth_deformation(v))
    data = np.load(path)
    return data["vertices"], data["faces"], data["target"]


def full_fit(v, f, target, trajectory, scale: float, device: str) -> float:
    """D(phi_1(S), T) / D(S, T) on the full meshes (varifold, KeOps on large meshes)."""
    import torch

    from shapeviewer.core.fidelity import Fidelity

    dev = torch.device(device)
    offset = v.mean(0)
    as_t = lambda x: torch.as_tensor(x - offset, dtype=torch.float32, device=dev)  # noqa: E731
    faces = torch.as_tensor(f, device=dev)
    fid = Fidelity("varifold", faces, as_t(target), faces, scale, "auto")
    with torch.no_grad():
        return float(fid(as_t(trajectory[-1]))) / float(fid(as_t(v)))


def child(n: int, levels: str, device: str, stop_at: float | None, limit: float, check: bool) -> dict:
    import torch

    from shapeviewer.core.model import ModelSettings
    from shapeviewer.core.registration import Registration, RegistrationSettings

    v, f, target = pair(n)
    settings = RegistrationSettings(
        model=ModelSettings(device=device), levels=None if levels == "auto" else int(levels)
    )
    start = time.perf_counter()
    reg = Registration((v, f), (target, f), settings)
    size = float(np.linalg.norm(v.max(0) - v.min(0)))
    reports, hit = [], None
    for rep in reg.run(should_stop=lambda: time.perf_counter() - start > limit):
        reports.append(rep)
        # The baseline (one level: its frames come free) stops once its correspondence is as good.
        frames = None if stop_at is None or rep.done else rep.trajectory
        if frames is not None and np.linalg.norm(frames[-1] - target, axis=1).mean() / size <= stop_at:
            hit = time.perf_counter() - start
            break
    final = reports[-1]  # the final report, or the one that reached the baseline's target
    trajectory = final.frames()
    if device == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if device == "cuda":
        peak_mb = torch.cuda.max_memory_allocated() / 2**20
    info = reg.describe()
    fit_start = time.perf_counter()
    fit = full_fit(v, f, target, trajectory, reg.fidelity_scale, device) if check else None
    return {
        "n": len(v),
        "levels": levels,
        "seconds": seconds,
        "time_to_target": hit,
        "peak_mb": peak_mb,
        "iterations": final.iteration,
        "status": final.status,
        "levels_run": [
            (lv["source_vertices"], lv.get("iterations"), lv.get("seconds")) for lv in info["levels"] if lv["run"]
        ],  # fmt: skip
        "full_fit": fit,
        "level_drop": final.fidelity_drop,
        "full_fit_seconds": time.perf_counter() - fit_start,
        "correspondence": float(np.linalg.norm(trajectory[-1] - target, axis=1).mean()) / size,
        "correspondence_start": float(np.linalg.norm(v - target, axis=1).mean()) / size,
    }


def finest_level_scale(v, f, target) -> float | None:
    """The largest fidelity scale at which the plan runs the full meshes (just below RESOLVE_RATIO x the mean
    edge of the level under them): the most a finest-level iteration costs when it runs. None (the default
    scale) where the plan has one level."""
    from shapeviewer.core.levels import RESOLVE_RATIO, cached_pyramid
    from shapeviewer.core.pyramid import level_sizes

    sizes = level_sizes(len(v), None)
    if len(sizes) < 2:
        return None
    below = [cached_pyramid(x, f, sizes)[-2] for x in (v, target)]
    return 0.99 * RESOLVE_RATIO * max(level.mean_edge_length() for level in below)


def _best_time(work, repeats: int, device: str) -> float:
    """The least seconds of ``work()`` over ``repeats`` runs after a first, untimed one (KeOps compiling)."""
    import torch

    times = []
    for _ in range(repeats + 1):
        start = time.perf_counter()
        work()
        if device == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return min(times[1:])


def full_level_iteration(n: int, device: str, scale: str, cells: list[float] | None, repeats: int = 2) -> list[dict]:
    """One evaluation (loss and gradient) on the full meshes, what an iteration of the finest level costs, for
    each block-sparse cell side in ``cells``: its seconds, the data term's part of them (value and gradient on
    the undeformed source), the fidelity scale (x size) and the fraction of face pairs visited (None: all).
    ``scale``: 'finest' (the largest at which the plan runs the full level) or 'default' (the default scale,
    at which the plan never runs it: what --levels 1 costs). First evaluations (KeOps compiling) not counted."""
    import torch

    from shapeviewer.core import block_sparse
    from shapeviewer.core.geometry import face_geometry
    from shapeviewer.core.model import ModelSettings
    from shapeviewer.core.registration import Registration, RegistrationSettings

    v, f, target = pair(n)
    fidelity_scale = finest_level_scale(v, f, target) if scale == "finest" else None
    settings = RegistrationSettings(model=ModelSettings(device=device), levels=1, fidelity_scale=fidelity_scale)
    reg = Registration((v, f), (target, f), settings)
    centres = [face_geometry(torch.as_tensor(x), torch.as_tensor(f))[0] for x in (v, target)]
    z = (0.01 * torch.randn_like(reg.z)).requires_grad_()
    x = reg.model.vertices.detach().clone().requires_grad_()  # the full level carries the model's vertices
    rows = []
    for cell in cells or [block_sparse.CELL]:
        block_sparse.CELL = cell
        blocks = block_sparse.plan_blocks(*centres, reg.fidelity_scale)
        rows.append({
            "cell": cell,
            "seconds": _best_time(lambda: torch.autograd.grad(reg.evaluate(z, True)[0], z), repeats, device),
            "data_term": _best_time(lambda: torch.autograd.grad(reg.level.fidelity(x), x), repeats, device),
            "scale": reg.fidelity_scale / float(np.linalg.norm(v.max(0) - v.min(0))),
            "kept": None if blocks is None else blocks.kept,
        })  # fmt: skip
    return rows


def run_child(args: list[str], timeout: float) -> dict | None:
    proc = subprocess.run([sys.executable, __file__, "--child", *args], capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        print(f"  child {' '.join(args)} failed:\n{proc.stderr[-2000:]}")
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[50_000, 200_000])
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--baseline", action="store_true", help="also run one level on the full meshes")
    parser.add_argument("--baseline-limit", type=float, default=3600.0, help="seconds before the baseline stops")
    parser.add_argument(
        "--full-check", action="store_true",
        help="also measure the data term on the full meshes at the end (untimed; 8 min at 50k on 2 CPU cores)",
    )  # fmt: skip
    parser.add_argument(
        "--full-level-iteration", action="store_true",
        help="only time one loss-and-gradient evaluation on the full meshes (--levels 1) for each size",
    )  # fmt: skip
    parser.add_argument(
        "--scale", default="finest", choices=("finest", "default"),
        help="fidelity scale of --full-level-iteration: the largest at which the plan runs the full level "
        "(finest), or the default one, at which it never does (what --levels 1 costs)",
    )  # fmt: skip
    parser.add_argument("--cells", type=float, nargs="+", default=None,
                        help="block-sparse cell sides (x scale) to compare in --full-level-iteration")  # fmt: skip
    parser.add_argument("--child", nargs=6, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.full_level_iteration:
        for n in args.sizes:
            for row in full_level_iteration(n, args.device, args.scale, args.cells):
                kept = row["kept"]
                visits = "all face pairs" if kept is None else f"{100 * kept:.2g}% of the face pairs (block-sparse)"
                print(f"{n} vertices, one evaluation on the full meshes ({args.device}) at fidelity scale "
                      f"{row['scale']:.3g} x size ({args.scale}; cells of {row['cell']:g} x scale; the data term "
                      f"visits {visits}): {row['seconds']:.2f} s, of which the data term {row['data_term']:.2f} s",
                      flush=True)  # fmt: skip
        return
    if args.child:
        n, levels, device, stop_at, limit, check = args.child
        stop = None if stop_at == "none" else float(stop_at)
        print(json.dumps(child(int(n), levels, device, stop, float(limit), check == "check")))
        return
    for n in args.sizes:
        pair(n)  # generate outside the timed children
        check = "check" if args.full_check else "no"
        ms = run_child([str(n), "auto", args.device, "none", "1e9", check], timeout=7200)
        if ms is None:
            continue
        print(
            f"{n} vertices, multiscale (defaults, {args.device}): {ms['seconds']:.1f} s, peak "
            f"{ms['peak_mb']:.0f} MB, levels run (vertices, iterations, s) {ms['levels_run']}, {ms['status']}"
        )
        full = (
            ""
            if ms["full_fit"] is None
            else (
                f"full-resolution fidelity drop {100 * (1 - ms['full_fit']):.1f}% "
                f"(checked in {ms['full_fit_seconds']:.0f} s, untimed); "
            )
        )
        print(
            f"  fidelity drop on the finest level run {100 * ms['level_drop']:.1f}%; {full}correspondence error "
            f"{100 * ms['correspondence']:.2f}% of the diagonal (from {100 * ms['correspondence_start']:.2f}%)"
        )
        if not args.baseline:
            continue
        base = run_child([str(n), "1", args.device, str(ms["correspondence"]), str(args.baseline_limit), check],
                         timeout=7200 * 4)  # fmt: skip
        if base is None:
            continue
        reached = base["time_to_target"] is not None
        base_time = base["time_to_target"] if reached else base["seconds"]
        ended = base["status"] in ("converged", "finished")  # stopped by its own rule, not by the time limit
        unreached = "ended (its stopping rule) without reaching it, after" if ended else "had not reached it after"
        how = "reached that correspondence in" if reached else unreached
        print(
            f"  single level: {how} {base_time:.1f} s ({base['iterations']} iterations, peak "
            f"{base['peak_mb']:.0f} MB); fidelity drop {100 * base['level_drop']:.1f}%, correspondence error "
            f"{100 * base['correspondence']:.2f}%"
        )
        ratio = ms["correspondence"] / base["correspondence"]
        if reached or not ended:
            print(f"  single-level / multiscale time to the same correspondence: {'' if reached else '> '}"
                  f"{base_time / ms['seconds']:.1f}x faster; correspondence error ratio {ratio:.2f} "
                  "(multiscale / single level)")  # fmt: skip
        else:
            print(f"  single level / multiscale time: {base_time / ms['seconds']:.1f}x, and the single level never "
                  f"reached the multiscale correspondence (error ratio {ratio:.2f}, multiscale / single)")  # fmt: skip


if __name__ == "__main__":
    main()
