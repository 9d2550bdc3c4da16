"""Gradients of the Sinkhorn scaling lambda(q) by the implicit function theorem: an adjoint solve with
J = dPhi/ds (Phi(s, q) = s + log K_q(e^s mu)) instead of backpropagation through the solver's iterations,
itself differentiable once more (what the gradient of a shooting needs). The solves are the solver's."""

from __future__ import annotations

import torch
from torch.autograd.function import once_differentiable

from .backends import kernel_gradient


class ImplicitScaling(torch.autograd.Function):
    """lambda(q) with d lambda / dq from the implicit function theorem on Phi(s, q) = 0."""

    @staticmethod
    def forward(ctx, q, mu, solver):
        lam = solver.solve(q.detach(), mu.detach())
        ctx.solver = solver
        ctx.save_for_backward(q, mu, lam)
        return lam

    @staticmethod
    def backward(ctx, g_lam):
        q, mu, lam = ctx.saved_tensors
        if not ctx.needs_input_grad[0]:
            return None, None, None
        solver = ctx.solver
        # dL/ds = lam * dL/dlam; w = J^{-T} dL/ds; dL/dq = -w . dPhi/dq at fixed s, where
        # Phi = s + log K_q(lam mu) and 1/K_q(lam mu) = lam at the fixed point.
        w = AdjointSolve.apply(q, lam, mu, g_lam * lam, solver, not torch.is_grad_enabled())
        grad_q = -kernel_gradient(solver.kernel, q, w * lam, lam * mu, solver.backend)
        return grad_q, None, None


class AdjointSolve(torch.autograd.Function):
    """w = J(q, lambda)^{-T} g, differentiable once more (enough for gradients of the shooting)."""

    @staticmethod
    def forward(ctx, q, lam, mu, g, solver, for_loss_gradient):
        op = solver.operator(q.detach())
        before = op.matvecs
        w = solver.solve_adjoint(op, lam, mu, None, g, solver.linear_rtol(g.dtype, for_loss_gradient), warm=True)
        solver.stats.matvecs += op.matvecs - before
        ctx.solver = solver
        ctx.save_for_backward(q, lam, mu, w)
        return w

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_w):
        """With z = J^{-1} grad_w: grad_g = z and grad_theta = -d/dtheta <z, J(theta)^T w> at fixed w, z,
        where J^T w = w + a K(w / c), a = lambda mu, c = K a; written out as kernel reductions."""
        q, lam, mu, w = ctx.saved_tensors
        solver = ctx.solver
        op = solver.operator(q)
        before = op.matvecs
        a = lam * mu  # and 1 / lam = K_q a at the fixed point
        z = solver.solve_direct(op, lam, mu, None, grad_w, solver.linear_rtol(grad_w.dtype, True), warm=True)
        r, t = z * a, w * lam  # <z, J^T w> = <z, w> + <r, K t>
        k_r, k_t = op(torch.stack([r, t], 1)).unbind(1)  # one reduction for both
        dl_dc = -k_r * t * lam
        grad_lam = -mu * (z * k_t + op(dl_dc))
        grad_q = None
        if ctx.needs_input_grad[0]:
            u, v = torch.stack([r, dl_dc], 1), torch.stack([t, a], 1)
            grad_q = -kernel_gradient(solver.kernel, q.detach(), u, v, solver.backend)
        solver.stats.matvecs += op.matvecs - before
        return grad_q, grad_lam, None, z, None, None
