"""Masks with regions of weight exactly 0: those vertices carry no momentum and follow the weighted part."""

import numpy as np
import pytest
import torch

from shapeviewer.core import backends
from shapeviewer.core.model import DeformationModel, InputError, ModelSettings
from shapeviewer.core.registration import Registration, RegistrationSettings
from shapeviewer.io.meshes import read_mesh
from tests.conftest import DATA


def human_masks(v: np.ndarray) -> dict[str, np.ndarray]:
    """Zero on half the shape, on all but a few vertices, on all but scattered vertices, on all but one."""
    rng = np.random.default_rng(0)
    top = np.argsort(v[:, 1])
    masks = {"half": (v[:, 1] > np.median(v[:, 1])).astype(float)}
    masks["few"] = np.zeros(len(v))
    masks["few"][top[-10:]] = 1.0
    masks["scattered"] = np.zeros(len(v))
    masks["scattered"][rng.choice(len(v), 12, replace=False)] = rng.uniform(0.2, 1.0, 12)
    masks["one"] = np.zeros(len(v))
    masks["one"][top[-1]] = 1.0
    return masks


def bent(v: np.ndarray) -> np.ndarray:
    out = v.copy()
    out[:, 0] += 0.1 * np.sin(3 * v[:, 1])
    return out + 0.05


def test_zero_weight_vertices_carry_no_momentum(human):
    mask = human_masks(human.vertices)["half"]
    model = DeformationModel(human.vertices, human.faces, mask, ModelSettings(dtype="float64"))
    assert model.n_control == int((mask > 0).sum())
    assert (model.mu > 0).all()
    assert model.describe()["passive_vertices"] == int((mask == 0).sum())
    sampled = DeformationModel(human.vertices, human.faces, mask, ModelSettings(dtype="float64", control_points=20))
    assert sampled.n_control == 20 and (sampled.mu > 0).all()
    assert np.isclose(float(sampled.mu.sum()), float(model.mu.sum()))  # every weighted vertex gives its mass
    assert (mask[sampled.control_index.numpy()] > 0).all()


@pytest.mark.parametrize("backend", ["torch", pytest.param("keops", marks=pytest.mark.keops)])
@pytest.mark.parametrize("name", ["half", "scattered", "one"])
def test_translation_momenta_translate_the_zero_weight_part_too(human, backend, name):
    """p = mu u is the rigid translation by u for the whole mesh, passive vertices included."""
    if backend == "keops" and not backends.keops_usable():
        pytest.skip("KeOps is not usable here")
    mask = human_masks(human.vertices)[name]
    model = DeformationModel(
        human.vertices, human.faces, mask, ModelSettings(dtype="float64", backend=backend, integrator="rk4")
    )
    u = torch.tensor([0.3, -0.2, 0.1], dtype=torch.float64)
    traj = model.shoot(model.mu[:, None] * u)
    moved = traj.points[-1] - model.vertices
    assert torch.allclose(moved, u.expand_as(moved), atol=1e-6)


REGISTRATION_CASES = [
    pytest.param(backend, dtype, control, marks=[pytest.mark.keops] if backend == "keops" else [])
    for backend in ("torch", "keops")
    for dtype in ("float32", "float64")
    for control in ("all", 40)
]


@pytest.mark.parametrize("backend, dtype, control", REGISTRATION_CASES)
def test_registration_runs_with_zero_weight_regions(human, backend, dtype, control):
    if backend == "keops" and not backends.keops_usable():
        pytest.skip("KeOps is not usable here")
    for name, mask in human_masks(human.vertices).items():
        settings = RegistrationSettings(
            model=ModelSettings(dtype=dtype, backend=backend, control_points=control), iterations=12
        )
        reg = Registration((human.vertices, human.faces), (bent(human.vertices), human.faces), settings, mask=mask)
        final = list(reg.run())[-1]
        assert final.status in ("finished", "converged"), (name, final.message)
        assert np.isfinite(final.trajectory).all()
        assert final.fidelity_drop > 0.6, (name, final.fidelity_drop)


def triangle_edges(x: np.ndarray, faces: np.ndarray) -> np.ndarray:
    return np.linalg.norm(x[faces] - x[np.roll(faces, 1, axis=1)], axis=2)


def unit_normals(x: np.ndarray, faces: np.ndarray) -> np.ndarray:
    n = np.cross(x[faces[:, 1]] - x[faces[:, 0]], x[faces[:, 2]] - x[faces[:, 0]])
    return n / np.linalg.norm(n, axis=1, keepdims=True)


@pytest.mark.slow
def test_the_painted_tip_mask_registers_and_the_rest_follows_smoothly():
    """The mask of the report (Clear, then paint the tip: 1,087 of 2,046 weights are 0), its kernel and
    300 control points in float32: it ended with NaN at the first iteration."""
    source, target = read_mesh(DATA / "finger0.ply"), read_mesh(DATA / "finger1.ply")
    mask = np.load(DATA / "finger0_tipmask.npy")
    model = ModelSettings(kernel="cauchy(0.5) + 0.5*gaussian(0.2)", control_points=300, backend="torch")
    settings = RegistrationSettings(model=model, iterations=5)
    reg = Registration((source.vertices, source.faces), (target.vertices, target.faces), settings, mask=mask)
    final = list(reg.run())[-1]
    assert final.status in ("finished", "converged"), final.message
    assert final.fidelity_drop > 0.3
    x0, x1 = final.trajectory[0], final.trajectory[-1]
    faces = source.faces
    passive = (mask[faces] == 0).all(1)
    stretch = triangle_edges(x1, faces) / triangle_edges(x0, faces)
    assert stretch[passive].min() > 0.25 and stretch[passive].max() < 4
    assert ((unit_normals(x0, faces) * unit_normals(x1, faces)).sum(1)[passive] > 0).all()  # no fold-over
    moved = np.linalg.norm(x1 - x0, axis=1)
    assert moved[mask == 0].max() > 0.1 * moved[mask > 0].max()  # carried along, not left behind


def test_a_mask_the_kernel_cannot_carry_is_refused_before_the_run(human):
    mask = human_masks(human.vertices)["one"]
    with pytest.raises(InputError, match="does not reach .* vertices from the weighted part"):
        DeformationModel(human.vertices, human.faces, mask, ModelSettings(kernel="gaussian(0.05)"))
    DeformationModel(human.vertices, human.faces, mask, ModelSettings(kernel="cauchy(0.05)"))  # heavy tail: fine
