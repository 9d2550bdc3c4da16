"""Whether the weighted part of a mask can carry the rest: vertices of weight 0 move with the velocity
``v(x) = k*(lambda p)(x) / k*(lambda mu)(x)``, which needs ``k*(mu)(x)`` to stay representable."""

from __future__ import annotations

import hashlib

import numpy as np
import torch

from .backends import kernel_product
from .errors import InputError
from .kernels import Kernel

WORST_CANDIDATES = 64  # the quick check evaluates the density exactly at this many farthest vertices


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
        "Paint some weight nearer to them, raise the kernel's scale"
        + (
            ", add a heavy-tailed term such as cauchy, or compute in float64"
            if floor > density_floor(torch.float64)
            else " or add a heavy-tailed term such as cauchy"
        )  # fmt: skip
    )


def check_kernel_reach(kernel: Kernel, points: torch.Tensor, q: torch.Tensor, mu: torch.Tensor, backend: str) -> None:
    """InputError if the density at some of ``points`` (K, 3) underflows; q (n, 3), mu (n,)."""
    floor = density_floor(points.dtype)
    lost = ~(relative_density(kernel, points, q, mu, backend) > floor)
    if lost.any():
        far = points[lost]
        gap = max(float(torch.cdist(far[i : i + 4096], q).min(1).values.max()) for i in range(0, len(far), 4096))
        raise InputError(reach_message(kernel, int(lost.sum()), len(points), gap, floor))


def quick_reach_problem(kernel: Kernel, vertices: np.ndarray, faces: np.ndarray, weights: np.ndarray,
                        dtype: torch.dtype) -> str:  # fmt: skip
    """The message of :func:`check_kernel_reach` (or '') for a mask of vertex ``weights``, from the
    WORST_CANDIDATES zero-weight vertices farthest from any weighted one: fast enough to run after every
    brush stroke and every edit of the kernel (0.1 s at 200k vertices; 0.8 s without the cache and with
    256 candidates)."""
    weighted = weights > 0
    if weighted.all() or not weighted.any():
        return ""
    worst, gap, areas = _passive_geometry(vertices, faces, weighted)
    as_t = lambda a: torch.as_tensor(np.asarray(a), dtype=dtype)  # noqa: E731
    floor = density_floor(dtype)
    mass = as_t(areas[weighted] * weights[weighted])
    density = relative_density(kernel, as_t(vertices[worst]), as_t(vertices[weighted]), mass, "torch")
    lost = int((~(density > floor)).sum())
    if not lost:
        return ""
    count = lost if lost < len(worst) else f"at least {lost}"
    return reach_message(kernel, count, len(vertices), gap, floor)


_cache: tuple[bytes, tuple[np.ndarray, float, np.ndarray]] | None = None


def _passive_geometry(vertices, faces, weighted) -> tuple[np.ndarray, float, np.ndarray]:
    """(the WORST_CANDIDATES unweighted vertices farthest from any weighted one, that largest distance,
    vertex areas), by k-d tree; remembered for the last mesh and support, which kernel edits leave alone."""
    global _cache
    from scipy.spatial import cKDTree

    from .geometry import vertex_areas

    v, f = np.ascontiguousarray(vertices, dtype=np.float64), np.ascontiguousarray(faces, dtype=np.int64)
    key = hashlib.blake2b(v.tobytes() + f.tobytes() + weighted.tobytes(), digest_size=16).digest()
    if _cache is None or _cache[0] != key:
        passive = np.flatnonzero(~weighted)
        gaps, _ = cKDTree(v[weighted]).query(v[passive])
        areas = vertex_areas(torch.as_tensor(v), torch.as_tensor(f)).numpy()
        _cache = key, (passive[np.argsort(gaps)[-WORST_CANDIDATES:]], float(gaps.max()), areas)
    return _cache[1]
