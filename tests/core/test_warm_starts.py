"""Warm starts of a shooting's solves: extrapolated along the trajectory, corrected by the last one's misses."""

import math

import pytest
import torch

from shapeviewer.core.cometrics import NormalizedCometric
from shapeviewer.core.kernels import parse_kernel
from shapeviewer.core.shooting import shoot
from shapeviewer.core.sinkhorn import SinkhornSettings, SinkhornSolver, scaling_residual
from shapeviewer.core.warm_starts import WarmStarts
from tests.conftest import random_cloud


def run(starts, answers, sequence=None):
    """One trajectory: the start each solve gets, then its answer kept."""
    starts.begin()
    got = []
    for answer in answers:
        got.append(starts.start(answer, sequence))
        starts.keep(answer, sequence)
    return got


def test_a_sequence_extrapolates_its_answers_along_the_trajectory():
    """Constant, then linear, then quadratic extrapolation: exact from the fourth solve for quadratic answers."""
    answers = [torch.tensor([2.0 * k * k - k + 1.0, float(k)]) for k in range(6)]
    got = run(WarmStarts(), answers, "adjoint")
    assert got[0] is None  # a first trajectory has nothing at its positions
    assert torch.equal(got[1], answers[0])
    assert torch.equal(got[2], 2 * answers[1] - answers[0])
    assert all(torch.allclose(g, a) for g, a in zip(got[3:], answers[3:], strict=True))


def test_the_last_trajectorys_misses_correct_the_extrapolation_when_the_trajectory_barely_changed():
    """Cubic answers (quadratic extrapolation misses by 6), then the same shifted by 0.5: each start is the
    extrapolation plus the miss it made last time, i.e. exact; the first, the last trajectory's answer."""
    starts = WarmStarts()
    cubic = [torch.tensor([float(k**3)]) for k in range(6)]
    run(starts, cubic, "adjoint")
    shifted = [x + 0.5 for x in cubic]
    got = run(starts, shifted, "adjoint")
    assert torch.equal(got[0], cubic[0])
    assert all(torch.allclose(g, a) for g, a in zip(got[1:], shifted[1:], strict=True))


def test_the_guess_nearer_the_previous_answer_is_taken():
    """Last trajectory cubic, this one quadratic: the corrected guess misses at the linear stage, so from the
    quadratic stage on the plain extrapolation (exact) is taken."""
    starts = WarmStarts()
    run(starts, [torch.tensor([float(k**3)]) for k in range(6)], "adjoint")
    squares = [torch.tensor([float(k * k)]) for k in range(6)]
    got = run(starts, squares, "adjoint")
    assert float(got[2]) == 2 * 1 - 0 + 6  # corrected: nothing known yet about this trajectory
    assert all(torch.equal(g, a) for g, a in zip(got[3:], squares[3:], strict=True))


def test_unnamed_solves_start_from_the_last_answer_and_sequences_do_not_predict_each_other():
    starts = WarmStarts()
    last = [torch.tensor([1.0, 2.0]) * (k + 1) for k in range(3)]
    run(starts, last)
    assert all(torch.equal(g, x) for g, x in zip(run(starts, [1.1 * x for x in last]), last, strict=True))
    starts.begin()
    a, b = torch.zeros(2), torch.ones(2)
    starts.keep(a, "x")
    assert torch.equal(starts.start(b, "y"), 1.1 * last[1])  # y has no answer in this trajectory yet
    starts.keep(b, "y")
    assert torch.equal(starts.start(a, "x"), a)  # x's latest answer, not y's
    assert starts.start(torch.zeros(5), "x") is None  # another shape: no start


def _renamed(starts: WarmStarts, rename) -> None:
    """Make ``starts`` see each sequence under ``rename(sequence)``."""
    start, keep = starts.start, starts.keep
    starts.start = lambda like, sequence=None, or_latest=False: start(like, rename(sequence), or_latest)
    starts.keep = lambda answer, sequence=None: keep(answer, rename(sequence))


