import pytest
import torch

from shapeviewer.core.cometrics import LDDMMCometric, NormalizedCometric
from shapeviewer.core.kernels import parse_kernel
from shapeviewer.core.shooting import ShootingCancelled, hamiltonian_field, shoot
from shapeviewer.core.sinkhorn import SinkhornSettings
from tests.conftest import random_cloud

TIGHT = SinkhornSettings(tol=1e-11)


def masses(n, seed=3):
    return torch.rand(n, dtype=torch.float64, generator=torch.Generator().manual_seed(seed)) + 0.05


@pytest.mark.parametrize(
    "spec",
    ["gaussian(0.6)", "cauchy(0.6)", "laplacian(0.6)", "inverse_multiquadric(0.6)", "1 + cauchy(0.25) + cauchy(0.05)"],
)
def test_normalized_cometric_makes_translations_geodesics(spec):
    q, mu = random_cloud(150), masses(150)
    u = torch.tensor([0.4, -0.3, 0.2], dtype=torch.float64)
    cometric = NormalizedCometric(parse_kernel(spec), "torch", mu, TIGHT)
    p = mu[:, None] * u
    traj = shoot(cometric, q, p, steps=8, integrator="rk4", create_graph=False)
    for t, qt in enumerate(traj.q):
        assert torch.allclose(qt, q + (t / 8) * u, atol=1e-6, rtol=0)
    h = float(cometric.hamiltonian(q, p))
    assert h == pytest.approx(0.5 * float(mu.sum()) * float(u @ u), rel=1e-6)


def test_translation_is_not_a_geodesic_of_gaussian_lddmm():
    q = random_cloud(150)
    u = torch.tensor([0.4, -0.3, 0.2], dtype=torch.float64)
    cometric = LDDMMCometric(parse_kernel("gaussian(0.6)"), "torch")
    p = torch.linalg.solve(cometric_matrix(cometric, q), u.expand(150, 3))  # initial velocity = u everywhere
    traj = shoot(cometric, q, p, steps=8, integrator="rk4", create_graph=False)
    error = (traj.q[-1] - (q + u)).norm(dim=1).max()
    assert error > 0.05 * u.norm()


def cometric_matrix(cometric, q):
    from shapeviewer.core.backends import kernel_matrix

    return kernel_matrix(cometric.kernel, q, q)


@pytest.mark.parametrize("name", ["lddmm", "normalized"])
@pytest.mark.parametrize("integrator", ["euler", "rk2", "rk4"])
def test_zero_momenta_give_the_identity(name, integrator):
    q = random_cloud(60)
    cometric = make(name, q)
    x = random_cloud(30, seed=9)
    traj = shoot(cometric, q, torch.zeros_like(q), steps=5, integrator=integrator, points=x, create_graph=False)
    assert len(traj.q) == 6
    assert all(torch.equal(qt, q) for qt in traj.q)
    assert all(torch.allclose(xt, x, atol=1e-15) for xt in traj.x)


def make(name, q, spec="cauchy(0.8)"):
    kernel = parse_kernel(spec)
    if name == "lddmm":
        return LDDMMCometric(kernel, "torch")
    return NormalizedCometric(kernel, "torch", masses(len(q)), TIGHT)


@pytest.mark.parametrize("name", ["lddmm", "normalized"])
def test_hamiltonian_is_conserved_along_rk4(name):
    q = random_cloud(80)
    p = 0.3 * random_cloud(80, seed=11)
    if name == "normalized":
        p = p * masses(80)[:, None]
    cometric = make(name, q)
    traj = shoot(cometric, q, p, steps=20, integrator="rk4", create_graph=False)
    h0 = float(cometric.hamiltonian(traj.q[0], traj.p[0]))
    drift = max(abs(float(cometric.hamiltonian(qt, pt)) - h0) for qt, pt in zip(traj.q, traj.p, strict=True))
    assert (traj.q[-1] - q).norm(dim=1).max() > 0.05  # the shape really moved
    assert drift / h0 < 1e-3


