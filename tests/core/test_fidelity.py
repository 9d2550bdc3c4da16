import math

import pytest
import torch

from shapeviewer.core.fidelity import Fidelity


def mesh(human, dtype=torch.float64):
    return torch.as_tensor(human.vertices, dtype=dtype), torch.as_tensor(human.faces)


@pytest.mark.parametrize("kind", ["varifold", "currents", "landmarks"])
def test_fidelity_is_zero_on_the_target_and_grows_with_the_mismatch(human, kind):
    v, f = mesh(human)
    fid = Fidelity(kind, f, v, f, 0.3, "torch")
    assert abs(float(fid(v))) < 1e-10 * max(1.0, float(fid.target_self) if kind != "landmarks" else 1.0)
    small, large = float(fid(v + 0.02)), float(fid(v + 0.2))
    assert 0 < small < large


def test_varifold_ignores_orientation_and_currents_do_not(human):
    v, f = mesh(human)
    flipped = f[:, [0, 2, 1]]
    assert float(Fidelity("varifold", flipped, v, f, 0.3, "torch")(v)) == pytest.approx(0, abs=1e-9)
    assert float(Fidelity("currents", flipped, v, f, 0.3, "torch")(v)) > 0.1 * float(
        Fidelity("currents", f, v, f, 0.3, "torch").target_self
    )


def test_varifold_matches_its_formula_on_two_triangles():
    v = torch.tensor([[0, 0, 0], [1, 0, 0], [0, 1, 0]], dtype=torch.float64)
    w = v + torch.tensor([0.3, 0.0, 0.1], dtype=torch.float64)
    f = torch.tensor([[0, 1, 2]])
    s = 0.7
    cross = 0.5 * 0.5 * math.exp(-(0.3**2 + 0.1**2) / s**2)  # same normal: (n . m)^2 = 1
    expected = 0.25 - 2 * cross + 0.25
    assert float(Fidelity("varifold", f, w, f, s, "torch")(v)) == pytest.approx(expected, rel=1e-12)


@pytest.mark.keops
@pytest.mark.parametrize("kind", ["varifold", "currents"])
def test_keops_fidelity_and_its_gradient_match_dense_from_one_reduction_per_term(human, kind, monkeypatch):
    """The KeOps data term takes its gradient from the forward pass's own reductions (one for <S,S>, one for
    <S,T>, each with the sums that make the gradient): no more reductions for the backward pass."""
    from shapeviewer.core.backends import keops_usable
    from tests.core.test_fused_reductions import counting

    if not keops_usable():
        pytest.skip("KeOps unavailable")
    v, f = mesh(human)
    moved = v * 1.1 + 0.05
    deformed = v + 0.03 * torch.sin(3 * v)
    dense = Fidelity(kind, f, moved, f, 0.3, "torch")
    lazy = Fidelity(kind, f, moved, f, 0.3, "keops")
    assert lazy.backend == "keops"
    results = []
    for fidelity in (dense, lazy):
        x = deformed.clone().requires_grad_(True)
        with counting(monkeypatch) as counts:
            value = fidelity(x)
            (grad,) = torch.autograd.grad(value, x)
        results.append((float(value.detach()), grad, counts["keops"]))
    (d_value, d_grad, _), (k_value, k_grad, reductions) = results
    assert k_value == pytest.approx(d_value, rel=1e-9)
    assert float((k_grad - d_grad).abs().max()) <= 1e-9 * float(d_grad.abs().max())
    assert reductions == 2
    with torch.no_grad():  # no gradient wanted: the plain sums
        assert float(lazy(deformed)) == pytest.approx(d_value, rel=1e-9)


def test_a_stop_between_the_two_reductions_of_the_data_term_ends_it(human, monkeypatch):
    """On a large level each reduction of the data term takes seconds: a Stop pressed during the first ends
    the evaluation before the second starts."""
    from shapeviewer.core import fidelity as fidelity_module
    from shapeviewer.core.shooting import ShootingCancelled

    v, f = mesh(human)
    fid = Fidelity("varifold", f, v * 1.1, f, 0.3, "torch")
    assert float(fid(v, should_stop=lambda: False)) == pytest.approx(float(fid(v)))

    def second_reduction(*args):
        raise AssertionError("the second reduction ran after the stop")

    monkeypatch.setattr(fidelity_module, "_self_inner", second_reduction)
    with pytest.raises(ShootingCancelled):
        fid(v, should_stop=lambda: True)
