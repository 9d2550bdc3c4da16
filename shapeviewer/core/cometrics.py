"""Kernel cometrics: the Hamiltonian H(q, p) and the velocity field v(x) they generate.

- LDDMM: ``H = 1/2 <p, K_q p>``, ``v(x) = sum_j k(x, q_j) p_j``.
- Normalized: ``H = 1/2 <lambda p, K_q (lambda p)>`` with the Sinkhorn scaling lambda of mu,
  ``v(x) = k*(lambda p)(x) / k*(lambda mu)(x)``.
"""

from __future__ import annotations

import torch
from torch.autograd.function import once_differentiable

from .backends import (
    hamiltonian_reduction,
    kernel_product,
    weighted_kernel_gradient,
    weighted_kernel_gradient_vjp,
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

    def field(self, q: torch.Tensor, p: torch.Tensor, create_graph: bool = True, stage: int = 0):
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
        self._remember(q, lam)
        return lam

    def _remember(self, q: torch.Tensor, lam: torch.Tensor) -> None:
        self._cache = (q, q.detach().clone(), lam)

    def hamiltonian(self, q: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
        lp = self.scaling(q)[:, None] * p
        return 0.5 * (lp * kernel_product(self.kernel, q, q, lp, self.backend)).sum()

    def field(self, q: torch.Tensor, p: torch.Tensor, create_graph: bool = True, stage: int = 0):
        """(dH/dp, dH/dq): explicit reductions at fixed lambda plus the path through lambda(q). ``stage``: the
        integrator's stage; the solves of one stage, a time step apart, warm-start from each other's."""
        if self.solver.settings.iterations is None:
            return self._converged_field(q, p, stage)
        with torch.enable_grad():
            q = q if q.requires_grad else q.detach().requires_grad_()
            lam = self.solver.scaling(q, self.mu)  # fresh: a cached lambda's graph may have been freed
            self._remember(q, lam)  # the velocity of carried points reuses it
            k_lp, dh_dq = hamiltonian_reduction(self.kernel, q, lam[:, None] * p, self.backend)
            dh_dlam = (p * k_lp).sum(1)
            (through_lam,) = torch.autograd.grad(
                lam, q, grad_outputs=dh_dlam, create_graph=create_graph, retain_graph=True
            )
        return lam[:, None] * k_lp, dh_dq + through_lam

    def _converged_field(self, q: torch.Tensor, p: torch.Tensor, stage: int):
        """The field at a converged lambda, differentiable once (what the shooting's gradient needs)."""
        dh_dp, dh_dq, lam = _ConvergedField.apply(q, p, self, stage)
        self._remember(q, lam)  # the velocity of carried points reuses it
        return dh_dp, dh_dq

    def velocity(self, x: torch.Tensor, q: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
        lam = self.scaling(q)
        both = kernel_product(
            self.kernel, x, q, torch.cat([lam[:, None] * p, (lam * self.mu)[:, None]], 1), self.backend
        )
        return both[:, :3] / both[:, 3:]


class _ConvergedField(torch.autograd.Function):
    """(dH/dp, dH/dq, lambda) at (q, p) for the converged scaling, with the backward written out.

    Forward, with m = lambda p, M = K_q m, g = p . M (= dH/dlambda), w = J^{-T} (lambda g) (the Sinkhorn
    adjoint), u = w lambda, v = lambda mu:
    dH/dp = lambda M,  dH/dq_i = sum_j G_ij (m_i.m_j - u_i v_j - v_i u_j) (q_i - q_j).
    Backward: the chain rule through these steps in reverse. Products with K_q go through the Sinkhorn
    operator (dense when it fits, else KeOps with stacked columns), and every gradient in q is gathered
    into one kernel-gradient reduction: 1 KeOps reduction forward and 2 backward beyond those products.
    """

    @staticmethod
    def forward(ctx, q, p, cometric, stage):
        solver, mu = cometric.solver, cometric.mu
        q, p = q.detach(), p.detach()
        op = solver.new_operator(q)  # each stage of a shooting brings new positions
        # K_q(lambda p) rides on the solve's last reduction
        lam, big_m = solver.solve(q, mu, op, along=p, sequence=f"field {stage}")
        before = op.matvecs
        m = lam[:, None] * p
        g = (p * big_m).sum(1)
        w = solver.solve_adjoint(op, lam, mu, None, lam * g, solver.linear_rtol(q.dtype), warm=f"field adjoint {stage}")
        a, b = _pairing(m, w * lam, lam * mu)
        dh_dq = weighted_kernel_gradient(cometric.kernel, q, a, b, cometric.backend)
        solver.stats.matvecs += op.matvecs - before
        ctx.cometric, ctx.stage = cometric, stage
        ctx.set_materialize_grads(False)
        ctx.save_for_backward(q, p, lam, big_m, w, g, a, b)
        return lam[:, None] * big_m, dh_dq, lam

    @staticmethod
    @once_differentiable
    def backward(ctx, dh_dp_bar, dh_dq_bar, lam_bar):
        """Written with fused operations (addcmul) where they save a kernel launch: on a GPU these small
        vector operations, not the arithmetic, set the cost."""
        q, p, lam, big_m, w, g, a, b = ctx.saved_tensors
        cometric = ctx.cometric
        solver, mu, kernel, backend = cometric.solver, cometric.mu, cometric.kernel, cometric.backend
        op = solver.new_operator(q)  # the backward visits the stages in reverse: rarely the last operator
        before = op.matvecs
        rtol = solver.linear_rtol(q.dtype, for_loss_gradient=True)
        m, u, v = a[:, :3], a[:, 3], a[:, 4]
        if dh_dq_bar is not None:  # dH/dq = F(q, a, b), a = [m, u, v], b = [m, -v, -u]
            z_sequence = f"backward z {ctx.stage}"
            # with a KeOps K_q, the z-solve's start is known now: its product rides on this reduction
            z_start = solver.direct_start(op, lam, mu, z_sequence)
            riding = z_start is not None and z_start[0] is not None
            vjp = weighted_kernel_gradient_vjp(
                kernel, q, a, b, dh_dq_bar, backend, also=z_start[1][:, None] if riding else None
            )
            q_bar, a_bar, b_bar = vjp[:3]
            if riding:  # (y_0, K_q (e y_0)), a product with K_q like the operator's own
                z_start = (z_start[0], vjp[3][:, 0])
                op.matvecs += 1
            m_bar = a_bar[:, :3] + b_bar[:, :3]
            u_bar = a_bar[:, 3] - b_bar[:, 4]
            v_bar = a_bar[:, 4] - b_bar[:, 3]
            # w = J^{-T} (lambda g), J^T w = w + v K(w lambda): as in the Sinkhorn adjoint's backward
            z = solver.solve_direct(op, lam, mu, None, lam * u_bar, rtol, warm=z_sequence, start=z_start)
        else:
            q_bar, m_bar = torch.zeros_like(q), torch.zeros_like(m)
            u_bar = v_bar = z = torch.zeros_like(lam)
        big_m_bar = torch.zeros_like(p) if dh_dp_bar is None else lam[:, None] * dh_dp_bar  # dH/dp = lambda M
        lam_z = lam * z
        big_m_bar = torch.addcmul(big_m_bar, lam_z[:, None], p)
        r = z * v
        products = op(torch.cat([r[:, None], u[:, None], big_m_bar], 1))  # K [r, u, M_bar] in one go
        y = products[:, 0] * u  # dL/dc / lambda
        dl_dc = y * lam  # dL/dc, c = K(lambda mu) = 1 / lambda
        m_bar = m_bar + products[:, 2:]  # M = K m
        p_bar = torch.addcmul(lam[:, None] * m_bar, lam_z[:, None], big_m)  # m = lambda p
        # dL/dlambda: through m, M_bar's p-term, w's right-hand side, u, v and c (c's term mu K(dL/dc) below)
        through_v = torch.addcmul(v_bar, z, products[:, 1], value=-1.0)
        through_m = p * m_bar if dh_dp_bar is None else torch.addcmul(p * m_bar, dh_dp_bar, big_m)
        total = torch.addcmul(through_m.sum(1), mu, through_v)
        total = torch.addcmul(torch.addcmul(total, g, z), w, u_bar)
        if lam_bar is not None:
            total = total + lam_bar
        if ctx.needs_input_grad[0]:  # lambda(q), then every path to q in one reduction
            # c's term: lambda mu K(lambda y) = (J^T - I) y, y = dL/dc / lambda, so the adjoint solve of
            # lambda total + (J^T - I) y is that of lambda total - y, plus y: no product with K for it
            w_lam = solver.solve_adjoint(op, lam, mu, None, total * lam - y, rtol, warm=f"backward adjoint {ctx.stage}")
            w_lam = (w_lam + y) * lam
            left = torch.cat([-r[:, None], (dl_dc - w_lam)[:, None], big_m_bar, u[:, None], v[:, None], m], 1)
            right = torch.cat([left[:, 5:], left[:, :5]], 1)
            with torch.no_grad():
                q_bar = q_bar + weighted_kernel_gradient(kernel, q, left, right, backend)
        solver.stats.matvecs += op.matvecs - before
        return (q_bar if ctx.needs_input_grad[0] else None), (p_bar if ctx.needs_input_grad[1] else None), None, None


def _pairing(m: torch.Tensor, u: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(a, b) (n, 5) with a_i . b_j = m_i.m_j - u_i v_j - v_i u_j."""
    return torch.cat([m, u[:, None], v[:, None]], 1), torch.cat([m, -v[:, None], -u[:, None]], 1)


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
