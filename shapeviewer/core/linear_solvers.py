"""Conjugate gradients for the small, well-conditioned SPD systems of the Sinkhorn scaling."""

from __future__ import annotations

from collections.abc import Callable

import torch


def conjugate_gradient(
    matvec: Callable[[torch.Tensor], torch.Tensor], b: torch.Tensor, rtol: float, maxiter: int = 50
) -> torch.Tensor:
    """Solve A x = b for SPD A given as ``matvec``; stop at |r| <= rtol |b|."""
    x = torch.zeros_like(b)
    b_norm = torch.linalg.vector_norm(b)
    if not torch.isfinite(b_norm) or b_norm == 0:
        return x
    r = b.clone()
    p = r.clone()
    rs = r @ r
    for _ in range(maxiter):
        ap = matvec(p)
        alpha = rs / (p @ ap)
        x = x + alpha * p
        r = r - alpha * ap
        rs_new = r @ r
        if rs_new.sqrt() <= rtol * b_norm:
            break
        p = r + (rs_new / rs) * p
        rs = rs_new
    return x
