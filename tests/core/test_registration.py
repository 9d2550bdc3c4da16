import numpy as np
import pytest
import torch

from shapeviewer.core.model import InputError, ModelSettings
from shapeviewer.core.registration import Registration, RegistrationSettings


def settings(**model):
    base = dict(steps=5, integrator="euler", dtype="float64")
    base.update(model)
    return RegistrationSettings(model=ModelSettings(**base), iterations=25, tolerance=1e-4)


def deformed_copy(human):
    v = human.vertices
    bent = v.copy()
    bent[:, 0] += 0.15 * np.sin(v[:, 1] * 1.5)
    return bent + np.array([0.1, -0.05, 0.08]), human.faces


@pytest.mark.parametrize("cometric", ["normalized", "lddmm"])
def test_registration_onto_a_deformed_copy_reduces_fidelity_by_orders_of_magnitude(human, cometric):
    reg = Registration((human.vertices, human.faces), deformed_copy(human), settings(cometric=cometric))
    reports = list(reg.run())
    final = reports[-1]
    assert final.done and not any(r.done for r in reports[:-1])
    assert [r.iteration for r in reports[:-1]] == list(range(len(reports) - 1))
    assert final.fidelity < 1e-2 * reg.fidelity_initial
    assert final.trajectory.shape == (6, human.n_vertices, 3)
    assert np.allclose(final.trajectory[0], human.vertices)
    assert final.momenta.shape == (human.n_vertices, 3)
    losses = [r.loss for r in reports[:-1]]
    assert losses[-1] < losses[0] and all(b <= a + 1e-12 for a, b in zip(losses, losses[1:], strict=False))


def test_control_points_carry_the_full_mesh(human):
    reg = Registration((human.vertices, human.faces), deformed_copy(human), settings(control_points=40))
    final = list(reg.run())[-1]
    assert final.momenta.shape == (40, 3)
    assert final.trajectory.shape[1] == human.n_vertices
    assert final.fidelity < 0.1 * reg.fidelity_initial


def test_cancel_inside_an_iteration_keeps_the_best_state(human):
    reg = Registration((human.vertices, human.faces), deformed_copy(human), settings())
    polls = []
    stop_after = 3

    def should_stop():
        polls.append(1)
        return len(reports) >= stop_after and len(polls) > 0

    reports = []
    for rep in reg.run(should_stop=should_stop):
        reports.append(rep)
    final = reports[-1]
    assert final.status == "cancelled"
    assert len(reports) == stop_after + 1
    assert final.loss == min(r.loss for r in reports[:-1])


def spoil_fidelity(reg, monkeypatch, spoiled, factor: float) -> None:
    """Multiply the data term by ``factor`` at the evaluations (counted from 1) where ``spoiled(count)``."""
    real, calls = reg.level.fidelity.__call__, []

    def fidelity(x, should_stop=None):
        calls.append(1)
        return real(x, should_stop) * factor if spoiled(len(calls)) else real(x, should_stop)

    monkeypatch.setattr(reg.level, "fidelity", fidelity)


def test_non_finite_loss_stops_with_a_message_and_keeps_the_last_finite_state(human, monkeypatch):
    reg = Registration((human.vertices, human.faces), deformed_copy(human), settings())
    spoil_fidelity(reg, monkeypatch, lambda call: call > 4, float("nan"))
    reports = list(reg.run())
    assert reports[-1].status == "failed"
    assert "nan" in reports[-1].message.lower()
    assert np.isfinite(reports[-1].trajectory).all() and np.isfinite(reports[-1].loss)


def test_a_trial_step_that_overflows_is_stepped_back_from(human, monkeypatch):
    """One non-finite trial (a shooting that blows up) makes the line search shorten the step, not fail."""
    reg = Registration((human.vertices, human.faces), deformed_copy(human), settings())
    spoil_fidelity(reg, monkeypatch, lambda call: call == 2, float("inf"))
    reports = list(reg.run())
    assert reports[-1].status in ("finished", "converged")
    assert reports[-1].fidelity < 0.1 * reg.fidelity_initial


@pytest.mark.parametrize(
    "mask, message",
    [
        (np.ones(5), "shape (5,)"),
        (np.full(127, np.nan), "non-finite"),
        (-np.ones(127), "negative"),
        (np.zeros(127), "zero everywhere"),
    ],
)
def test_bad_masks_are_refused_with_a_clear_message(human, mask, message):
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Registration((human.vertices, human.faces), deformed_copy(human), settings(), mask=mask)


def test_a_mask_changes_the_result(human):
    mask = np.ones(human.n_vertices)
    mask[human.vertices[:, 1] > np.median(human.vertices[:, 1])] = 0.05
    results = []
    for m in (None, mask):
        reg = Registration((human.vertices, human.faces), deformed_copy(human), settings(), mask=m)
        reg.settings.iterations = 5
        results.append(list(reg.run())[-1].trajectory[-1])
    assert np.abs(results[0] - results[1]).max() > 1e-3


def test_zero_weight_regions_keep_the_scaling_finite(human):
    mask = np.ones(human.n_vertices)
    mask[: human.n_vertices // 2] = 0.0
    reg = Registration((human.vertices, human.faces), deformed_copy(human), settings(), mask=mask)
    lam = reg.model.lam()
    assert np.isfinite(lam).all() and (lam > 0).all()
    with torch.no_grad():
        assert np.isfinite(list(reg.run())[-1].loss)
