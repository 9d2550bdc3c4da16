"""Whether the weighted part of a mask can carry the rest: vertices of weight 0 move with the velocity
``v(x) = k*(lambda p)(x) / k*(lambda mu)(x)``, which needs ``k*(mu)(x)`` to stay representable."""

from __future__ import annotations

import numpy as np
import torch

from .backends import kernel_product
from .errors import InputError
from .kernels import Kernel

WORST_CANDIDATES = 256  # the quick check evaluates the density exactly at this many farthest vertices


def density_floor(dtype: torch.dtype) -> float:
    """Relative density below which 0 / 0 looms: its square must stay a normal number of the dtype."""
    return torch.finfo(dtype).tiny ** 0.5


def relative_density(kernel: Kernel, points, q, mu, backend: str) -> torch.Tensor:
    """sum_j k(x, q_j) mu_j / (k(0) sum_j mu_j) at each point x: 1 on top of all the mass, 0 far away."""
    with torch.no_grad():
        return kernel_product(kernel, points, q, (mu / mu.sum())[:, None], backend)[:, 0] / kernel.at_zero()


def reach_message(kernel: Kernel, lost: int | str, total: int, gap: float, floor: float) -> str:
    return (
        f"the kernel {kernel} does not reach {lost} of the {total} vertices from the weighted part of the mask "
        f"(up to {gap:.3g} away, where it falls below {floor:.0e} of its peak): those vertices could not follow. "
        "Paint some weight nearer to them, raise the kernel's scale, add a heavy-tailed term such as cauchy, "
        "or compute in float64"
    )


def check_kernel_reach(kernel: Kernel, points: torch.Tensor, q: torch.Tensor, mu: torch.Tensor, backend: str) -> None:
    """InputError if the density at some of ``points`` (K, 3) underflows; q (n, 3), mu (n,)."""
    floor = density_floor(points.dtype)
    lost = ~(relative_density(kernel, points, q, mu, backend) > floor)
    if lost.any():
        far = points[lost]
        gap = max(float(torch.cdist(far[i : i + 4096], q).min(1).values.max()) for i in range(0, len(far), 4096))
        raise InputError(reach_message(kernel, int(lost.sum()), len(points), gap, floor))


def quick_reach_problem(kernel: Kernel, vertices: np.ndarray, vertex_mass: np.ndarray, dtype: torch.dtype) -> str:
    """The message of :func:`check_kernel_reach` (or '') from the WORST_CANDIDATES zero-mass vertices farthest
    from any weighted vertex, found with a k-d tree: fast enough to run after every brush stroke."""
    from scipy.spatial import cKDTree

    weighted = vertex_mass > 0
    if weighted.all() or not weighted.any():
        return ""
    passive = np.flatnonzero(~weighted)
    gaps, _ = cKDTree(vertices[weighted]).query(vertices[passive])
    worst = passive[np.argsort(gaps)[-WORST_CANDIDATES:]]
    as_t = lambda a: torch.as_tensor(np.asarray(a), dtype=dtype)  # noqa: E731
    floor = density_floor(dtype)
    density = relative_density(kernel, as_t(vertices[worst]), as_t(vertices[weighted]), as_t(vertex_mass[weighted]),
                               "torch")  # fmt: skip
    lost = int((~(density > floor)).sum())
    if not lost:
        return ""
    count = lost if lost < len(worst) else f"at least {lost}"
    return reach_message(kernel, count, len(vertices), float(gaps.max()), floor)
