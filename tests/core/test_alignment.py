"""Pre-alignment: closed-form Procrustes from landmarks, ICP on surfaces, the transform's own algebra."""

import math

import numpy as np
import pytest
from scipy.optimize import minimize
from scipy.spatial.transform import Rotation

from shapeviewer.core.alignment import (
    RigidTransform,
    align_landmarks,
    align_surfaces,
    compute_alignment,
)
from shapeviewer.core.errors import InputError


def pose(angle_deg, axis, translation, scale=1.0):
    axis = np.asarray(axis, dtype=float) / np.linalg.norm(axis)
    r = Rotation.from_rotvec(math.radians(angle_deg) * axis).as_matrix()
    return RigidTransform(r, np.asarray(translation, dtype=float), scale)


@pytest.fixture
def finger(data_dir):
    from shapeviewer.io.meshes import read_mesh

    return read_mesh(data_dir / "finger0.ply")


@pytest.mark.parametrize("kind,scale", [("rigid", 1.0), ("similarity", 1.7), ("similarity", 0.4)])
def test_landmarks_recover_a_known_pose_to_1e_9(rng, kind, scale):
    x = rng.normal(size=(7, 3)) * [3.0, 1.0, 0.5] + 10.0
    true = pose(73.0, [0.3, -1.0, 2.0], [4.0, -2.5, 1.25], scale)
    fit = align_landmarks(x, true.apply(x), kind)
    assert np.abs(fit.matrix - true.matrix).max() < 1e-9
    assert abs(fit.angle_degrees - 73.0) < 1e-9 and abs(fit.scale - scale) < 1e-9
    assert np.allclose(fit.axis, np.array([0.3, -1.0, 2.0]) / np.linalg.norm([0.3, -1.0, 2.0]), atol=1e-9)
    assert fit.rms < 1e-9 and fit.method == "landmarks" and fit.kind == kind


def test_three_landmarks_are_enough_and_rigid_ignores_a_scale(rng):
    x = rng.normal(size=(3, 3))
    true = pose(120.0, [1, 1, 0], [0, 0, 5])
    assert np.abs(align_landmarks(x, true.apply(x)).matrix - true.matrix).max() < 1e-9
    scaled = pose(30.0, [0, 0, 1], [1, 2, 3], 2.0)
    rigid = align_landmarks(x, scaled.apply(x), "rigid")
    assert rigid.scale == 1.0 and abs(np.linalg.det(rigid.rotation) - 1) < 1e-12


def test_mirrored_landmarks_give_the_best_proper_rotation_never_a_reflection(rng):
    x = rng.normal(size=(8, 3)) * [2.0, 1.0, 0.3]
    y = x * [-1.0, 1.0, 1.0] + [0.5, 0.0, 0.0]  # a mirror image: no rotation maps x onto y
    fit = align_landmarks(x, y)
    assert abs(np.linalg.det(fit.rotation) - 1.0) < 1e-12

    def cost(rotvec):
        r = Rotation.from_rotvec(rotvec).as_matrix()
        moved = x @ r.T
        return ((moved - moved.mean(0) - (y - y.mean(0))) ** 2).sum()

    best = min(minimize(cost, rng.normal(size=3) * 2, method="BFGS").fun for _ in range(12))
    assert ((fit.apply(x) - y) ** 2).sum() <= best + 1e-9


def test_landmark_problems_are_one_line_input_errors(rng):
    x = rng.normal(size=(5, 3))
    with pytest.raises(InputError, match="5 landmarks and the target 4"):
        align_landmarks(x, x[:4])
    with pytest.raises(InputError, match="at least 3 pairs"):
        align_landmarks(x[:2], x[:2])
    line = np.outer(np.arange(5.0), [1.0, 2.0, 3.0])
    with pytest.raises(InputError, match="source landmarks lie on a line"):
        align_landmarks(line, x)
    bad = x.copy()
    bad[2, 1] = np.nan
    with pytest.raises(InputError, match="non-finite"):
        align_landmarks(x, bad)
    with pytest.raises(InputError, match="unknown alignment"):
        align_landmarks(x, x, "affine")


@pytest.mark.parametrize("angle", [30.0, 45.0, 60.0])
def test_icp_recovers_a_known_pose_of_the_finger(finger, angle):
    true = pose(angle, [0.4, 1.0, -0.7], [1.5, -0.8, 2.0])
    fit = align_surfaces(finger.vertices, true.apply(finger.vertices), "rigid")
    size = np.linalg.norm(np.ptp(finger.vertices, axis=0))
    assert abs(fit.angle_degrees - angle) < 1e-6
    assert np.abs(fit.apply(finger.vertices) - true.apply(finger.vertices)).max() < 1e-6 * size
    assert fit.method == "icp" and fit.rms < 1e-6 * size


def test_icp_similarity_recovers_scale_and_an_odd_pose(finger):
    true = pose(150.0, [1.0, -0.2, 0.3], [-3.0, 0.5, 1.0], 1.35)  # far from the identity: needs the axis starts
    fit = align_surfaces(finger.vertices, true.apply(finger.vertices), "similarity")
    assert abs(fit.scale - 1.35) < 1e-6 and abs(fit.angle_degrees - 150.0) < 1e-5


def test_icp_between_different_samplings_lands_close(finger):
    true = pose(40.0, [0.0, 1.0, 1.0], [0.3, 0.2, -0.1])
    target = true.apply(finger.vertices)[::3]  # a third of the vertices: no exact correspondence
    fit = align_surfaces(finger.vertices, target, "rigid")
    size = np.linalg.norm(np.ptp(finger.vertices, axis=0))
    assert np.abs(fit.apply(finger.vertices) - true.apply(finger.vertices)).max() < 0.02 * size
    assert abs(fit.angle_degrees - 40.0) < 2.0


