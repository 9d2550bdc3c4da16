"""Our shooting + gradient against bare KeOps loops written in a few lines, same formulas, same sizes.

Two bare references: the textbook one (H by KeOps, dH/dq and dH/dp by autograd with create_graph)
and one with the same fused explicit reduction that shapeviewer uses. Prints time ratios.
    .venv/bin/python benchmarks/overhead_vs_bare_keops.py [--sizes 2046 5261] [--device cpu|cuda]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def bare_textbook(q0, p0, sigma, steps):
    from pykeops.torch import LazyTensor

    def hamiltonian(q, p):
        q_i, q_j = LazyTensor(q[:, None, :]), LazyTensor(q[None, :, :])
        k = 1 / (1 + q_i.sqdist(q_j) / sigma**2)
        return 0.5 * (p * (k @ p)).sum()

    q, p = q0.detach().requires_grad_(), p0
    for _ in range(steps):
        dq, dp = torch.autograd.grad(hamiltonian(q, p), (q, p), create_graph=True)
        q, p = q + dp / steps, p - dq / steps
    return q


def bare_explicit(q0, p0, sigma, steps):
    from pykeops.torch import LazyTensor

    q, p = q0, p0
    for _ in range(steps):
        q_i, q_j = LazyTensor(q[:, None, :]), LazyTensor(q[None, :, :])
        p_i, p_j = LazyTensor(p[:, None, :]), LazyTensor(p[None, :, :])
        u = 1 + q_i.sqdist(q_j) / sigma**2
        both = ((1 / u) * p_j).concat((-2 / sigma**2) / (u * u) * (p_i | p_j) * (q_i - q_j)).sum(dim=1)
        q, p = q + both[:, :3] / steps, p - both[:, 3:] / steps
    return q


def ours(model):
    def run(q0, p0, sigma, steps):
        return model.shoot(p0, create_graph=True).q[-1]

    return run


def time_gradient(fn, q0, p0, target, sigma, steps, repeats):
    times = []
    for _ in range(repeats + 1):
        p = p0.clone().requires_grad_()
        start = time.perf_counter()
        loss = ((fn(q0, p, sigma, steps) - target) ** 2).sum()
        torch.autograd.grad(loss, p)
        if q0.is_cuda:
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times[1:])


def main() -> None:
    from benchmarks.meshes import mesh_of_size, smooth_deformation
    from shapeviewer.core.model import DeformationModel, ModelSettings

    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[2046, 5261])
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    a = parser.parse_args()
    print(f"LDDMM cauchy shooting ({a.steps} Euler steps) + gradient of a landmark loss, float32, {a.device}")
    print(f"{'N':>7} {'ours s':>8} {'textbook s':>10} {'explicit s':>10} {'ours/textbook':>13} {'ours/explicit':>13}")
    for n in a.sizes:
        v, f = mesh_of_size(n)
        settings = ModelSettings(
            cometric="lddmm", backend="keops", steps=a.steps, integrator="euler", device=a.device, control_points="all"
        )
        model = DeformationModel(v, f, None, settings)
        sigma = model.kernel.terms[0].sigma
        q0 = model.q0
        target = torch.as_tensor(smooth_deformation(v), dtype=q0.dtype, device=q0.device) - model.offset.to(q0)
        p0 = 0.01 * torch.randn_like(q0)
        t_ours = time_gradient(ours(model), q0, p0, target, sigma, a.steps, a.repeats)
        t_text = time_gradient(bare_textbook, q0, p0, target, sigma, a.steps, a.repeats)
        t_expl = time_gradient(bare_explicit, q0, p0, target, sigma, a.steps, a.repeats)
        print(f"{len(v):>7} {t_ours:>8.3f} {t_text:>10.3f} {t_expl:>10.3f} {t_ours / t_text:>13.2f} "
              f"{t_ours / t_expl:>13.2f}", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
