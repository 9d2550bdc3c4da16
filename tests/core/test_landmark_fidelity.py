"""Landmarks carried by the flow and in the loss; a pre-alignment applied first and recorded."""

import numpy as np
import pytest
from scipy.spatial import ConvexHull
from scipy.spatial.transform import Rotation

from shapeviewer.core.alignment import RigidTransform
from shapeviewer.core.model import InputError, ModelSettings
from shapeviewer.core.registration import Registration, RegistrationSettings
from shapeviewer.core.sinkhorn import SinkhornSettings


def settings(iterations=0, weight=0.0, **model):
    base = dict(steps=4, integrator="euler", dtype="float64")
    base.update(model)
    return RegistrationSettings(model=ModelSettings(**base), iterations=iterations, tolerance=1e-4,
                                landmark_weight=weight)  # fmt: skip


def first_and_final(reg):
    reports = list(reg.run())
    return reports[0], reports[-1]


def ellipsoid(n=100):
    k = np.arange(n) + 0.5
    phi, theta = np.arccos(1 - 2 * k / n), np.pi * (1 + 5**0.5) * k
    v = np.c_[np.cos(theta) * np.sin(phi), np.sin(theta) * np.sin(phi), np.cos(phi)]
    return v * [2.0, 1.0, 1.0], ConvexHull(v).simplices


@pytest.mark.parametrize("control_points", ["all", 40])
def test_a_landmark_rides_a_pure_translation_where_the_closed_form_says(human, control_points):
    """Normalized cometric, p = mu u: v(x) = k*(lambda mu u)(x) / k*(lambda mu)(x) = u at every x, so any point,
    on the surface or off it, moves to x + u."""
    mesh = (human.vertices, human.faces)
    s = settings(control_points=control_points, sinkhorn=SinkhornSettings(tol=1e-11))
    size = float(np.linalg.norm(np.ptp(human.vertices, axis=0)))
    marks = np.concatenate([human.vertices[[3, 60, 120]], human.vertices.mean(0, keepdims=True) + [0, 0, 0.3 * size]])
    u = np.array([0.2, -0.1, 0.05]) * size
    mu = Registration(mesh, mesh, s).model.mu.cpu().numpy()
    reg = Registration(mesh, mesh, s, initial_momenta=mu[:, None] * u, source_landmarks=marks,
                       target_landmarks=marks + u)  # fmt: skip
    _, final = first_and_final(reg)
    assert final.landmark_trajectory.shape == (5, 4, 3)
    assert np.abs(final.landmark_trajectory[-1] - (marks + u)).max() < 1e-8 * size
    assert np.abs(final.landmark_trajectory[2] - (marks + u / 2)).max() < 1e-8 * size
    assert np.abs(final.trajectory[-1] - (human.vertices + u)).max() < 1e-8 * size
    assert reg.landmark_errors(final).max() < 1e-8 * size and final.landmark_distance < (1e-8 * size) ** 2
    assert np.abs(reg.carry(human.vertices[:5], final.momenta) - final.trajectory[:, :5]).max() < 1e-8 * size


def test_the_loss_at_the_identity_is_one_plus_the_landmark_weight(human):
    mesh = (human.vertices, human.faces)
    target = (human.vertices + 0.05, human.faces)
    src, tgt = human.vertices[[0, 40, 80]], human.vertices[[0, 40, 80]] + [0.1, 0.0, 0.0]
    first, _ = first_and_final(
        Registration(mesh, target, settings(weight=0.5), source_landmarks=src, target_landmarks=tgt)
    )
    assert first.loss == pytest.approx(1.5, abs=1e-12) and first.landmark_distance == pytest.approx(0.03)
    assert first.landmark_term == pytest.approx(0.5, abs=1e-12)  # w L / L_unit: its share of the loss
    same, _ = first_and_final(
        Registration(mesh, target, settings(weight=0.5), source_landmarks=src, target_landmarks=src)
    )
    assert same.loss == pytest.approx(1.0, abs=1e-12)  # landmarks that already coincide: no division by zero
    plain, _ = first_and_final(Registration(mesh, target, settings(), source_landmarks=src, target_landmarks=tgt))
    assert plain.loss == pytest.approx(1.0, abs=1e-12) and plain.landmark_trajectory is not None  # carried, not weighed


def test_landmarks_fix_a_correspondence_the_surface_term_cannot_see():
    """An ellipsoid turned about its long axis is (nearly) the same surface: the varifold leaves the landmarks
    where they are, the landmark term carries them onto their partners."""
    v, f = ellipsoid()
    tv = v @ Rotation.from_rotvec([np.radians(25), 0, 0]).as_matrix().T
    idx = [0, 20, 40, 60, 80, 99]
    errors = {}
    for weight in (0.0, 10.0):
        s = settings(15, weight, cometric="lddmm", control_points=30, steps=5)
        reg = Registration((v, f), (tv, f), s, source_landmarks=v[idx], target_landmarks=tv[idx])
        first, final = first_and_final(reg)
        errors[weight] = reg.landmark_errors(final).mean()
    start = np.linalg.norm(v[idx] - tv[idx], axis=1).mean()
    assert errors[10.0] < 0.25 * errors[0.0] and errors[0.0] > 0.5 * start


