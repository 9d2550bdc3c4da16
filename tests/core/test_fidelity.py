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
def test_keops_varifold_matches_dense(human):
    from shapeviewer.core.backends import keops_usable

    if not keops_usable():
        pytest.skip("KeOps unavailable")
    v, f = mesh(human)
    moved = v * 1.1 + 0.05
    dense = Fidelity("varifold", f, moved, f, 0.3, "torch")
    lazy = Fidelity("varifold", f, moved, f, 0.3, "keops")
    lazy.backend = "keops"
    assert float(lazy(v)) == pytest.approx(float(dense(v)), rel=1e-9)