def test_velocity_at_control_points_is_dh_dp_and_carried_points_follow_it():
    q = random_cloud(50)
    mu = masses(50)
    p = 0.2 * random_cloud(50, seed=12) * mu[:, None]
    for cometric in (make("lddmm", q), NormalizedCometric(parse_kernel("cauchy(0.8)"), "torch", mu, TIGHT)):
        dq, _, vx = hamiltonian_field(cometric, q, p, q, create_graph=False)
        assert torch.allclose(vx, dq, rtol=1e-8, atol=1e-10)
        traj = shoot(cometric, q, p, steps=6, integrator="rk2", points=q.clone(), create_graph=False)
        assert torch.allclose(traj.x[-1], traj.q[-1], rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize(
    "name, settings",
    [("lddmm", None), ("normalized", SinkhornSettings(tol=1e-13)), ("normalized", SinkhornSettings(iterations=2))],
)
def test_gradcheck_of_hamiltonian_and_of_one_shooting_step(name, settings):
    q = random_cloud(12).requires_grad_()
    p = (0.3 * random_cloud(12, seed=13)).requires_grad_()
    kernel = parse_kernel("gaussian(1.0)")
    if name == "lddmm":
        cometric = LDDMMCometric(kernel, "torch")
    else:
        cometric = NormalizedCometric(kernel, "torch", masses(12), settings)
    assert torch.autograd.gradcheck(lambda a, b: cometric.hamiltonian(a, b), (q, p))

    def one_step(a, b):
        traj = shoot(cometric, a, b, steps=1, integrator="rk2", create_graph=True)
        return traj.q[-1], traj.p[-1]

    # a second backward of one graph starts its solves from the first one's answers: equal to their tolerance
    assert torch.autograd.gradcheck(one_step, (q, p), nondet_tol=1e-9)


def test_shooting_stops_when_asked():
    q = random_cloud(20)
    calls = []

    def stop():
        calls.append(1)
        return len(calls) > 2

    with pytest.raises(ShootingCancelled):
        shoot(make("lddmm", q), q, q * 0.1, steps=10, should_stop=stop)
    assert len(calls) == 3


@pytest.mark.parametrize("name", ["lddmm", "normalized"])
def test_the_backward_pass_of_a_shooting_stops_when_asked(name):
    """A Stop pressed during the gradient (seconds per step on large levels) ends it at the next step back."""
    q = random_cloud(20)
    stopped = []
    p = (q * 0.1).requires_grad_()
    traj = shoot(make(name, q), q, p, steps=5, should_stop=lambda: bool(stopped))
    loss = (traj.q[-1] ** 2).sum()
    (gradient,) = torch.autograd.grad(loss, p, retain_graph=True)  # not stopped: an ordinary gradient
    assert torch.isfinite(gradient).all() and gradient.abs().max() > 0
    stopped.append(True)
    with pytest.raises(ShootingCancelled):
        torch.autograd.grad(loss, p)


@pytest.mark.parametrize("name", ["lddmm", "normalized"])
def test_explicit_hamiltonian_gradients_equal_autodiff(name):
    spec = "1 + 0.5*gaussian(0.6) + cauchy(0.5) + laplacian(0.7) + inverse_multiquadric(0.4)"
    q = random_cloud(40).requires_grad_()
    p = (0.3 * random_cloud(40, seed=21)).requires_grad_()
    cometric = make(name, q, spec)
    dh_dq, dh_dp = torch.autograd.grad(cometric.hamiltonian(q, p), (q, p))
    field_p, field_q = cometric.field(q, p)
    assert torch.allclose(field_p, dh_dp, rtol=1e-9, atol=1e-12)
    assert torch.allclose(field_q, dh_dq, rtol=1e-7, atol=1e-10)
