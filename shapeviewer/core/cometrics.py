"""Kernel cometrics: the Hamiltonian H(q, p) and the velocity field v(x) they generate.

- LDDMM: ``H = 1/2 <p, K_q p>``, ``v(x) = sum_j k(x, q_j) p_j``.
- Normalized: ``H = 1/2 <lambda p, K_q (lambda p)>`` with the Sinkhorn scaling lambda of mu,
  ``v(x) = k*(lambda p)(x) / k*(lambda mu)(x)``.
"""

from __future__ import annotations

import torch

from .backends import (
    dense_kernel_and_gradient,
    gradient_from_weights,
    hamiltonian_reduction,
    kernel_product,
    weighted_kernel_gradient,
)
from .kernels import Kernel
from .sinkhorn import SinkhornSettings, SinkhornSolver, SinkhornStats

COMETRICS = ("lddmm", "normalized")


class LDDMMCometric:
    name = "lddmm"

    def __init__(self, kernel: Kernel, backend: str):
        self.kernel, self.backend = kernel, backend

    def begin_trajectory(self) -> None:
        """Nothing to warm-start: LDDMM has no inner solve."""

    def hamiltonian(self, q: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
        return 0.5 * (p * kernel_product(self.kernel, q, q, p, self.backend)).sum()

    def field(self, q: torch.Tensor, p: torch.Tensor, create_graph: bool = True):
        """(dH/dp, dH/dq) by explicit kernel reductions, differentiable in (q, p)."""
        return hamiltonian_reduction(self.kernel, q, p, self.backend)

    def velocity(self, x: torch.Tensor, q: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
        return kernel_product(self.kernel, x, q, p, self.backend)


class NormalizedCometric:
    """``mu`` (n,) >= 0 with a positive sum: the measure whose Sinkhorn scaling normalizes K."""

    name = "normalized"

    def __init__(
        self,
        kernel: Kernel,
        backend: str,
        mu: torch.Tensor,
        settings: SinkhornSettings | None = None,
        stats: SinkhornStats | None = None,
    ):
        if mu.ndim != 1 or not torch.isfinite(mu).all() or (mu < 0).any() or mu.sum() <= 0:
            raise ValueError("mu must be a finite, non-negative vector with a positive sum")
        self.kernel, self.backend, self.mu = kernel, backend, mu
        self.solver = SinkhornSolver(kernel, backend, settings or SinkhornSettings(), stats)
        self._cache: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None

    @property
    def stats(self) -> SinkhornStats:
        return self.solver.stats

    def begin_trajectory(self) -> None:
        self.solver.begin_trajectory()

    def scaling(self, q: torch.Tensor) -> torch.Tensor:
        """lambda at q, differentiable; reused while q is the same tensor with the same values."""
        cache = self._cache
        if cache is not None and cache[0] is q and torch.equal(cache[1], q.detach()):
            return cache[2]
        lam = self.solver.scaling(q, self.mu)
        self._cache = (q, q.detach().clone(), lam)
        return lam

    def hamiltonian(self, q: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
        lp = self.scaling(q)[:, None] * p
        return 0.5 * (lp * kernel_product(self.kernel, q, q, lp, self.backend)).sum()

    def field(self, q: torch.Tensor, p: torch.Tensor, create_graph: bool = True):
        """(dH/dp, dH/dq): explicit reductions at fixed lambda plus the path through lambda(q)."""
        if self.solver.settings.iterations is None:
            return self._converged_field(q, p)
        with torch.enable_grad():
            q = q if q.requires_grad else q.detach().requires_grad_()
            lam = self.solver.scaling(q, self.mu)  # fresh: a cached lambda's graph may have been freed
            self._cache = (q, q.detach().clone(), lam)  # the velocity of carried points reuses it
            k_lp, dh_dq = hamiltonian_reduction(self.kernel, q, lam[:, None] * p, self.backend)
            dh_dlam = (p * k_lp).sum(1)
            (through_lam,) = torch.autograd.grad(
                lam, q, grad_outputs=dh_dlam, create_graph=create_graph, retain_graph=True
            )
        return lam[:, None] * k_lp, dh_dq + through_lam

    def _converged_field(self, q: torch.Tensor, p: torch.Tensor):
        """The field at a converged lambda, with the path through lambda written out: with m = lambda p,
        u = w lambda, v = lambda mu (w the Sinkhorn adjoint of dH/dlambda = p . K m),
        dH/dq = sum_j G_ij (m_i.m_j - u_i v_j - v_i u_j) (q_i - q_j): one kernel-gradient reduction.
        Dense: K and G are built once per step and also serve the Sinkhorn solve."""
        with torch.enable_grad():
            q = q if q.requires_grad else q.detach().requires_grad_()
            dense = self.backend == "torch"
            if dense:
                k, g = dense_kernel_and_gradient(self.kernel, q)
                self.solver.operator(q, k.detach())
            lam = self.solver.scaling(q, self.mu)
            self._cache = (q, q.detach().clone(), lam)
            m = lam[:, None] * p
            k_m = k @ m if dense else kernel_product(self.kernel, q, q, m, self.backend)
            w = self.solver.adjoint(q, lam, self.mu, (p * k_m).sum(1))
            u, v = (w * lam)[:, None], (lam * self.mu)[:, None]
            a, b = torch.cat([m, u, v], 1), torch.cat([m, -v, -u], 1)  # a_i . b_j = m_i.m_j - u_i v_j - v_i u_j
            if dense:
                dh_dq = gradient_from_weights(g * (a @ b.T), q)
            else:
                dh_dq = weighted_kernel_gradient(self.kernel, q, a, b, self.backend)
            return lam[:, None] * k_m, dh_dq

    def velocity(self, x: torch.Tensor, q: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
        lam = self.scaling(q)
        both = kernel_product(
            self.kernel, x, q, torch.cat([lam[:, None] * p, (lam * self.mu)[:, None]], 1), self.backend
        )
        return both[:, :3] / both[:, 3:]


def make_cometric(
    name: str,
    kernel: Kernel,
    backend: str,
    mu: torch.Tensor | None = None,
    sinkhorn: SinkhornSettings | None = None,
):
    if name == "lddmm":
        return LDDMMCometric(kernel, backend)
    if name == "normalized":
        if mu is None:
            raise ValueError("the normalized cometric needs a measure mu")
        return NormalizedCometric(kernel, backend, mu, sinkhorn)
    raise ValueError(f"unknown cometric '{name}' (choose from {', '.join(COMETRICS)})")
