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

from .backends import ScalarKernelOperator, kernel_product
from .keops_census import taking_census
from .kernels import Kernel
from .linear_solvers import (
    augmented_iteration_matrix,
    chebyshev,
    chebyshev_augmented,
    chebyshev_iterations,
    conjugate_gradient,
)
from .sinkhorn_gradients import AdjointSolve, ImplicitScaling
from .warm_starts import WarmStarts

LINEAR_SOLVERS = ("chebyshev", "cg")


# Residuals below this many epsilons of the dtype are rounding (float32: 1.2e-5; sums of 1e3 terms end
# near 1e-6 where tol asks for 1e-6): such a solve counts as capped, but no warning is given.
ROUNDING_FLOOR = 100
NON_FINITE_RIGHT_HAND_SIDE = (
    "a Sinkhorn derivative's linear system has a non-finite right-hand side: lambda or the momenta overflowed "
    "(try float64 or smaller momenta)"
)


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
    """max_i |log(lambda_i (K (lambda mu))_i)|: max_i |lambda_i c_i - 1| to first order near the answer, but
    without its saturation at 1 where lambda_i c_i -> 0 far from it, where Newton's backtracking (which compares
    residuals) saw no progress and stalled (from 3 of 6 starts 2-5 off in log lambda on finger0's tip mask)."""
    return float(torch.linalg.vector_norm(torch.mul(lam, c).log_(), ord=math.inf))


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
        self._warm = WarmStarts()  # the starts of the scaling's solves, in log lambda
        self._linear_warm = WarmStarts()  # those of its derivatives' linear solves
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
        """A new shooting starts: its solves start from extrapolations of its earlier ones and from the last
        shooting's (see :class:`WarmStarts`)."""
        self._warm.begin()
        self._linear_warm.begin()

    def linear_rtol(self, dtype: torch.dtype, for_loss_gradient: bool = False) -> float:
        """Accuracy of the linear solves: that of the scaling where they steer the geodesic (dH/dq),
        100x looser where they only feed the optimiser's gradient (L-BFGS needs no more)."""
        tol = self.settings.tol * (100 if for_loss_gradient else 1)
        return max(tol, 10 * torch.finfo(dtype).eps)

    def _linear_start(self, op, b, warm: bool | str) -> torch.Tensor | None:
        """The start of the next warm linear solve (``warm`` a string: predicted along that sequence, see
        :class:`WarmStarts`), where a start shortens it (CG, or Chebyshev reading its starting residual back;
        without the read, a fixed step count gains nothing from a start but accuracy beyond rtol, at ten more
        operations)."""
        if not (warm and self._warm_linear(op)):
            return None
        return self._linear_warm.start(b, warm if isinstance(warm, str) else None)

    def _warm_linear(self, op) -> bool:
        return self.settings.linear_solver == "cg" or self._reads_residuals(op)

    def _keep_linear(self, op, y, warm: bool | str) -> torch.Tensor:
        """y, kept for the starts of later solves (see :class:`WarmStarts`)."""
        if warm and self._warm_linear(op):
            self._linear_warm.keep(y, warm if isinstance(warm, str) else None)
        return y

    def _symmetric_solve(self, op, e, b, rtol, warm: bool | str, start=None):
        """(I + E K E) y = b, E = diag(e), spectrum in [1, 2]; to |b - A y| <= rtol |b| (rtol |b - A y_0| from
        a warm start y_0); ``start``: (y_0, its residual) where the caller computed them ((None, None): the
        caller found no start)."""
        x0, r0 = start if start is not None else (self._linear_start(op, b, warm), None)

        def matvec(v):
            return v + e * op(e * v)

        if self.settings.linear_solver == "cg":
            y = conjugate_gradient(matvec, b, rtol, x0=x0)
        elif not self._reads_residuals(op) and op.dense:
            y = self._augmented_chebyshev(op, e, b, rtol)
        else:
            y = self._chebyshev(matvec, b, rtol, x0, r0)
        return self._keep_linear(op, y, warm)

    def _reads_residuals(self, op: ScalarKernelOperator) -> bool:
        if self.read_residuals is not None:
            return self.read_residuals
        return not op.dense or op.q.device.type == "cpu"

    def _chebyshev_reads(self, op) -> bool:
        """Chebyshev solves that read their starting residual back: there Newton steps take J unsymmetrised and
        adjoint solves stack products (each saves a reduction of K_q, i.e. a host synchronisation with KeOps)."""
        return self.settings.linear_solver == "chebyshev" and self._reads_residuals(op)

    @staticmethod
    def _chebyshev(matvec, b, rtol, x0=None, r0=None):
        """Chebyshev on [1, 2] with the step count of ``rtol``, shortened from a warm start x0 (residual r0,
        computed here if not given) by its residual, the start kept if below |b|."""
        iterations = chebyshev_iterations(rtol)
        if x0 is None:
            return chebyshev(matvec, b, iterations)
        r0 = b - matvec(x0) if r0 is None else r0
        b_norm, r_norm = torch.linalg.vector_norm(torch.stack([b, r0]), dim=1).tolist()
        if not math.isfinite(b_norm):
            raise FloatingPointError(NON_FINITE_RIGHT_HAND_SIDE)
        if b_norm == 0.0:
            return torch.zeros_like(b)
        if not r_norm <= b_norm:  # a start worse than 0, or not finite: start from 0
            return chebyshev(matvec, b, iterations)
        if r_norm == 0.0:
            return x0
        return chebyshev(matvec, b, chebyshev_iterations(rtol * b_norm / r_norm), x0, r0)

    def _augmented_chebyshev(self, op, e, b, rtol):
        """Without reads (a dense K_q on a GPU, bound by kernel launches): from 0, on the iteration matrix
        I - 2/3 (I + E K E) built once, one operation a step."""
        iterations = chebyshev_iterations(rtol)
        if iterations <= 1:  # x_1 = 2/3 b: no matrix needed
            return chebyshev(None, b, iterations)
        op.matvecs += iterations - 1  # products with K_q, inside the iteration matrix
        return chebyshev_augmented(self._iteration_matrix(op, e), b, iterations)

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

    def direct_start(self, op, lam, mu, warm: str) -> tuple | None:
        """For a caller that makes one KeOps reduction of its own just before a fixed-point :meth:`solve_direct`
        along ``warm``: (y_0, e y_0), the start of that solve's symmetrised system (y_0 None: it has none),
        looked up ahead, so that K_q (e y_0) can ride on the caller's reduction and be passed to the solve as
        ``start``. None where it would gain nothing (a dense K_q, or a solve that reads no starting residual)."""
        if op.dense or not self._chebyshev_reads(op):
            return None
        x0 = self._linear_start(op, lam, warm)
        return (None, None) if x0 is None else (x0, self._symmetrisation(lam, mu, None) * x0)

    def solve_direct(self, op, lam, mu, c, r, rtol, warm: bool | str = False, start: tuple | None = None):
        """J delta = r with J = I + diag(1/c) K diag(lambda mu); c None: at the fixed point (c = 1 / lambda).
        ``start``: (y_0, K_q (e y_0)) from :meth:`direct_start` and the caller's reduction ((None, None): none)."""
        if c is not None and self._chebyshev_reads(op):  # a Newton step, which checks its own result
            return self._unsymmetrised_solve(op, lam, mu, c, r, rtol, warm)
        e = self._symmetrisation(lam, mu, c)
        if c is None:  # e c = sqrt(mu), 1 / c = lambda
            b = self._sqrt(mu) * r
            if not self._chebyshev_reads(op):
                return r - lam * op(e * self._symmetric_solve(op, e, b, rtol, warm))
            x0, k_x0 = start if start is not None else (self._linear_start(op, b, warm), None)
            start = (None, None)
            if x0 is not None:
                k_x0 = op(e * x0) if k_x0 is None else k_x0
                start = (x0, b - torch.addcmul(x0, e, k_x0))
            y = self._symmetric_solve(op, e, b, rtol, warm, start)
            # the start's product maps the answer back too when the start is already the answer
            return r - lam * (k_x0 if y is x0 else op(e * y))
        y = self._symmetric_solve(op, e, e * c * r, rtol, warm)
        return r - op(e * y) / c

    def _unsymmetrised_solve(self, op, lam, mu, c, r, rtol, warm):
        """J delta = r by Chebyshev on J itself: J = D^-1 (I + E K E) D, D = diag(sqrt(lambda mu c)), so the
        same step count meets the same bound on the residual weighted by D, without the symmetrised form's
        product that maps its answer back (delta = r - K(e y) / c). About one step less accurate for that
        (measured): right for Newton steps, whose next residual is checked, not for the gradients' solves."""
        a = lam * mu

        def matvec(v):
            return torch.addcdiv(v, op(a * v), c)

        x0 = self._linear_start(op, r, warm)
        return self._keep_linear(op, self._chebyshev(matvec, r, rtol, x0), warm)

    def solve_adjoint(self, op, lam, mu, c, g, rtol, warm: bool | str = False):
        """J^T w = g; c None: at the fixed point (c = 1 / lambda). Symmetrised (J^T unsymmetrised would leave
        the rows where mu = 0 to converge slowly); where the start's residual is read, its product is
        stacked with the right-hand side's: one reduction."""
        e = self._symmetrisation(lam, mu, c)
        v = lam * g if c is None else g / c
        reads = self._chebyshev_reads(op)
        x0 = self._linear_start(op, g, warm) if reads else None
        start = (None, None) if reads else None  # (None, None): no start, none to look up
        if x0 is None:
            rhs = e * op(v)
        else:
            k_v, k_x0 = op(torch.stack([v, e * x0], 1)).unbind(1)
            rhs = e * k_v
            start = (x0, rhs - torch.addcmul(x0, e, k_x0))
        eta = self._symmetric_solve(op, e, rhs, rtol, warm, start)
        if c is None:  # w = c (g / c - e eta) = g - sqrt(mu) eta
            return g - self._sqrt(mu) * eta
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
    def solve(
        self, q: torch.Tensor, mu: torch.Tensor, op: ScalarKernelOperator | None = None, along=None, sequence=None
    ):
        """lambda with max_i |log(lambda_i (K_q (lambda mu))_i)| < tol by Newton steps on s = log lambda:
        one host read of the residual per step (the stopping test). A warning at the step cap,
        FloatingPointError when lambda is not finite. ``op``: K_q if the caller has it. ``along``: fields
        p (n, k); then (lambda, K_q(lambda p)) is returned (see :class:`_Riders`). ``sequence``: names the
        solves whose answers predict each other's, one per time step (see :class:`WarmStarts`)."""
        op = op if op is not None else self.operator(q)
        before = op.matvecs
        tol = self.settings.tol
        s = self._warm.start(mu, sequence, or_latest=True)
        riders = _Riders(op, mu, along)
        if s is not None:
            lam, c, residual = riders.trial(s)
        if s is None or not math.isfinite(residual):  # no start, or one that overflowed (an extrapolation)
            s = -0.5 * op(mu).log()
            lam, c, residual = riders.trial(s)
        steps = 0
        # "not residual < tol": a NaN residual is not convergence
        while not residual < tol and math.isfinite(residual) and steps < self.settings.max_newton:
            s_new, lam_new, c_new, new_residual = self._newton_step(op, mu, s, lam, c, residual, riders.trial)
            steps += 1
            stalled = not new_residual < residual
            s, lam, c, residual = s_new, lam_new, c_new, new_residual
            if stalled:  # rounding floor of the dtype
                break
        products = riders.products(lam) if along is not None else None  # counted with the solve's
        self.stats.newton_steps += steps
        self.stats.matvecs += op.matvecs - before
        self.stats.record(residual)
        if not residual < tol:
            self.stats.capped += 1
            if not math.isfinite(residual):
                raise FloatingPointError("Sinkhorn scaling diverged (non-finite lambda); check mu and the kernel")
        # said above rounding only, and not of a census's stand-in numbers
        if not residual < max(tol, ROUNDING_FLOOR * torch.finfo(lam.dtype).eps) and not taking_census():
            warnings.warn(
                f"Sinkhorn stopped after {steps} Newton steps with residual {residual:.2e} >= tol {tol:g}",
                RuntimeWarning,
                stacklevel=2,
            )
        self._warm.keep(s, sequence)
        return lam if along is None else (lam, products)

    def _newton_step(self, op, mu, s, lam, c, residual, trial):
        """(s, lambda, c, residual) after s <- s - t J^{-1} Phi(s), Phi = s + log c, the step t halved until
        the residual decreases (Newton on this system almost never needs it); one host read per trial.
        ``trial``: s -> (lambda, K_q(lambda mu), residual)."""
        phi = s + c.log()
        # The new residual is about rtol * residual + O(residual^2): rtol = residual keeps Newton quadratic,
        # and near tol, rtol = tol / (2 residual) is enough to end with this step (a warm start's usual case).
        # Up to 1/3: one Chebyshev step, delta = 2/3 Phi, no product (just above tol, after a first step)
        rtol = min(1.0 / 3.0, max(residual, 0.5 * self.settings.tol / residual, self.linear_rtol(s.dtype)))
        delta = self.solve_direct(op, lam, mu, c, phi, rtol)
        step = 1.0
        while True:
            s_new = torch.add(s, delta, alpha=-step)
            lam_new, c_new, new_residual = trial(s_new)
            if new_residual < residual or step < 1e-3:
                return s_new, lam_new, c_new, new_residual
            step *= 0.5

    def adjoint(self, q, lam, mu, g_lam):
        """w = J^{-T} (lambda g): the adjoint of the scaling at a converged lambda, differentiable."""
        return AdjointSolve.apply(q, lam, mu, g_lam * lam, self, False)

    def scaling(self, q: torch.Tensor, mu: torch.Tensor) -> torch.Tensor:
        """Differentiable lambda(q) (mu is held constant)."""
        if self.settings.iterations is not None:
            return self._fixed_iterations(q, mu, self.settings.iterations)
        return ImplicitScaling.apply(q, mu, self)

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


