"""Symmetric Sinkhorn scaling: lambda > 0 with ``lambda_i (K_q (lambda mu))_i = 1``.

Two modes:
- converged (default): Newton's method on ``Phi(s) = s + log K_q(e^s mu)`` (s = log lambda),
  whose Jacobian ``J = I + diag(1/c) K diag(lambda mu)`` has its spectrum in [1, 2]; each Newton
  step solves a symmetrised system with spectrum in [1, 2] by Chebyshev iteration (a step count fixed
  by the tolerance, no inner products: no host synchronisation on a GPU), or by conjugate gradients.
  Gradients come from the implicit function theorem (an adjoint solve), exact to every order
  the shooting needs, instead of backpropagating through the iterations.
- fixed iterations (the talk): ``lambda <- sqrt(lambda / K_q(lambda mu))`` n times from 1,
  differentiated by plain autograd through the unrolled loop.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import torch
from torch.autograd.function import once_differentiable

from .backends import ScalarKernelOperator, kernel_gradient, kernel_product
from .kernels import Kernel
from .linear_solvers import (
    augmented_iteration_matrix,
    chebyshev,
    chebyshev_augmented,
    chebyshev_iterations,
    conjugate_gradient,
)

LINEAR_SOLVERS = ("chebyshev", "cg")


# Residuals below this many epsilons of the dtype are rounding (float32: 1.2e-5; sums of 1e3 terms end
# near 1e-6 where tol asks for 1e-6): such a solve counts as capped, but no warning is given.
ROUNDING_FLOOR = 100


@dataclass
class SinkhornSettings:
    """``iterations`` set: the talk's fixed count; otherwise converge to ``tol`` within ``max_newton`` steps,
    the Newton systems solved by ``linear_solver`` ('chebyshev' or 'cg')."""

    iterations: int | None = None
    tol: float = 1e-6
    max_newton: int = 30
    linear_solver: str = "chebyshev"

    def describe(self) -> str:
        if self.iterations is not None:
            return f"fixed {self.iterations} iterations (unrolled autodiff)"
        solver = "Chebyshev" if self.linear_solver == "chebyshev" else "CG"
        return f"Newton-{solver} to tol {self.tol:g} (implicit differentiation)"


@dataclass
class SinkhornStats:
    """What the solver did, summed over all solves of a run."""

    solves: int = 0
    newton_steps: int = 0
    matvecs: int = 0
    max_residual: float = 0.0
    capped: int = 0

    def record(self, residual: float) -> None:
        self.solves += 1
        self.max_residual = max(self.max_residual, residual)


def scaling_residual(lam: torch.Tensor, c: torch.Tensor) -> float:
    """max_i |lambda_i (K (lambda mu))_i - 1|."""
    return float(torch.linalg.vector_norm(torch.mul(lam, c).sub_(1.0), ord=math.inf))


class SinkhornSolver:
    """Solves for lambda and the linear systems its derivatives need; keeps a warm start.

    ``read_residuals``: let a warm-started linear solve read its starting residual back (one host read) to
    shorten its run; None: only where reads are free, i.e. on a CPU or when K_q is a KeOps reduction
    (KeOps synchronises after each one anyway). Otherwise (a dense K_q on a GPU, where these small solves
    are bound by kernel launches) a Chebyshev solve starts from 0 with the step count of its tolerance, on
    its iteration matrix built once (one operation a step)."""

    def __init__(self, kernel: Kernel, backend: str, settings: SinkhornSettings, stats: SinkhornStats | None = None):
        if settings.linear_solver not in LINEAR_SOLVERS:
            raise ValueError(
                f"unknown Sinkhorn linear solver '{settings.linear_solver}' (choose from {', '.join(LINEAR_SOLVERS)})"
            )
        self.kernel, self.backend, self.settings = kernel, backend, settings
        self.read_residuals: bool | None = None
        self.stats = stats if stats is not None else SinkhornStats()
        self._warm: list[torch.Tensor] = []  # lambda of each solve of the previous trajectory
        self._solve_index = 0
        self._linear_warm: list[torch.Tensor] = []  # likewise for the derivatives' linear solves
        self._linear_index = 0
        self._operator: ScalarKernelOperator | None = None
        # values kept while their keys are the same tensors, unchanged in place: sqrt(mu), e at a fixed
        # point (lambda, mu), the iteration matrix of (K_q, e) (both internal, never changed in place)
        self._sqrt_mu: tuple | None = None
        self._fixed_point_e: tuple | None = None
        self._iteration: tuple | None = None

    def operator(self, q: torch.Tensor, matrix: torch.Tensor | None = None) -> ScalarKernelOperator:
        """The detached K_q, shared by the solve and the adjoint solves at the same positions q;
        ``matrix``: a dense K_q the caller already has."""
        op = self._operator
        if op is None or op.q.shape != q.shape or op.q.dtype != q.dtype or not torch.equal(op.q, q.detach()):
            op = self.new_operator(q, matrix)
        return op

    def new_operator(self, q: torch.Tensor, matrix: torch.Tensor | None = None) -> ScalarKernelOperator:
        """A fresh K_q, without comparing q with the last one (a host read on a GPU): for callers that
        know q is new."""
        self._operator = ScalarKernelOperator(self.kernel, q.detach().clone(), self.backend, matrix)
        return self._operator

    # -- helpers on a fixed operator ------------------------------------------------------------
    def begin_trajectory(self) -> None:
        """A new shooting starts: the k-th solve warm-starts from the k-th solve of the last one."""
        self._solve_index = 0
        self._linear_index = 0

    def _warm_start(self, mu: torch.Tensor) -> torch.Tensor | None:
        for k in (self._solve_index, len(self._warm) - 1):
            if 0 <= k < len(self._warm) and self._warm[k].shape == mu.shape:
                return self._warm[k]
        return None

    def _remember(self, lam: torch.Tensor) -> None:
        k = self._solve_index
        self._warm[k : k + 1] = [lam]
        self._solve_index = k + 1

    def linear_rtol(self, dtype: torch.dtype, for_loss_gradient: bool = False) -> float:
        """Accuracy of the linear solves: that of the scaling where they steer the geodesic (dH/dq),
        100x looser where they only feed the optimiser's gradient (L-BFGS needs no more)."""
        tol = self.settings.tol * (100 if for_loss_gradient else 1)
        return max(tol, 10 * torch.finfo(dtype).eps)

    def _symmetric_solve(self, op, e, b, rtol, warm: bool):
        """(I + E K E) y = b, E = diag(e), spectrum in [1, 2]; to |b - A y| <= rtol |b| (rtol |b - A y_0| from
        a warm start y_0); ``warm``: start from the matching solve of the last run, where that shortens it
        (CG, or Chebyshev reading its starting residual back; without the read, a fixed step count gains
        nothing from a start but accuracy beyond rtol, at ten more operations)."""
        warm = warm and (self.settings.linear_solver == "cg" or self._reads_residuals(op))
        k = self._linear_index
        x0 = self._linear_warm[k] if warm and k < len(self._linear_warm) else None
        x0 = x0 if x0 is not None and x0.shape == b.shape else None

        def matvec(v):
            return v + e * op(e * v)

        if self.settings.linear_solver == "cg":
            y = conjugate_gradient(matvec, b, rtol, x0=x0)
        else:
            y = self._chebyshev(op, e, matvec, b, rtol, x0)
        if warm:
            self._linear_warm[k : k + 1] = [y]
            self._linear_index = k + 1
        return y

    def _reads_residuals(self, op: ScalarKernelOperator) -> bool:
        if self.read_residuals is not None:
            return self.read_residuals
        return not op.dense or op.q.device.type == "cpu"

    def _chebyshev(self, op, e, matvec, b, rtol, x0):
        """Chebyshev on [1, 2] with the step count of ``rtol``. Reading residuals: shortened from a warm start
        x0 by its residual, the start kept if below |b|. Not reading (a dense K_q on a GPU, bound by kernel
        launches): from 0, on the iteration matrix I - 2/3 (I + E K E) built once, one operation a step."""
        iterations = chebyshev_iterations(rtol)
        if not self._reads_residuals(op) and op.dense:
            op.matvecs += max(iterations - 1, 0)  # products with K_q, inside the iteration matrix
            return chebyshev_augmented(self._iteration_matrix(op, e), b, iterations)
        if x0 is None:
            return chebyshev(matvec, b, iterations)
        r0 = b - matvec(x0)
        b_norm, r_norm = torch.linalg.vector_norm(torch.stack([b, r0]), dim=1).tolist()
        if b_norm == 0.0:
            return torch.zeros_like(b)
        if not r_norm <= b_norm:  # a start worse than 0, or not finite: start from 0
            return chebyshev(matvec, b, iterations)
        if r_norm == 0.0:
            return x0
        return chebyshev(matvec, b, chebyshev_iterations(rtol * b_norm / r_norm), x0, r0)

    def _iteration_matrix(self, op, e):
        """[[I - 2/3 (I + E K E), .], [0, 1]] for :func:`chebyshev_augmented`, kept for the next solve with the
        same (K_q, e) and its memory reused for another."""
        kept = self._iteration
        if kept is not None and kept[0] is op and kept[1] is e:
            return kept[2]
        n, last = len(e), kept[2] if kept is not None else None
        if last is None or last.shape[0] != n + 1 or (last.dtype, last.device) != (e.dtype, e.device):
            last = augmented_iteration_matrix(n, e.dtype, e.device)
        op.scaled_matrix(e, -2.0 / 3.0, 1.0 / 3.0, out=last[:n, :n])
        self._iteration = (op, e, last)
        return last

    def solve_direct(self, op, lam, mu, c, r, rtol, warm: bool = False):
        """J delta = r with J = I + diag(1/c) K diag(lambda mu); c None: at the fixed point (c = 1 / lambda)."""
        e = self._symmetrisation(lam, mu, c)
        if c is None:  # e c = sqrt(mu), 1 / c = lambda
            y = self._symmetric_solve(op, e, self._sqrt(mu) * r, rtol, warm)
            return r - lam * op(e * y)
        y = self._symmetric_solve(op, e, e * c * r, rtol, warm)
        return r - op(e * y) / c

    def solve_adjoint(self, op, lam, mu, c, g, rtol, warm: bool = False):
        """J^T w = g; c None: at the fixed point (c = 1 / lambda)."""
        e = self._symmetrisation(lam, mu, c)
        if c is None:  # w = c (g / c - e eta) = g - sqrt(mu) eta
            eta = self._symmetric_solve(op, e, e * op(lam * g), rtol, warm)
            return g - self._sqrt(mu) * eta
        eta = self._symmetric_solve(op, e, e * op(g / c), rtol, warm)
        return c * (g / c - e * eta)

    def _symmetrisation(self, lam, mu, c):
        """e = sqrt(lambda mu / c), = lambda sqrt(mu) at the fixed point (kept while lambda is the same tensor:
        the solves of one backward stage share it, and with it their iteration matrix)."""
        if c is not None:
            return (lam * mu / c).sqrt()
        if not _kept_for(self._fixed_point_e, lam, mu):
            self._fixed_point_e = (lam, mu, lam._version, mu._version, lam * self._sqrt(mu))
        return self._fixed_point_e[-1]

    def _sqrt(self, mu):
        if not _kept_for(self._sqrt_mu, mu):
            self._sqrt_mu = (mu, mu._version, mu.sqrt())
        return self._sqrt_mu[-1]

    # -- the scaling itself --------------------------------------------------------------------
    def solve(self, q: torch.Tensor, mu: torch.Tensor, op: ScalarKernelOperator | None = None) -> torch.Tensor:
        """lambda with max_i |lambda_i (K_q (lambda mu))_i - 1| < tol by Newton steps on s = log lambda:
        one host read of the residual per step (the stopping test). A warning at the step cap,
        FloatingPointError when lambda is not finite. ``op``: K_q if the caller has it."""
        op = op if op is not None else self.operator(q)
        before = op.matvecs
        tol = self.settings.tol
        warm = self._warm_start(mu)
        s = warm.log() if warm is not None else -0.5 * op(mu).log()
        lam = s.exp()
        c = op(lam * mu)
        residual = scaling_residual(lam, c)
        steps = 0
        # "not residual < tol": a NaN residual is not convergence
        while not residual < tol and math.isfinite(residual) and steps < self.settings.max_newton:
            s_new, lam_new, c_new, new_residual = self._newton_step(op, mu, s, lam, c, residual)
            steps += 1
            stalled = not new_residual < residual
            s, lam, c, residual = s_new, lam_new, c_new, new_residual
            if stalled:  # rounding floor of the dtype
                break
        self.stats.newton_steps += steps
        self.stats.matvecs += op.matvecs - before
        self.stats.record(residual)
        if not residual < tol:
            self.stats.capped += 1
            if not math.isfinite(residual):
                raise FloatingPointError("Sinkhorn scaling diverged (non-finite lambda); check mu and the kernel")
        if not residual < max(tol, ROUNDING_FLOOR * torch.finfo(lam.dtype).eps):  # said only above rounding
            warnings.warn(
                f"Sinkhorn stopped after {steps} Newton steps with residual {residual:.2e} >= tol {tol:g}",
                RuntimeWarning,
                stacklevel=2,
            )
        self._remember(lam)
        return lam

    def _newton_step(self, op, mu, s, lam, c, residual):
        """(s, lambda, c, residual) after s <- s - t J^{-1} Phi(s), Phi = s + log c, the step t halved until
        the residual decreases (Newton on this system almost never needs it); one host read per trial."""
        phi = s + c.log()
        # The new residual is about rtol * residual + O(residual^2): rtol = residual keeps Newton quadratic,
        # and near tol, rtol = tol / (2 residual) is enough to end with this step (a warm start's usual case)
        rtol = min(0.1, max(residual, 0.5 * self.settings.tol / residual, self.linear_rtol(s.dtype)))
        delta = self.solve_direct(op, lam, mu, c, phi, rtol)
        step = 1.0
        while True:
            s_new = torch.add(s, delta, alpha=-step)
            lam_new = s_new.exp()
            c_new = op(lam_new * mu)
            new_residual = scaling_residual(lam_new, c_new)
            if new_residual < residual or step < 1e-3:
                return s_new, lam_new, c_new, new_residual
            step *= 0.5

    def adjoint(self, q, lam, mu, g_lam):
        """w = J^{-T} (lambda g): the adjoint of the scaling at a converged lambda, differentiable."""
        return _AdjointSolve.apply(q, lam, mu, g_lam * lam, self, False)

    def scaling(self, q: torch.Tensor, mu: torch.Tensor) -> torch.Tensor:
        """Differentiable lambda(q) (mu is held constant)."""
        if self.settings.iterations is not None:
            return self._fixed_iterations(q, mu, self.settings.iterations)
        return _ImplicitScaling.apply(q, mu, self)

    def _fixed_iterations(self, q, mu, n):
        lam = torch.ones_like(mu)
        for _ in range(n):
            lam = (lam / self._field(q, lam * mu)).sqrt()
        with torch.no_grad():
            self.stats.matvecs += n + 1
            self.stats.record(scaling_residual(lam, self._field(q, lam * mu)))
        return lam

    def _field(self, q, v):
        """Differentiable K_q v for a scalar field v."""
        return kernel_product(self.kernel, q, q, v[:, None], self.backend)[:, 0]


def _kept_for(entry: tuple | None, *keys: torch.Tensor) -> bool:
    """Whether a cache entry (keys..., their versions..., value) was made from these very tensors, unchanged."""
    n = len(keys)
    return (
        entry is not None
        and all(kept is key for kept, key in zip(entry[:n], keys, strict=True))
        and all(version == key._version for version, key in zip(entry[n : 2 * n], keys, strict=True))
    )


class _ImplicitScaling(torch.autograd.Function):
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
        w = _AdjointSolve.apply(q, lam, mu, g_lam * lam, solver, not torch.is_grad_enabled())
        grad_q = -kernel_gradient(solver.kernel, q, w * lam, lam * mu, solver.backend)
        return grad_q, None, None


class _AdjointSolve(torch.autograd.Function):
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
