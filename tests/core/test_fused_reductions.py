"""Fused KeOps reductions against their unfused (dense autograd) definitions, the Chebyshev solves
against direct solves, and the number of KeOps reductions and host reads the normalized field costs."""

import collections
import contextlib

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from shapeviewer.core import backends, sinkhorn
from shapeviewer.core.backends import (
    ScalarKernelOperator,
    kernel_matrix,
    weighted_kernel_gradient,
    weighted_kernel_gradient_vjp,
)
from shapeviewer.core.cometrics import NormalizedCometric
from shapeviewer.core.kernels import parse_kernel
from shapeviewer.core.linear_solvers import (
    augmented_iteration_matrix,
    chebyshev,
    chebyshev_augmented,
    chebyshev_iterations,
)
from shapeviewer.core.shooting import shoot
from shapeviewer.core.sinkhorn import SinkhornSettings, SinkhornSolver
from tests.conftest import random_cloud

ALL_PROFILES = "1 + 0.5*gaussian(0.6) + cauchy(0.5) + laplacian(0.7) + inverse_multiquadric(0.4)"
KERNEL = parse_kernel("cauchy(0.8)")


def masses(n, seed=3):
    return torch.rand(n, dtype=torch.float64, generator=torch.Generator().manual_seed(seed)) + 0.05


def need_keops():
    if not backends.keops_usable():
        pytest.skip("KeOps is not installed or cannot compile here")


@contextlib.contextmanager
def counting(monkeypatch):
    """Counts KeOps reductions (autograd's included) and host reads of tensor values."""
    from pykeops.torch.generic import generic_red

    counts = collections.Counter()

    def counted(key, function):
        def wrapper(*args, **kwargs):
            counts[key] += 1
            return function(*args, **kwargs)

        return wrapper

    base = generic_red.GenredAutograd_base
    with monkeypatch.context() as m:
        m.setattr(base, "_forward", staticmethod(counted("keops", base._forward)))
        for name in ("__bool__", "item", "__float__", "tolist"):
            m.setattr(torch.Tensor, name, counted("host", getattr(torch.Tensor, name)))
        m.setattr(torch, "equal", counted("host", torch.equal))
        yield counts


# -- kernel formulas --------------------------------------------------------------------------------
def test_a_kernel_formula_depends_on_the_structure_not_on_the_scales():
    small = backends._kernel_formulas(parse_kernel("cauchy(0.5)"))
    large = backends._kernel_formulas(parse_kernel("cauchy(2.0)"))
    assert small[:2] == large[:2] and small[2] != large[2]
    assert backends._kernel_formulas(parse_kernel("2*cauchy(0.5)"))[:2] != small[:2]