def test_transform_algebra_and_json_round_trip(rng):
    a = pose(33.0, [1, 2, 3], [1, -2, 0.5], 1.2)
    b = pose(170.0, [0, 1, 0], [0, 0, 3])
    p = rng.normal(size=(10, 3))
    assert np.allclose(a.inverse().apply(a.apply(p)), p, atol=1e-12)
    assert np.allclose(a.compose(b).apply(p), a.apply(b.apply(p)), atol=1e-12)
    h = np.c_[p, np.ones(len(p))] @ a.matrix.T
    assert np.allclose(h[:, :3], a.apply(p), atol=1e-12)
    back = RigidTransform.from_json(a.to_json())
    assert np.allclose(back.matrix, a.matrix, atol=1e-12) and abs(back.scale - 1.2) < 1e-12
    assert back.kind == "similarity"
    rotvec = Rotation.from_matrix(b.rotation).as_rotvec()
    assert abs(b.angle_degrees - 170.0) < 1e-9 and np.allclose(b.axis, rotvec / np.linalg.norm(rotvec))
    half = pose(180.0, [0, 0, 1], [0, 0, 0])
    assert abs(half.angle_degrees - 180.0) < 1e-9 and np.allclose(np.abs(half.axis), [0, 0, 1])
    assert RigidTransform.identity().is_identity and "35.00 deg" in pose(35.0, [0, 0, 1], [0, 0, 0]).describe()


def test_matrices_that_are_not_similarities_are_refused():
    shear = np.eye(4)
    shear[0, 1] = 0.5
    mirror = np.diag([-1.0, 1.0, 1.0, 1.0])
    for bad, words in ((shear, "not a rotation"), (mirror, "mirrors"), (np.eye(3), "4x4")):
        with pytest.raises(InputError, match=words):
            RigidTransform.from_matrix(bad)
    with pytest.raises(InputError, match="matrix"):
        RigidTransform.from_json({"angle": 3})


def test_compute_alignment_chooses_landmarks_icp_or_nothing(finger, rng):
    v = finger.vertices
    true = pose(45.0, [1, 0, 0], [0, 1, 0])
    assert compute_alignment("none", v, v) is None
    idx = [0, 500, 1000, 1500, 2000]
    assert compute_alignment("rigid", v, true.apply(v), v[idx], true.apply(v[idx])).method == "landmarks"
    assert compute_alignment("rigid", v, true.apply(v)).method == "icp"
    with pytest.raises(InputError, match="unknown alignment"):
        compute_alignment("affine", v, v)


def test_icp_copes_with_a_target_missing_a_fifth_of_the_surface(finger):
    v = finger.vertices
    true = pose(45.0, [0.4, 1.0, -0.7], [1.5, -0.8, 2.0])
    fit = align_surfaces(v, true.apply(v[v[:, 0] < np.percentile(v[:, 0], 80)]), "rigid")
    size = np.linalg.norm(np.ptp(v, axis=0))
    assert np.abs(fit.apply(v) - true.apply(v)).max() < 0.03 * size and abs(fit.angle_degrees - 45.0) < 2.0


def test_transforms_compare_by_their_map():
    a = pose(20.0, [0, 0, 1], [1, 2, 3])
    assert a == pose(20.0, [0, 0, 1], [1, 2, 3]) and a != pose(21.0, [0, 0, 1], [1, 2, 3]) and a != "a transform"


def relative_degrees(a, b):
    """The angle of the rotation taking a's rotation to b's."""
    return RigidTransform(a.rotation.T @ b.rotation).angle_degrees


def test_similarity_icp_neither_reverses_nor_shrinks_a_bent_finger(data_dir, finger):
    from shapeviewer.io.meshes import read_mesh

    bent = read_mesh(data_dir / "finger1.ply")  # the same finger bent: same vertex order, same area
    moved = pose(70.0, [0, 0, 1], [3.0, -1.5, 2.0])
    y = moved.apply(bent.vertices)
    truth = align_landmarks(finger.vertices, y, "similarity")  # from the known vertex correspondence
    assert abs(truth.scale - 0.855) < 0.01  # the bent finger spans less than the straight one
    rigid = align_surfaces(finger.vertices, y, "rigid")
    fit = align_surfaces(finger.vertices, y, "similarity")
    # it was 119 deg about another axis, 175 deg from both: the finger end to end (now 10 and 25 deg;
    # the bent finger has no exact pose, the rigid fit is itself 20 deg from the correspondence's)
    assert relative_degrees(fit, truth) < 15.0 and relative_degrees(fit, rigid) < 30.0
    assert 0.8 < fit.scale < 0.9  # it was 0.72
    assert fit.rms < rigid.rms


def test_similarity_icp_recovers_a_scale_of_1_3_and_the_pose(finger):
    v = finger.vertices[::2]
    true = pose(100.0, [0.2, 1.0, 0.5], [4.0, -2.0, 1.0], 1.3)
    fit = align_surfaces(v, true.apply(v), "similarity")
    assert abs(fit.scale - 1.3) < 1e-6 and relative_degrees(fit, true) < 1e-4
    assert np.abs(fit.apply(v) - true.apply(v)).max() < 1e-5 * np.linalg.norm(np.ptp(v, axis=0))
