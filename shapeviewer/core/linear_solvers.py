"""Solvers for the small, well-conditioned SPD systems of the Sinkhorn scaling.

- :func:`chebyshev`: a fixed number of steps chosen from the spectrum bounds, no inner products, hence
  no host synchronisation on a GPU; the default.
- :func:`chebyshev_augmented`: the same iterates for a dense matrix, one fused operation per step (fewer
  kernel launches on a GPU, where these small solves are bound by launches).
- :func:`conjugate_gradient`: stops on the residual norm (one host read per iteration).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch


def chebyshev_iterations(rtol: float, lo: float = 1.0, hi: float = 2.0) -> int:
    """Smallest k with 1 / T_k((hi + lo) / (hi - lo)) <= rtol: then |b - A x_k| <= rtol |b - A x_0|
    for any SPD A with spectrum in [lo, hi] (T_k the Chebyshev polynomial; [1, 2]: rate 3 - sqrt(8) ~ 0.17)."""
    if rtol >= 1.0:
        return 0
    if not rtol > 0.0:
        raise ValueError(f"Chebyshev tolerance must be positive, got {rtol}")
    sigma = (hi + lo) / (hi - lo)
    return math.ceil(math.acosh(1.0 / rtol) / math.acosh(sigma) - 1e-9)


def chebyshev(
    matvec: Callable[[torch.Tensor], torch.Tensor],
    b: torch.Tensor,
    iterations: int,
    x0: torch.Tensor | None = None,
    r0: torch.Tensor | None = None,
    lo: float = 1.0,
    hi: float = 2.0,
) -> torch.Tensor:
    """x_k for A x = b, spectrum of A in [lo, hi], after ``iterations`` Chebyshev steps (Saad, Alg. 12.1),
    from ``x0`` with residual ``r0 = b - A x0`` (both given, or neither: from 0); iterations - 1 matvecs.

    The residual polynomial is T_k((theta - A) / delta) / T_k(theta / delta), theta = (hi + lo) / 2,
    delta = (hi - lo) / 2; its coefficients are scalars known in advance, so nothing is read back.
    b: (n,) or (n, m) (m systems at once)."""
    if (x0 is None) != (r0 is None):
        raise ValueError("give both x0 and its residual r0, or neither")
    x = torch.zeros_like(b) if x0 is None else x0
    r = b if r0 is None else r0
    theta, delta = (hi + lo) / 2, (hi - lo) / 2
    sigma = theta / delta
    rho = 1.0 / sigma
    d = r / theta
    for k in range(iterations):
        x = x + d
        if k == iterations - 1:
            break
        r = r - matvec(d)
        rho_next = 1.0 / (2.0 * sigma - rho)
        d = (rho_next * rho) * d + (2.0 * rho_next / delta) * r
        rho = rho_next
    return x


def augmented_iteration_matrix(n: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """An empty (n + 1, n + 1) matrix for :func:`chebyshev_augmented`: its last row set to (0, ..., 0, 1);
    the caller writes B = I - gamma A into the top-left block."""
    out = torch.empty(n + 1, n + 1, dtype=dtype, device=device)
    out[n].zero_()
    out[n, n] = 1.0
    return out


def chebyshev_augmented(
    augmented: torch.Tensor, b: torch.Tensor, iterations: int, lo: float = 1.0, hi: float = 2.0
) -> torch.Tensor:
    """The iterates of :func:`chebyshev` from 0 for A x = b (b: (n,)), given ``augmented`` = [[B, .], [0, 1]]
    with the iteration matrix B = I - gamma A, gamma = 2 / (hi + lo), in its top-left block; its last column
    is overwritten with (gamma b, 1). Golub and Varga's three-term form
    x_{k+1} = omega_{k+1} (B x_k + gamma b) + (1 - omega_{k+1}) x_{k-1}, x_0 = 0, x_1 = gamma b,
    omega_2 = 1 / (1 - rho^2 / 2), omega_{k+1} = 1 / (1 - rho^2 omega_k / 4), rho = (hi - lo) / (hi + lo),
    is on (x, 1) one fused matrix-vector product a step (the two-term form takes seven operations: on a
    GPU, where these small solves are bound by kernel launches, that is the cost)."""
    n = len(b)
    if iterations == 0:
        return torch.zeros_like(b)
    torch.mul(b, 2.0 / (hi + lo), out=augmented[:n, n])
    rho2 = ((hi - lo) / (hi + lo)) ** 2
    previous, x = augmented[n], augmented[:, n]  # (x_0, 1) = (0, 1) and (x_1, 1) = (gamma b, 1)
    omega = 1.0
    for k in range(1, iterations):
        omega = 1.0 / (1.0 - rho2 / 2) if k == 1 else 1.0 / (1.0 - rho2 * omega / 4)
        previous, x = x, torch.addmv(previous, augmented, x, beta=1.0 - omega, alpha=omega)
    return x[:n].clone() if iterations == 1 else x[:n]  # x_1 is a view of the matrix


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
