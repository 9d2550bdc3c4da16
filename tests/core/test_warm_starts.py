"""Warm starts of a shooting's solves: the last trajectory's answers, moved along the trajectory."""

import torch

from shapeviewer.core.cometrics import NormalizedCometric
from shapeviewer.core.kernels import parse_kernel
from shapeviewer.core.shooting import shoot
from shapeviewer.core.sinkhorn import SinkhornSettings
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


def test_a_sequence_moves_each_start_by_the_change_its_previous_solve_found():
    starts = WarmStarts(relative=False)
    last = [torch.tensor([float(k)]) for k in range(4)]
    assert run(starts, last, "adjoint") == [None] * 4  # a first trajectory has nothing at its positions
    shifted = [x + 0.5 for x in last]
    got = run(starts, shifted, "adjoint")
    assert torch.equal(got[0], last[0])  # the first stage has no change to go by
    assert all(torch.equal(g, s) for g, s in zip(got[1:], shifted[1:], strict=True))  # exact for a uniform shift


def test_a_positive_scaling_moves_by_ratios_and_unnamed_solves_start_unmoved():
    starts = WarmStarts(relative=True)
    last = [torch.tensor([1.0, 2.0]) * (k + 1) for k in range(3)]
    run(starts, last, "field")
    got = run(starts, [1.1 * x for x in last], "field")
    assert torch.allclose(got[2], 1.1 * last[2])
    plain = WarmStarts(relative=True)
    run(plain, last)
    assert all(torch.equal(g, x) for g, x in zip(run(plain, [1.1 * x for x in last]), last, strict=True))


def test_sequences_do_not_predict_each_other_and_shapes_must_match():
    starts = WarmStarts(relative=False)
    a, b = torch.zeros(3), torch.ones(3)
    run(starts, [a, b, a])  # positions 0, 1, 2
    starts.begin()
    starts.keep(a + 1.0, "x")  # position 0 of sequence x moved by +1
    assert torch.equal(starts.start(b, "y"), b)  # another sequence: unmoved
    starts.keep(b, "y")
    assert torch.equal(starts.start(a, "x"), a + 1.0)  # position 2, moved by x's change at position 0
    assert starts.start(torch.zeros(5), "x") is None  # another shape: no start


def test_predicted_starts_save_sinkhorn_products_and_leave_the_gradient_unchanged():
    """A shooting and its gradient after an optimiser-like change of the momenta (2%): started nearer their
    answers, the Sinkhorn solves take fewer products (117 against 161 when written)."""
    kernel = parse_kernel("cauchy(0.8)")
    q = random_cloud(80, seed=4)
    mu = torch.rand(80, dtype=torch.float64, generator=torch.Generator().manual_seed(5)) + 0.05
    p = 0.5 * random_cloud(80, seed=6)

    def gradient(cometric, momenta):
        momenta = momenta.clone().requires_grad_()
        end = shoot(cometric, q, momenta, steps=8, integrator="euler", create_graph=True).q[-1]
        return torch.autograd.grad((end**2).sum(), momenta)[0]

    def second_gradient(predict: bool):
        cometric = NormalizedCometric(kernel, "torch", mu, SinkhornSettings(tol=1e-6))
        if not predict:  # every solve starts from the last trajectory's answer, unmoved
            for starts in (cometric.solver._warm, cometric.solver._linear_warm):
                starts.start = lambda like, sequence=None, or_latest=False, s=starts: WarmStarts.start(
                    s, like, None, or_latest
                )
        gradient(cometric, p)
        before = cometric.stats.matvecs
        return gradient(cometric, 1.02 * p), cometric.stats.matvecs - before

    predicted, predicted_products = second_gradient(True)
    plain, plain_products = second_gradient(False)
    assert torch.allclose(predicted, plain, rtol=0, atol=1e-4 * float(plain.abs().max()))
    assert predicted_products < 0.85 * plain_products


def test_after_a_change_of_size_solves_start_from_this_trajectorys_latest_answer():
    """A level change: positions hold answers of another size; from the second solve on, the latest answer of
    this trajectory (the right size) is the start, not the last trajectory's last one."""
    starts = WarmStarts(relative=True)
    run(starts, [torch.ones(5)] * 3)
    starts.begin()
    small = torch.full((3,), 2.0)
    assert starts.start(small, or_latest=True) is None  # nothing of that size yet
    starts.keep(small)
    assert torch.equal(starts.start(small, or_latest=True), small)
    assert starts.start(small) is None  # without or_latest: only this position's answer
