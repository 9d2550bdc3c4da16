"""Conjugate gradients for the small, well-conditioned SPD systems of the Sinkhorn scaling."""

from __future__ import annotations

from collections.abc import Callable

import torch


def conjugate_gradient(
    matvec: Callable[[torch.Tensor], torch.Tensor],
    b: torch.Tensor,
    rtol: float,
    maxiter: int = 50,
    x0: torch.Tensor | None = None,
) -> torch.Tensor:
    """Solve A x = b for SPD A given as ``matvec``, from ``x0`` if given; stop at |r| <= rtol |b|."""
    b_norm = torch.linalg.vector_norm(b)
    if not torch.isfinite(b_norm) or b_norm == 0:
        return torch.zeros_like(b)
    if x0 is not None and x0.shape == b.shape:
        x, r = x0.clone(), b - matvec(x0)
        if torch.linalg.vector_norm(r) <= rtol * b_norm:
            return x
    else:
        x, r = torch.zeros_like(b), b.clone()
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
