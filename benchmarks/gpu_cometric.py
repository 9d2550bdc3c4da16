"""The normalized cometric against LDDMM on the GPU path: time per registration evaluation and the number
of KeOps reductions and host reads (GPU synchronisations) per shooting step.

One evaluation = the loss of a registration (0.01 H(q0, p0) / H_unit + varifold D(phi_1(S), T) / D_0,
as shapeviewer's) by a differentiable shooting, then its gradient in p0, at the points an L-BFGS run from
p0 = 0 visits (shapeviewer's optimiser): the warm starts of the Sinkhorn solves then meet the changes of a
real registration. Meshes are deformed spheres made here, so neither pyvista nor mesh files are needed.
Runs on CUDA when available, else on the CPU:
    .venv/bin/python benchmarks/gpu_cometric.py [--sizes 2000 5000 21000] [--steps 10] [--repeats 8]
    .venv/bin/python benchmarks/gpu_cometric.py --sizes 500 --repeats 2        # a quick CPU check
    .venv/bin/python benchmarks/gpu_cometric.py --sizes 2000 --as-on-gpu       # GPU's operation counts, on a CPU
On a GPU these small evaluations are bound by kernel launches and synchronisations, not arithmetic: the
counts of KeOps reductions, host reads and torch operations say where the time goes.
LDDMM and normalized iterations alternate, so that drifts of the machine hit both alike.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import math
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils._python_dispatch import TorchDispatchMode

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.meshes import smooth_deformation  # noqa: E402  (NumPy only at import)
from shapeviewer.core import backends  # noqa: E402
from shapeviewer.core.cometrics import make_cometric  # noqa: E402
from shapeviewer.core.fidelity import Fidelity  # noqa: E402
from shapeviewer.core.geometry import shape_size, vertex_areas  # noqa: E402
from shapeviewer.core.kernels import parse_kernel  # noqa: E402
from shapeviewer.core.lbfgs import LBFGS  # noqa: E402
from shapeviewer.core.shooting import shoot  # noqa: E402
from shapeviewer.core.sinkhorn import SinkhornSettings  # noqa: E402

GAMMA = 0.01  # shapeviewer's default regularization


def sphere_mesh(n: int) -> tuple[np.ndarray, np.ndarray]:
    """A closed latitude-longitude sphere with about n vertices (rings x 2 rings + 2 poles), bumped so that
    its vertices are unevenly spread and its curvature varies; radius about 50."""
    rings = max(3, round(math.sqrt(max(n - 2, 18) / 2)))
    sectors = 2 * rings
    theta = np.pi * np.arange(1, rings + 1) / (rings + 1)
    phi = 2 * np.pi * np.arange(sectors) / sectors
    t, f = np.meshgrid(theta, phi, indexing="ij")
    t, f = t.ravel(), f.ravel()
    ring = np.stack([np.sin(t) * np.cos(f), np.sin(t) * np.sin(f), np.cos(t)], 1)
    unit = np.concatenate([[[0.0, 0.0, 1.0]], ring, [[0.0, 0.0, -1.0]]])
    radius = 1 + 0.25 * np.sin(3 * unit[:, 0]) * np.cos(2 * unit[:, 1]) + 0.15 * unit[:, 2] ** 2
    vertices = 50.0 * radius[:, None] * unit * np.array([1.0, 0.8, 1.3])
    return vertices, _sphere_faces(rings, sectors)


def _sphere_faces(rings: int, sectors: int) -> np.ndarray:
    """Triangles of the sphere above: vertex 0 the north pole, then rings of ``sectors``, then the south pole."""
    south = 1 + rings * sectors
    s = np.arange(sectors)
    nxt = (s + 1) % sectors
    faces = [np.stack([np.zeros(sectors, int), 1 + s, 1 + nxt], 1)]
    for r in range(rings - 1):
        a, b = 1 + r * sectors + s, 1 + r * sectors + nxt
        c, d = a + sectors, b + sectors
        faces += [np.stack([a, c, b], 1), np.stack([b, c, d], 1)]
    last = 1 + (rings - 1) * sectors
    faces.append(np.stack([last + s, np.full(sectors, south), last + nxt], 1))
    return np.concatenate(faces).astype(np.int64)


class Problem:
    """One registration problem at one size: source, target, kernel, measure and a cometric."""

    def __init__(self, n: int, cometric: str, args, device: torch.device):
        dtype = getattr(torch, args.dtype)
        v, f = sphere_mesh(n)
        offset = v.mean(0)
        self.q0 = torch.as_tensor(v - offset, dtype=dtype, device=device)
        self.faces = torch.as_tensor(f, device=device)
        target = torch.as_tensor(smooth_deformation(v) - offset, dtype=dtype, device=device)
        size = shape_size(self.q0)
        self.mu = vertex_areas(self.q0, self.faces)
        kernel = parse_kernel(f"cauchy({0.15 * size:.4g})")  # shapeviewer's default kernel
        sinkhorn = SinkhornSettings(linear_solver=args.linear_solver)
        self.cometric = make_cometric(cometric, kernel, args.backend, self.mu, sinkhorn)
        if cometric == "normalized" and args.as_on_gpu:
            self.cometric.solver.read_residuals = False
        self.fidelity = Fidelity("varifold", self.faces, target, self.faces, 0.1 * size, args.backend)
        self.steps, self.integrator = args.steps, args.integrator
        with torch.no_grad():
            self.d0 = float(self.fidelity(self.q0))
            unit = self._translation(size)
            self.h_unit = float(self._hamiltonian(unit))
        self.scale = float(unit.norm(dim=1).mean())  # momenta p = scale * z, as shapeviewer's
        self.device, self.times, self.timing = device, [], False
        self.optimiser: LBFGS | None = None

    def _translation(self, size: float) -> torch.Tensor:
        """Momenta that (nearly) translate the source by its size along x, as shapeviewer's energy unit."""
        u = torch.zeros(3, dtype=self.q0.dtype, device=self.q0.device)
        u[0] = size
        if self.cometric.name == "normalized":
            return self.mu[:, None] * u
        ones = torch.ones(len(self.q0), 1, dtype=self.q0.dtype, device=self.q0.device)
        return u / self.cometric.velocity(self.q0, self.q0, ones)

    def _hamiltonian(self, p: torch.Tensor) -> torch.Tensor:
        with torch.enable_grad():  # the Sinkhorn solve may need autograd hooks
            return self.cometric.hamiltonian(self.q0, p)

    def objective(self, z: torch.Tensor) -> tuple[float, torch.Tensor]:
        """Loss and gradient in z (p0 = scale z), as one L-BFGS evaluation of shapeviewer's registration;
        timed while ``timing``."""
        synchronize(self.device)
        start = time.perf_counter()
        z = z.detach().requires_grad_()
        p = self.scale * z
        traj = shoot(self.cometric, self.q0, p, self.steps, self.integrator, create_graph=True)
        loss = GAMMA * self._hamiltonian(p) / self.h_unit + self.fidelity(traj.q[-1]) / self.d0
        (grad,) = torch.autograd.grad(loss, z)
        value = float(loss.detach())
        synchronize(self.device)
        if self.timing:
            self.times.append(time.perf_counter() - start)
        return value, grad

    def step(self) -> int:
        """One L-BFGS iteration from p0 = 0 on (the first call starts there: KeOps compiles, the warm starts
        fill); how many evaluations it took."""
        if self.optimiser is None:
            self.optimiser = LBFGS(self.objective, torch.zeros_like(self.q0))
        before = self.optimiser.evaluations
        if not self.optimiser.step():
            raise RuntimeError("L-BFGS found no decrease: too many iterations for this problem")
        return self.optimiser.evaluations - before


