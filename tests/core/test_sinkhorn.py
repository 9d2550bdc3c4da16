import pytest
import torch

from shapeviewer.core.backends import kernel_product
from shapeviewer.core.kernels import parse_kernel
from shapeviewer.core.sinkhorn import SinkhornSettings, SinkhornSolver
from tests.conftest import random_cloud

KERNEL = parse_kernel("cauchy(0.5)")


def uneven_mu(n: int, zeros: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(1)
    mu = torch.rand(n, dtype=torch.float64, generator=g) ** 4 * 100 + 1e-3  # five orders of magnitude apart
    mu[:zeros] = 0.0
    return mu


def residual(q, mu, lam):
    """MATH.md's: max_i |lambda_i (K_q (lambda mu))_i - 1|."""
    c = kernel_product(KERNEL, q, q, (lam * mu)[:, None], "torch")[:, 0]
    return float((lam * c - 1).abs().max())


@pytest.mark.parametrize("tol", [1e-6, 1e-10])
@pytest.mark.parametrize("zeros", [0, 40])
@pytest.mark.parametrize("linear_solver", ["chebyshev", "cg"])
def test_converged_scaling_meets_its_tolerance_with_uneven_mu(tol, zeros, linear_solver):
    q, mu = random_cloud(200), uneven_mu(200, zeros)
    solver = SinkhornSolver(KERNEL, "torch", SinkhornSettings(tol=tol, linear_solver=linear_solver))
    lam = solver.scaling(q, mu)
    assert torch.isfinite(lam).all() and (lam > 0).all()
    assert residual(q, mu, lam) < tol
    assert solver.stats.max_residual < tol and solver.stats.capped == 0


def test_the_talks_two_iterations_are_only_approximate():
    q, mu = random_cloud(200), uneven_mu(200)
    lam2 = SinkhornSolver(KERNEL, "torch", SinkhornSettings(iterations=2)).scaling(q, mu)
    lam = SinkhornSolver(KERNEL, "torch", SinkhornSettings(tol=1e-10)).scaling(q, mu)
    assert residual(q, mu, lam2) > 1e-3
    many = SinkhornSolver(KERNEL, "torch", SinkhornSettings(iterations=80)).scaling(q, mu)
    assert torch.allclose(many, lam, rtol=1e-8)


def test_implicit_derivatives_match_unrolled_iterations_to_second_order():
    q = random_cloud(80).requires_grad_()
    mu = uneven_mu(80)
    g, h = random_cloud(80, seed=7)[:, 0], random_cloud(80, seed=8)
    grads = []
    for settings in (SinkhornSettings(tol=1e-12), SinkhornSettings(iterations=150)):
        lam = SinkhornSolver(KERNEL, "torch", settings).scaling(q, mu)
        (first,) = torch.autograd.grad((lam * g).sum(), q, create_graph=True)
        (second,) = torch.autograd.grad((first * h).sum(), q)
        grads.append((first.detach(), second))
    assert torch.allclose(grads[0][0], grads[1][0], rtol=1e-7, atol=1e-10)
    assert torch.allclose(grads[0][1], grads[1][1], rtol=1e-6, atol=1e-9)


def test_gradcheck_and_gradgradcheck_of_the_scaling():
    q = random_cloud(15).requires_grad_()
    mu = uneven_mu(15, zeros=3)
    solver = SinkhornSolver(parse_kernel("gaussian(1.0)"), "torch", SinkhornSettings(tol=1e-13))
    assert torch.autograd.gradcheck(lambda x: solver.scaling(x, mu), (q,))
    assert torch.autograd.gradgradcheck(lambda x: solver.scaling(x, mu), (q,))


def test_iteration_cap_warns_instead_of_hanging():
    q, mu = random_cloud(100), uneven_mu(100)
    solver = SinkhornSolver(KERNEL, "torch", SinkhornSettings(tol=1e-14, max_newton=1))
    with pytest.warns(RuntimeWarning, match="Sinkhorn stopped after 1 Newton steps"):
        lam = solver.scaling(q, mu)
    assert torch.isfinite(lam).all() and solver.stats.capped == 1


def test_a_float32_solve_stopped_by_rounding_counts_as_capped_without_a_warning(recwarn):
    """Masks with zero regions end float32 solves near 1e-6, tol's own size: a warning at every solve buried
    the app's status line (three per mask loaded) while the scaling was as exact as float32 allows."""
    q, mu = random_cloud(300, torch.float32), uneven_mu(300, zeros=150).float()
    solver = SinkhornSolver(KERNEL, "torch", SinkhornSettings(tol=1e-9))
    lam = solver.scaling(q, mu)
    assert solver.stats.capped == 1 and 1e-9 <= solver.stats.max_residual < 100 * torch.finfo(torch.float32).eps
    assert not [w for w in recwarn if "Sinkhorn" in str(w.message)]
    assert torch.isfinite(lam).all()


def test_a_non_finite_scaling_is_an_error():
    q, mu = random_cloud(50), uneven_mu(50)
    q[7] = float("nan")
    with pytest.raises(FloatingPointError, match="non-finite"):
        SinkhornSolver(KERNEL, "torch", SinkhornSettings()).scaling(q, mu)


def test_newton_converges_from_poor_starts():
    """Starts far off in log lambda (a wild line-search trial leaves such extrapolations behind): backtracking on
    the residual converges from each. With |lambda c - 1|, which saturates at 1 where lambda c -> 0, it stalled
    near 1 from some of these starts."""
    q, mu = random_cloud(200), uneven_mu(200, zeros=40)
    g = torch.Generator().manual_seed(0)
    for _ in range(12):
        solver = SinkhornSolver(KERNEL, "torch", SinkhornSettings(tol=1e-10))
        start = -0.5 * solver.operator(q)(mu).log() + 4 * torch.randn(200, dtype=mu.dtype, generator=g)
        solver._warm.start = lambda *args, start=start, **kwargs: start.clone()
        lam = solver.solve(q, mu)
        assert residual(q, mu, lam) < 1e-10 and solver.stats.capped == 0