@pytest.mark.parametrize("integrator", ["euler", "rk4"])
def test_predicted_starts_save_sinkhorn_products_and_leave_the_gradient_unchanged(integrator):
    """A shooting and its gradient after an optimiser-like change of the momenta (2%): started nearer their
    answers, the Sinkhorn solves take fewer products (when written: Euler 93 against 169 unmoved; RK4 386
    against 711, and 573 with all stages in one sequence: its stages are unequally spaced in time, so each
    is a sequence of its own)."""
    kernel = parse_kernel("cauchy(0.8)")
    q = random_cloud(80, seed=4)
    mu = torch.rand(80, dtype=torch.float64, generator=torch.Generator().manual_seed(5)) + 0.05
    p = 0.5 * random_cloud(80, seed=6)

    def gradient(cometric, momenta):
        momenta = momenta.clone().requires_grad_()
        end = shoot(cometric, q, momenta, steps=8, integrator=integrator, create_graph=True).q[-1]
        return torch.autograd.grad((end**2).sum(), momenta)[0]

    def second_gradient(rename=None):
        cometric = NormalizedCometric(kernel, "torch", mu, SinkhornSettings(tol=1e-6))
        if rename is not None:
            for starts in (cometric.solver._warm, cometric.solver._linear_warm):
                _renamed(starts, rename)
        gradient(cometric, p)
        before = cometric.stats.matvecs
        return gradient(cometric, 1.02 * p), cometric.stats.matvecs - before

    predicted, predicted_products = second_gradient()
    plain, plain_products = second_gradient(lambda sequence: None)  # the last trajectory's answers, unmoved
    assert torch.allclose(predicted, plain, rtol=0, atol=1e-4 * float(plain.abs().max()))
    assert predicted_products < 0.7 * plain_products
    if integrator != "euler":
        _, shared_products = second_gradient(lambda sequence: sequence and sequence.rsplit(" ", 1)[0])
        assert predicted_products < 0.85 * shared_products


def test_after_a_change_of_size_solves_start_from_this_trajectorys_latest_answer():
    """A level change: positions hold answers of another size; from the second solve on, the latest answer of
    this trajectory (the right size) is the start, not the last trajectory's last one."""
    starts = WarmStarts()
    run(starts, [torch.ones(5)] * 3)
    starts.begin()
    small = torch.full((3,), 2.0)
    assert starts.start(small, or_latest=True) is None  # nothing of that size yet
    starts.keep(small)
    assert torch.equal(starts.start(small, or_latest=True), small)
    assert starts.start(small) is None  # without or_latest: only this position's answer


def test_an_extrapolated_start_that_overflows_gives_way_to_the_cold_start():
    """float32: a massless point leaves the support, then stops; log lambda there goes 7, 35, 63, 63, so the
    fourth solve's quadratic extrapolation (92) overflows exp. It converges from the cold start instead."""
    support = 0.3 * torch.randn(20, 3, generator=torch.Generator().manual_seed(0))
    mu = torch.cat([torch.rand(20, generator=torch.Generator().manual_seed(1)) + 0.5, torch.zeros(1)])
    solver = SinkhornSolver(parse_kernel("gaussian(1.0)"), "torch", SinkhornSettings(tol=1e-5))
    solver.begin_trajectory()
    for d2 in (10.0, 40.0, 70.0, 70.0):
        q = torch.cat([support, torch.tensor([[d2**0.5, 0.0, 0.0]])])
        lam = solver.solve(q, mu, solver.new_operator(q), sequence="field 0")
        assert scaling_residual(lam, solver.operator(q)(lam * mu)) < 1e-5
    assert float(lam[-1].log()) > 60.0


def test_a_derivatives_solve_with_an_infinite_right_hand_side_says_so():
    b = torch.tensor([math.inf, 1.0, 1.0])
    with pytest.raises(FloatingPointError, match="non-finite right-hand side"):
        SinkhornSolver._chebyshev(lambda v: 1.5 * v, b, 1e-6, torch.zeros(3))