class _TorchOps(TorchDispatchMode):
    """Counts torch operations that launch a kernel on a GPU: views and bare allocations are left out."""

    FREE = ("empty", "empty_strided", "detach", "lift_fresh", "alias")

    def __init__(self, counts: collections.Counter):
        super().__init__()
        self.counts = counts

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if not func.is_view and func.overloadpacket.__name__ not in self.FREE:
            self.counts["torch"] += 1
        return func(*args, **(kwargs or {}))


class Counter:
    """Counts, while ``counting``, KeOps reductions (every Genred run, autograd's included), host reads
    of tensor values (item, float, bool, tolist, torch.equal: each a synchronisation on a GPU) and torch
    operations that launch a kernel (on a GPU each costs a launch, whatever its size)."""

    READS = ("__bool__", "item", "__float__", "tolist")

    @contextlib.contextmanager
    def counting(self):
        counts: collections.Counter = collections.Counter()
        base = _genred_base()
        forward = base.__dict__["_forward"] if base is not None else None
        reads, equal = {name: getattr(torch.Tensor, name) for name in self.READS}, torch.equal
        if base is not None:
            base._forward = staticmethod(_counted(forward.__func__, counts, "keops"))
        for name, method in reads.items():
            setattr(torch.Tensor, name, _counted(method, counts, "host"))
        torch.equal = _counted(equal, counts, "host")
        try:
            with _TorchOps(counts):
                yield counts
        finally:
            if base is not None:
                base._forward = forward
            for name, method in reads.items():
                setattr(torch.Tensor, name, method)
            torch.equal = equal