@pytest.mark.keops
def test_fused_gradient_backward_equals_autograd_of_the_dense_reduction():
    """One KeOps reduction for (q_bar, a_bar, b_bar), against autograd's four through the dense formula."""
    need_keops()
    kernel = parse_kernel(ALL_PROFILES)
    q = random_cloud(150, seed=1)
    a, b = torch.randn(2, 150, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    h = random_cloud(150, seed=3)
    also = torch.randn(150, 1, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    fused = weighted_kernel_gradient_vjp(kernel, q, a, b, h, "keops")
    with_product = weighted_kernel_gradient_vjp(kernel, q, a, b, h, "keops", also=also)  # K_q also rides along
    leaves = [t.clone().requires_grad_() for t in (q, a, b)]
    unfused = torch.autograd.grad(weighted_kernel_gradient(kernel, *leaves, "torch"), leaves, h)
    unfused = (*unfused, kernel_matrix(kernel, q, q) @ also)
    for got, want in zip((*fused, *with_product), (*unfused[:3], *unfused), strict=True):
        assert float((got - want).abs().max() / want.abs().max()) < 1e-10


@pytest.mark.keops
@pytest.mark.parametrize("dense", [True, False])
def test_operator_on_stacked_columns_equals_one_column_at_a_time(monkeypatch, dense):
    if not dense:
        need_keops()
        monkeypatch.setattr(backends, "OPERATOR_DENSE_BYTES", 0)
    q = random_cloud(120, seed=4)
    op = ScalarKernelOperator(KERNEL, q, "keops" if backends.keops_usable() else "torch")
    assert op.dense == dense
    v = torch.randn(120, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(5))
    stacked = op(v)
    one_by_one = torch.stack([op(column) for column in v.unbind(1)], 1)
    assert torch.allclose(stacked, one_by_one, rtol=1e-12, atol=1e-12)
    assert torch.allclose(stacked, kernel_matrix(KERNEL, q, q) @ v, rtol=1e-10, atol=1e-12)


# -- Chebyshev ------------------------------------------------------------------------------------
def spd_with_spectrum_in_1_2(n: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    basis, _ = torch.linalg.qr(torch.randn(n, n, dtype=torch.float64, generator=g))
    eigenvalues = torch.cat(
        [torch.tensor([1.0, 2.0], dtype=torch.float64), 1 + torch.rand(n - 2, dtype=torch.float64, generator=g)]
    )
    return basis @ torch.diag(eigenvalues) @ basis.T


def test_chebyshev_step_counts_follow_the_rate_on_1_2():
    assert chebyshev_iterations(1.0) == 0
    assert [chebyshev_iterations(10.0**-k) for k in (1, 2, 4, 6, 8)] == [2, 4, 6, 9, 11]  # T_k(3) = 3, 17, 99, 577, ...
    with pytest.raises(ValueError):
        chebyshev_iterations(0.0)


@pytest.mark.parametrize("rtol", [1e-2, 1e-6, 1e-12])
@pytest.mark.parametrize("columns", [None, 3])
def test_chebyshev_meets_its_tolerance_against_a_direct_solve(rtol, columns):
    a = spd_with_spectrum_in_1_2(80)
    shape = (80,) if columns is None else (80, columns)
    b = torch.randn(shape, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    x = chebyshev(lambda v: a @ v, b, chebyshev_iterations(rtol))
    assert float(torch.linalg.vector_norm(b - a @ x)) <= rtol * float(torch.linalg.vector_norm(b))
    direct = torch.linalg.solve(a, b)
    assert float(torch.linalg.vector_norm(x - direct)) <= rtol * float(torch.linalg.vector_norm(direct)) * 2


def test_chebyshev_from_a_warm_start_reduces_its_residual_by_the_bound():
    a = spd_with_spectrum_in_1_2(60, seed=2)
    b = torch.randn(60, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    x0 = torch.linalg.solve(a, b) + 1e-3 * torch.randn(60, dtype=torch.float64, generator=torch.Generator())
    r0 = b - a @ x0
    x = chebyshev(lambda v: a @ v, b, chebyshev_iterations(1e-5), x0, r0)
    assert float(torch.linalg.vector_norm(b - a @ x)) <= 1e-5 * float(torch.linalg.vector_norm(r0))
    with pytest.raises(ValueError):
        chebyshev(lambda v: a @ v, b, 3, x0=x0)


class LaunchCount(TorchDispatchMode):
    """Counts torch operations that would launch a GPU kernel (views and bare allocations left out)."""

    def __init__(self):
        super().__init__()
        self.count = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if not func.is_view and func.overloadpacket.__name__ not in ("empty", "empty_strided", "detach"):
            self.count += 1
        return func(*args, **(kwargs or {}))


def augmented(a: torch.Tensor) -> torch.Tensor:
    """[[I - 2/3 A, .], [0, 1]] for :func:`chebyshev_augmented`."""
    n = len(a)
    out = augmented_iteration_matrix(n, a.dtype, a.device)
    out[:n, :n] = torch.eye(n, dtype=a.dtype) - 2 / 3 * a
    return out


@pytest.mark.parametrize("iterations", [0, 1, 2, 5, 9])
def test_augmented_chebyshev_has_the_iterates_of_the_two_term_form(iterations):
    """Same x_k from [[I - 2/3 A, 2/3 b], [0, 1]] (three-term form) as from A (two-term form); the matrix
    is reused for the next right-hand side."""
    a = spd_with_spectrum_in_1_2(70, seed=4)
    matrix = augmented(a)
    for seed in (5, 6):
        b = torch.randn(70, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
        two_term = chebyshev(lambda v: a @ v, b, iterations)
        three_term = chebyshev_augmented(matrix, b, iterations)
        assert torch.allclose(three_term, two_term, rtol=0, atol=1e-12 * float(two_term.abs().max() + 1))
    first = chebyshev_augmented(matrix, b, 1)
    chebyshev_augmented(matrix, 2 * b, 3)
    assert torch.equal(first, 2 / 3 * b)  # a result is not a view of the matrix's last column


def test_an_augmented_chebyshev_step_launches_one_operation():
    """On a GPU these solves are bound by launches: k steps cost k operations, where the two-term form's
    cost 7 (k - 1) + 1."""
    a = spd_with_spectrum_in_1_2(50, seed=6)
    b, matrix = torch.randn(50, dtype=torch.float64), augmented(a)
    for iterations in (4, 9):
        with LaunchCount() as counted:
            x = chebyshev_augmented(matrix, b, iterations)
        assert counted.count <= iterations
        assert float(torch.linalg.vector_norm(b - a @ x)) <= 1 / 99 * float(torch.linalg.vector_norm(b))  # T_4(3)


def sinkhorn_jacobian(q, mu, lam):
    """J = I + diag(1/c) K diag(lambda mu), c = K (lambda mu), dense."""
    k = kernel_matrix(KERNEL, q, q)
    c = k @ (lam * mu)
    return torch.eye(len(q), dtype=q.dtype) + (k / c[:, None]) * (lam * mu)[None, :], c


@pytest.mark.parametrize("read_residuals", [True, False])
@pytest.mark.parametrize("linear_solver", ["chebyshev", "cg"])
@pytest.mark.parametrize("measure", ["plain", "zeros", "graded"])
def test_sinkhorn_linear_solves_equal_direct_solves(read_residuals, linear_solver, measure):
    """Symmetrised, unsymmetrised (J itself, in Newton steps where residuals are read) or bordered, warm or
    cold; with mu = 0 on 40 points (their rows of J^T are those of I; those of J are not), or mu spread over
    six orders of magnitude."""
    q, mu = random_cloud(90, seed=6), masses(90)
    if measure == "zeros":
        mu[:40] = 0.0
    elif measure == "graded":
        mu = mu * torch.logspace(-6, 0, 90, dtype=torch.float64)
    solver = SinkhornSolver(KERNEL, "torch", SinkhornSettings(tol=1e-12, linear_solver=linear_solver))
    solver.read_residuals = read_residuals
    lam = solver.scaling(q, mu)
    jac, c = sinkhorn_jacobian(q, mu, lam)
    op = solver.operator(q)
    g = torch.randn(90, dtype=torch.float64, generator=torch.Generator().manual_seed(7))
    for _ in range(2):  # the second trajectory starts warm
        solver.begin_trajectory()
        for scale, at in ((1.0, c), (1.001, c), (1.0, None)):  # None: the fixed point's shortcut, c = 1 / lambda
            direct = solver.solve_direct(op, lam, mu, at, scale * g, 1e-9, warm=True)
            adjoint = solver.solve_adjoint(op, lam, mu, at, scale * g, 1e-9, warm=True)
            assert torch.allclose(direct, torch.linalg.solve(jac, scale * g), rtol=0, atol=1e-8 * float(g.norm()))
            assert torch.allclose(adjoint, torch.linalg.solve(jac.T, scale * g), rtol=0, atol=1e-8 * float(g.norm()))


@pytest.mark.parametrize("read_residuals, products", [(True, 4), (False, 5)])
def test_a_warm_start_near_tol_ends_in_one_newton_step_with_a_short_solve(read_residuals, products):
    """From the last shooting's lambda at slightly moved points (residual ~1e-5 against tol 1e-6), the Newton
    system needs only the accuracy that reaches tol (not the residual's): 5 products with K_q, where 9 did,
    and 4 where J is solved unsymmetrised (no product maps the answer back)."""
    q, mu = random_cloud(90, seed=6), masses(90)
    solver = SinkhornSolver(KERNEL, "torch", SinkhornSettings(tol=1e-6))
    solver.read_residuals = read_residuals
    solver.solve(q, mu)
    solver.begin_trajectory()
    moved = q + 1e-5 * random_cloud(90, seed=7)
    op = solver.operator(moved)
    before = (solver.stats.newton_steps, solver.stats.matvecs)
    lam = solver.solve(moved, mu, op)
    assert (solver.stats.newton_steps - before[0], solver.stats.matvecs - before[1]) == (1, products)
    assert float((lam * op(lam * mu) - 1).abs().max()) < 1e-6


def test_a_measure_changed_in_place_is_not_served_from_a_cache():
    q, mu = random_cloud(50, seed=8), masses(50)
    solver = SinkhornSolver(KERNEL, "torch", SinkhornSettings(tol=1e-12))
    solver.read_residuals = False
    g = torch.randn(50, dtype=torch.float64, generator=torch.Generator().manual_seed(9))
    op = solver.operator(q)
    solver.solve_adjoint(op, solver.scaling(q, mu), mu, None, g, 1e-10)  # fills the caches
    mu.mul_(torch.linspace(0.5, 1.5, 50, dtype=torch.float64))
    lam = solver.scaling(q, mu)
    jac, _ = sinkhorn_jacobian(q, mu, lam)
    got = solver.solve_adjoint(op, lam, mu, None, g, 1e-10)
    assert torch.allclose(got, torch.linalg.solve(jac.T, g), rtol=0, atol=1e-8 * float(g.norm()))


def test_an_unknown_linear_solver_is_an_error():
    with pytest.raises(ValueError, match="unknown Sinkhorn linear solver"):
        SinkhornSolver(KERNEL, "torch", SinkhornSettings(linear_solver="gmres"))


def test_sync_free_solves_read_nothing_back(monkeypatch):
    """Where reads are not free (a dense K_q on a GPU), the linear solves, warm or cold, read nothing."""
    q, mu = random_cloud(70, seed=8), masses(70)
    solver = SinkhornSolver(KERNEL, "torch", SinkhornSettings(tol=1e-10))
    solver.read_residuals = False
    lam = solver.scaling(q, mu)
    op, c = solver.operator(q), 1.0 / lam
    g = torch.randn(70, dtype=torch.float64, generator=torch.Generator().manual_seed(9))
    solver.begin_trajectory()
    solver.solve_adjoint(op, lam, mu, c, g, 1e-8, warm=True)
    solver.begin_trajectory()
    with counting(monkeypatch) as counts:
        solver.solve_adjoint(op, lam, mu, c, 1.01 * g, 1e-8, warm=True)  # warm
        solver.solve_direct(op, lam, mu, c, g, 1e-8)  # cold
    assert counts["host"] == 0


# -- the normalized field ------------------------------------------------------------------------
def loss_gradient(cometric, q, p, steps=2, points=None):
    """Gradient in p of a loss through a differentiable shooting and the energy; ``points``: carried along
    (as the full mesh is by control points), in the loss too (their velocity reaches lambda's gradient)."""
    p = p.clone().requires_grad_()
    traj = shoot(cometric, q, p, steps=steps, integrator="rk2", points=points, create_graph=True)
    loss = ((traj.q[-1] - q - 0.2) ** 2).sum() + (traj.p[-1] ** 2).sum() + cometric.hamiltonian(q, p)
    if points is not None:
        loss = loss + ((traj.x[-1] - points - 0.1) ** 2).sum()
    return torch.autograd.grad(loss, p)[0]


@pytest.mark.keops
@pytest.mark.parametrize(
    "keops_operator, as_on_gpu, zeros, carried",
    [(False, False, 0, False), (True, False, 0, False), (False, True, 0, False), (False, True, 20, False),
     (False, False, 0, True), (False, True, 20, True), (True, False, 20, True)],
)  # fmt: skip
def test_fused_field_gradients_equal_autograd_through_the_fixed_point(
    monkeypatch, keops_operator, as_on_gpu, zeros, carried
):
    """KeOps with the hand-written backward against dense autograd through 300 unrolled Sinkhorn iterations;
    ``as_on_gpu``: the solves a GPU runs (no reads, dense iteration matrices); ``zeros``: mu = 0 there;
    ``carried``: points carried along (their velocities bring a gradient in lambda into the backward)."""
    need_keops()
    if keops_operator:
        monkeypatch.setattr(backends, "OPERATOR_DENSE_BYTES", 0)
    q, mu = random_cloud(60, seed=10), masses(60)
    mu[:zeros] = 0.0
    p = 0.3 * random_cloud(60, seed=11) * (mu[:, None] + 0.1)
    fused = NormalizedCometric(KERNEL, "keops", mu, SinkhornSettings(tol=1e-12))
    if as_on_gpu:
        fused.solver.read_residuals = False
    unrolled = NormalizedCometric(KERNEL, "torch", mu, SinkhornSettings(iterations=300))
    points = random_cloud(40, seed=14) if carried else None
    got, want = loss_gradient(fused, q, p, points=points), loss_gradient(unrolled, q, p, points=points)
    assert float((got - want).abs().max() / want.abs().max()) < 1e-8
    again = loss_gradient(fused, q, p, points=points)  # warm starts in place
    assert float((again - want).abs().max() / want.abs().max()) < 1e-8


@pytest.mark.keops
def test_normalized_field_costs_one_keops_reduction_forward_and_two_backward(monkeypatch):
    """Per shooting stage with a dense K_q: dH/dq forward; backward, its fused backward and one gradient."""
    need_keops()
    q, mu = random_cloud(80, seed=12), masses(80)
    cometric = NormalizedCometric(KERNEL, "keops", mu, SinkhornSettings(tol=1e-8))
    cometric.solver.read_residuals = False  # as on a GPU
    p0 = 0.2 * random_cloud(80, seed=13) * mu[:, None]
    for _ in range(2):  # the first run fills the warm starts
        p = p0.clone().requires_grad_()
        with counting(monkeypatch) as forward:
            traj = shoot(cometric, q, p, steps=3, integrator="euler", create_graph=True)
        with counting(monkeypatch) as backward:
            torch.autograd.grad((traj.q[-1] ** 2).sum() + (traj.p[-1] ** 2).sum(), p)
    assert forward["keops"] == 3
    assert backward["keops"] == 2 * 3 - 1  # the first stage's q needs no gradient
    assert backward["host"] == 0
    assert forward["host"] == 3  # one Newton residual test per solve, converged from its warm start


def _keops_operator_setting(monkeypatch):
    """K_q as KeOps reductions, 60 points with mu = 0 on 15, a loss's gradient warm and its reduction count."""
    need_keops()
    monkeypatch.setattr(backends, "OPERATOR_DENSE_BYTES", 0)
    q, mu = random_cloud(60, seed=10), masses(60)
    mu[:15] = 0.0
    p = 0.3 * random_cloud(60, seed=11) * (mu[:, None] + 0.1)

    def warm_gradient_and_reductions():
        cometric = NormalizedCometric(KERNEL, "keops", mu, SinkhornSettings(tol=1e-10))
        for _ in range(2):  # fills the warm starts
            loss_gradient(cometric, q, 1.01 * p, steps=3)
        with counting(monkeypatch) as counts:
            gradient = loss_gradient(cometric, q, p, steps=3)
        return gradient, counts["keops"]

    return warm_gradient_and_reductions


@pytest.mark.keops
def test_the_fields_product_rides_on_the_sinkhorn_solves_last_reduction(monkeypatch):
    """With K_q as KeOps reductions (each a host synchronisation), K_q(lambda p) comes as stacked columns of the
    Sinkhorn solve's own last reduction: one reduction fewer per stage, and the same gradient."""
    warm_gradient_and_reductions = _keops_operator_setting(monkeypatch)
    riding, riding_count = warm_gradient_and_reductions()
    with monkeypatch.context() as m:
        m.setattr(sinkhorn._Riders, "scaled", lambda self, lam: self.op(lam * self.mu))
        alone, alone_count = warm_gradient_and_reductions()
    assert float((riding - alone).abs().max() / alone.abs().max()) < 1e-9
    assert alone_count - riding_count == 2 * 3  # rk2, 3 steps: 6 stages


@pytest.mark.keops
def test_the_backward_z_solves_starting_product_rides_on_the_fused_backward_reduction(monkeypatch):
    """With K_q as KeOps reductions, the backward's J-solve has its start before the fused backward reduction of
    dH/dq runs: K_q of the start comes as a further column of it, one reduction fewer per stage, same gradient."""
    warm_gradient_and_reductions = _keops_operator_setting(monkeypatch)
    riding, riding_count = warm_gradient_and_reductions()
    with monkeypatch.context() as m:
        m.setattr(SinkhornSolver, "direct_start", lambda *args: None)
        alone, alone_count = warm_gradient_and_reductions()
    assert float((riding - alone).abs().max() / alone.abs().max()) < 1e-9
    assert alone_count - riding_count == 2 * 3  # rk2, 3 steps: 6 stages


def _at_a_fixed_point(seed: int):
    """(q, mu, solver, lambda, K_q, a right-hand side): 90 points at their converged scaling."""
    q, mu = random_cloud(90, seed=6), masses(90)
    solver = SinkhornSolver(KERNEL, "torch", SinkhornSettings(tol=1e-12))
    rhs = torch.randn(90, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
    return q, mu, solver, solver.scaling(q, mu), solver.operator(q), rhs


def test_a_warm_adjoint_solve_stacks_its_starting_product_with_its_right_hand_sides():
    """Reading its start's residual, a warm adjoint solve makes the two products it needs before its Chebyshev
    steps in one call of K_q: 1 + (k - 1) reductions for k steps."""
    q, mu, solver, lam, op, g = _at_a_fixed_point(seed=7)
    solver.begin_trajectory()
    solver.solve_adjoint(op, lam, mu, None, g, 1e-9, warm=True)
    solver.begin_trajectory()
    eta0, e = solver._linear_warm.answers[0], lam * mu.sqrt()
    k = kernel_matrix(KERNEL, q, q)
    b = e * (k @ (lam * 1.01 * g))
    r0 = b - eta0 - e * (k @ (e * eta0))
    steps = chebyshev_iterations(1e-9 * float(b.norm()) / float(r0.norm()))
    before = op.matvecs
    w = solver.solve_adjoint(op, lam, mu, None, 1.01 * g, 1e-9, warm=True)
    assert op.matvecs - before == 1 + (steps - 1) and steps > 1
    jac, _ = sinkhorn_jacobian(q, mu, lam)
    assert torch.allclose(w, torch.linalg.solve(jac.T, 1.01 * g), rtol=0, atol=1e-8 * float(g.norm()))


def test_a_direct_solve_started_at_its_answer_maps_it_back_with_its_starting_product():
    """The backward's J-solve at the fixed point: a start already within tolerance is the answer, and the product
    that measured its residual also maps it back: one product in all."""
    q, mu, solver, lam, op, r = _at_a_fixed_point(seed=8)
    solver.begin_trajectory()
    solver.solve_direct(op, lam, mu, None, r, 1e-9, warm=True)
    solver.begin_trajectory()
    before = op.matvecs
    again = solver.solve_direct(op, lam, mu, None, r, 1e-9, warm=True)
    assert op.matvecs - before == 1
    jac, _ = sinkhorn_jacobian(q, mu, lam)
    assert torch.allclose(again, torch.linalg.solve(jac, r), rtol=0, atol=1e-8 * float(r.norm()))


def test_the_solves_statistics_count_every_product_of_a_field_stage():
    """With a dense K_q the field's K_q(lambda p) comes after the Newton loop: still counted (kernel_matvecs)."""
    q, mu = random_cloud(50, seed=8), masses(50)
    cometric = NormalizedCometric(KERNEL, "torch", mu, SinkhornSettings(tol=1e-10))
    before = cometric.stats.matvecs
    cometric.field(q, 0.2 * random_cloud(50, seed=9))
    assert cometric.stats.matvecs - before == cometric.solver._operator.matvecs


@pytest.mark.parametrize("read_residuals, products", [(True, 1), (False, 2)])
def test_a_newton_step_just_above_tol_is_a_single_chebyshev_step(read_residuals, products):
    """Near tol (a first Newton step that landed just above it), delta = 2/3 Phi contracts the residual by 3
    at least: no Chebyshev product (the trial's only; unsymmetrised, or + the symmetric answer's map back),
    and no iteration matrix built on the no-read path."""
    q, mu = random_cloud(60, seed=3), masses(60)
    solver = SinkhornSolver(KERNEL, "torch", SinkhornSettings(tol=1e-6))
    solver.read_residuals = read_residuals
    op = solver.operator(q)
    lam = solver.solve(q, mu, op) * (1 + 1e-6 * torch.linspace(-1, 1, 60, dtype=torch.float64))
    c = op(lam * mu)
    residual = float((lam * c - 1).abs().max())
    assert 1e-6 < residual < 1.5e-6
    before, matrix = op.matvecs, solver._iteration
    *_, new_residual = solver._newton_step(op, mu, lam.log(), lam, c, residual, sinkhorn._Riders(op, mu, None).trial)
    assert op.matvecs - before == products and solver._iteration is matrix  # none built for this step
    assert new_residual < residual / 3
