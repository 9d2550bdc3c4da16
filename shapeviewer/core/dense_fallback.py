"""Whether dense torch reductions can replace KeOps after it failed: the memory they would need here."""

from __future__ import annotations

import os

import torch

from .backends import BackendError, mark_keops_broken

# Dense autograd through a shooting keeps about this many N x M matrices per time step (8 GB at N = 2046,
# float32, 10 steps: see backends.DENSE_MAX_PAIRS); a fallback from KeOps uses at most this share of memory.
DENSE_BYTES_PER_PAIR_STEP = 48
DENSE_MEMORY_SHARE = 0.7


def physical_memory() -> int:
    """Bytes of memory of this machine (0 where unknown)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 0


def dense_fallback_check(exc: Exception, n_points: int, n_control: int, n_faces: int, steps: int, dtype) -> str:
    """Record that KeOps failed; the one-line reason, or BackendError when dense reductions cannot fit."""
    reason = mark_keops_broken(exc)
    need = max(n_points * n_control, n_faces**2) * steps * DENSE_BYTES_PER_PAIR_STEP * torch.finfo(dtype).bits // 8
    have = physical_memory()
    if have and need > DENSE_MEMORY_SHARE * have:
        raise BackendError(
            f"KeOps failed ({reason}) and dense reductions would need about {need / 2**30:.0f} GB here "
            f"({have / 2**30:.0f} GB of memory): make KeOps work (a C++ compiler, g++, and Python headers; "
            "an intact ~/.cache/keops2.3), or use fewer control points or coarser levels"
        ) from exc
    return reason