def _genred_base():
    """pykeops' class that runs every reduction, or None without pykeops (then no KeOps is counted)."""
    try:
        from pykeops.torch.generic import generic_red
    except ImportError:
        return None
    return generic_red.GenredAutograd_base


def _counted(function, counts: collections.Counter, key: str):
    def counted(*args, **kwargs):
        counts[key] += 1
        return function(*args, **kwargs)

    return counted


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def measure(n: int, args, device: torch.device, counter: Counter) -> dict:
    """Median seconds per evaluation over ``args.repeats`` L-BFGS iterations of each cometric (alternating, so
    that drifts of the machine hit both alike), after one untimed iteration; then the counts of one more."""
    problems = {name: Problem(n, name, args, device) for name in ("lddmm", "normalized")}
    for problem in problems.values():
        problem.step()
    for _ in range(args.repeats):
        for problem in problems.values():
            problem.timing = True
            problem.step()
            problem.timing = False
    out = {"n": len(problems["lddmm"].q0)}
    for name, problem in problems.items():
        with counter.counting() as counts:
            evaluations = problem.step()
        per_step = evaluations * args.steps
        out[name] = {
            "seconds": statistics.median(problem.times),
            "keops": counts["keops"] / per_step,
            "host": counts["host"] / per_step,
            "torch": counts["torch"] / per_step,
        }
    op = problems["normalized"].cometric.solver.new_operator(problems["normalized"].q0)
    out["operator"] = "dense" if op.dense else "keops"
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[2000, 5000, 21000])
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--integrator", default="euler")
    parser.add_argument("--repeats", type=int, default=8, help="timed L-BFGS iterations per cometric")
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--device", default="auto", help="auto (cuda if available), cuda or cpu")
    parser.add_argument("--backend", default="keops", help="keops (the GPU path) or torch (dense)")
    parser.add_argument("--linear-solver", default="chebyshev", choices=["chebyshev", "cg"])
    parser.add_argument(
        "--as-on-gpu", action="store_true",
        help="on a CPU, solve the Sinkhorn systems as on a GPU (no host reads, fixed step counts, K_q in one "
        "block): the ops column then counts what a GPU would launch, but for a CPU's column-wise products",
    )  # fmt: skip
    parser.add_argument(
        "--dense-operator-mb", type=float, default=None,
        help="largest dense K_q (MiB) for the Sinkhorn solves (default: shapeviewer's, "
        f"{backends.OPERATOR_DENSE_BYTES / 2**20:.0f}); beyond it they are KeOps reductions",
    )  # fmt: skip
    a = parser.parse_args()
    device = torch.device(("cuda" if torch.cuda.is_available() else "cpu") if a.device == "auto" else a.device)
    if a.as_on_gpu:
        backends._CPU_BLOCK_ENTRIES = 2**62  # K_q in one block, as on a GPU
    if a.dense_operator_mb is not None:
        backends.OPERATOR_DENSE_BYTES = int(a.dense_operator_mb * 2**20)
    if a.backend == "keops" and not backends.keops_usable():
        sys.exit("KeOps is not usable here: see the warning above")
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    print(f"{name}, torch {torch.__version__}; {a.backend}, {a.dtype}, {a.steps} {a.integrator} steps, "
          f"Sinkhorn systems by {a.linear_solver}; median evaluation of {a.repeats} L-BFGS iterations")  # fmt: skip
    print("KeOps = KeOps reductions, host = host reads (GPU syncs), ops = torch operations that launch a GPU kernel:")
    print("per shooting step of one evaluation (loss, shooting, gradient, all included)")
    print(f"{'N':>6} {'LDDMM s':>8} {'normal. s':>9} {'ratio':>6} {'K_q op':>6} "
          f"{'LDDMM KeOps':>11} {'normal. KeOps':>13} {'normal. host':>12} "
          f"{'LDDMM ops':>9} {'normal. ops':>11}")  # fmt: skip
    counter = Counter()
    for n in a.sizes:
        r = measure(n, a, device, counter)
        plain, norm = r["lddmm"], r["normalized"]
        ratio = norm["seconds"] / plain["seconds"]
        print(f"{r['n']:>6} {plain['seconds']:>8.3f} {norm['seconds']:>9.3f} {ratio:>6.2f} "
              f"{r['operator']:>6} {plain['keops']:>11.1f} {norm['keops']:>13.1f} {norm['host']:>12.1f} "
              f"{plain['torch']:>9.0f} {norm['torch']:>11.0f}", flush=True)  # fmt: skip
        if device.type == "cuda":
            print(f"{'':>6} peak GPU memory {torch.cuda.max_memory_allocated(device) / 2**30:.2f} GiB")
            torch.cuda.reset_peak_memory_stats(device)


if __name__ == "__main__":
    main()