class _Riders:
    """K_q(lambda mu) for each lambda a solve tries, and K_q(lambda p) for the one it ends with. With a KeOps
    K_q, K_q(lambda p) rides on every K_q(lambda mu) as stacked columns: the last lambda tried is the answer,
    so it costs no reduction (a host synchronisation) of its own. With a dense K_q, stacked columns cost as
    much as their own products: K_q(lambda p) comes after."""

    def __init__(self, op: ScalarKernelOperator, mu: torch.Tensor, along):
        self.op, self.mu, self.along = op, mu, along
        self.riding = along is not None and not op.dense
        self._last: tuple | None = None  # (lambda, its stacked products)

    def scaled(self, lam: torch.Tensor) -> torch.Tensor:
        """K_q(lambda mu)."""
        if not self.riding:
            return self.op(lam * self.mu)
        out = self.op(torch.cat([(lam * self.mu)[:, None], lam[:, None] * self.along], 1))
        self._last = (lam, out)
        return out[:, 0]

    def trial(self, s: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, float]:
        """(lambda, K_q(lambda mu), residual) at s = log lambda: one product, one host read."""
        lam = s.exp()
        c = self.scaled(lam)
        return lam, c, scaling_residual(lam, c)

    def products(self, lam: torch.Tensor) -> torch.Tensor:
        """K_q(lambda p) for the solve's answer lambda."""
        if self._last is None or self._last[0] is not lam:
            return self.op(lam[:, None] * self.along)
        return self._last[1][:, 1:]


def _kept_for(entry: tuple | None, *keys: torch.Tensor) -> bool:
    """Whether a cache entry (keys..., their versions..., value) was made from these very tensors, unchanged."""
    n = len(keys)
    return (
        entry is not None
        and all(kept is key for kept, key in zip(entry[:n], keys, strict=True))
        and all(version == key._version for version, key in zip(entry[n : 2 * n], keys, strict=True))
    )