def test_the_alignment_moves_the_source_and_its_landmarks_first_and_is_recorded(human):
    mesh = (human.vertices, human.faces)
    align = RigidTransform(Rotation.from_rotvec([0.3, -0.2, 1.0]).as_matrix(), np.array([1.0, 2.0, -0.5]), 1.25)
    target = (align.apply(human.vertices), human.faces)
    marks = human.vertices[[5, 50, 95]]
    reg = Registration(mesh, target, settings(), source_landmarks=marks, target_landmarks=align.apply(marks),
                       alignment=align)  # fmt: skip
    first, final = first_and_final(reg)
    assert np.allclose(final.trajectory[0], target[0], atol=1e-12)
    assert np.allclose(final.landmark_trajectory[0], align.apply(marks), atol=1e-12)
    assert np.allclose(reg.to_original(final.trajectory[0]), human.vertices, atol=1e-12)
    assert first.fidelity < 1e-9 * max(1.0, first.fidelity_initial) or first.fidelity_drop >= 0
    carried = reg.carry(human.vertices[[7, 8]], final.momenta)  # original frame in, result frame out
    assert np.allclose(carried, final.trajectory[:, [7, 8]], atol=1e-12)
    info = reg.describe()
    assert np.allclose(info["alignment"]["matrix"], align.matrix) and info["alignment"]["scale"] == pytest.approx(1.25)
    assert info["landmark_pairs"] == 3 and reg.landmark_errors(final).max() < 1e-9


def test_landmark_inputs_are_checked(human):
    mesh = (human.vertices, human.faces)
    marks = human.vertices[:4]
    with pytest.raises(InputError, match="a landmark weight needs landmarks"):
        Registration(mesh, mesh, settings(weight=1.0))
    with pytest.raises(InputError, match="both the source and the target"):
        Registration(mesh, mesh, settings(), source_landmarks=marks)
    with pytest.raises(InputError, match="4 source landmarks and 3 target landmarks"):
        Registration(mesh, mesh, settings(), source_landmarks=marks, target_landmarks=marks[:3])
    bad = marks.copy()
    bad[1, 2] = np.inf
    with pytest.raises(InputError, match="non-finite"):
        Registration(mesh, mesh, settings(), source_landmarks=marks, target_landmarks=bad)
    with pytest.raises(InputError, match="landmark weight must be"):
        settings(weight=-1.0).validate()
    with pytest.raises(InputError, match="RigidTransform"):
        Registration(mesh, mesh, settings(), alignment=np.eye(4))


@pytest.mark.slow
def test_landmarks_on_vertices_follow_those_vertices_on_every_level(data_dir, monkeypatch):
    """Carried with a coarse level's mesh or the full one, a landmark placed on a vertex moves with it."""
    from shapeviewer.core import pyramid
    from shapeviewer.io.meshes import read_mesh

    monkeypatch.setattr(pyramid, "COARSEST_VERTICES", 500)
    source, target = read_mesh(data_dir / "finger0.ply"), read_mesh(data_dir / "finger1.ply")
    idx = [10, 700, 1400, 2000]
    s = RegistrationSettings(model=ModelSettings(control_points=80, backend="torch", steps=4), iterations=2, levels=2,
                             fidelity_scale=0.03, landmark_weight=1.0)  # fmt: skip
    reg = Registration((source.vertices, source.faces), (target.vertices, target.faces), s,
                       source_landmarks=source.vertices[idx], target_landmarks=target.vertices[idx])  # fmt: skip
    reports = list(reg.run())
    assert {r.level for r in reports} == {1, 2}
    for rep in (next(r for r in reports if r.level == 1 and r.iteration > 0), reports[-1]):
        assert np.allclose(rep.landmark_trajectory, rep.frames()[:, idx], atol=1e-4)
    assert reports[-1].landmark_distance < reports[0].landmark_distance


def test_vertex_landmark_fidelity_warns_when_the_meshes_do_not_share_their_triangles():
    import warnings

    v, f = ellipsoid()
    s = settings()
    s.fidelity = "landmarks"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Registration((v, f), (v * 1.1, f), s)  # one mesh deformed: vertex i is vertex i
    other = np.random.default_rng(0).permutation(len(v))
    with pytest.warns(UserWarning, match="pairs source vertex i with target vertex i, but the two meshes have"):
        Registration((v, f), (v[other], ConvexHull(v[other] / [2.0, 1.0, 1.0]).simplices), s)
