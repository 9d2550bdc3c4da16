"""The CUDA path: KeOps against dense on the GPU, the translation property there, and a default
registration of finger0 onto finger1 timed to a 95% fidelity drop. Meshes come from exported .npz
files (SHAPEVIEWER_BENCH_MESHES), so this runs where pyvista is not installed."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from shapeviewer.core.backends import hamiltonian_reduction, kernel_product  # noqa: E402
from shapeviewer.core.cometrics import NormalizedCometric  # noqa: E402
from shapeviewer.core.kernels import parse_kernel  # noqa: E402
from shapeviewer.core.model import ModelSettings  # noqa: E402
from shapeviewer.core.registration import Registration, RegistrationSettings  # noqa: E402
from shapeviewer.core.shooting import shoot  # noqa: E402


def check_agreement():
    kernel = parse_kernel("1 + 0.5*gaussian(0.6) + cauchy(0.5) + laplacian(0.7) + inverse_multiquadric(0.4)")
    for dtype, rtol in ((torch.float32, 1e-5), (torch.float64, 1e-10)):
        x = torch.randn(3000, 3, dtype=dtype, device="cuda")
        b = torch.randn(3000, 3, dtype=dtype, device="cuda")
        dense, lazy = kernel_product(kernel, x, x, b, "torch"), kernel_product(kernel, x, x, b, "keops")
        err = float((dense - lazy).abs().max() / dense.abs().max())
        g_dense, g_lazy = (
            hamiltonian_reduction(kernel, x, b, "torch")[1],
            hamiltonian_reduction(kernel, x, b, "keops")[1],
        )
        gerr = float((g_dense - g_lazy).abs().max() / g_dense.abs().max())
        print(f"KeOps vs dense on cuda, {dtype}: product {err:.1e}, dH/dq {gerr:.1e} (bound {rtol:g})")


def check_translation():
    q = torch.randn(2000, 3, dtype=torch.float64, device="cuda")
    mu = torch.rand(2000, dtype=torch.float64, device="cuda") + 0.05
    u = torch.tensor([0.4, -0.3, 0.2], dtype=torch.float64, device="cuda")
    for backend in ("torch", "keops"):
        cometric = NormalizedCometric(parse_kernel("cauchy(0.6)"), backend, mu)
        traj = shoot(cometric, q, mu[:, None] * u, steps=8, integrator="rk4", create_graph=False)
        print(f"translation property on cuda, {backend}: max error {float((traj.q[-1] - q - u).abs().max()):.1e}")


def registration(folder: Path):
    src, tgt = np.load(folder / "finger0.npz"), np.load(folder / "finger1.npz")
    settings = RegistrationSettings(model=ModelSettings(device="cuda"), iterations=15)
    reg = Registration((src["vertices"], src["faces"]), (tgt["vertices"], tgt["faces"]), settings)
    list(Registration((src["vertices"], src["faces"]), (tgt["vertices"], tgt["faces"]),
                      RegistrationSettings(model=ModelSettings(device="cuda"), iterations=1)).run())  # fmt: skip
    hit = None
    for rep in reg.run():
        drop = 1 - rep.fidelity / reg.fidelity_initial
        if hit is None and drop >= 0.95:
            hit = (rep.iteration, rep.elapsed)
    d = reg.describe()
    print(f"default registration on cuda ({d['backend']}, {d['dtype']}): 95% drop at {hit}, "
          f"final drop {100 * drop:.1f}% after {rep.iteration} iterations, {rep.elapsed:.1f} s")  # fmt: skip


if __name__ == "__main__":
    print(torch.cuda.get_device_name(), "torch", torch.__version__)
    start = time.perf_counter()
    check_agreement()
    check_translation()
    registration(Path(os.environ["SHAPEVIEWER_BENCH_MESHES"]))
    print(f"gpu_check done in {time.perf_counter() - start:.0f} s")
