"""ICP must not turn a finger end to end, 1 or 2 landmark pairs steer it, and a null alignment reads as one."""

import math
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from shapeviewer.core.alignment import RigidTransform, align_landmarks, align_surfaces, compute_alignment


def pose(angle_deg, axis, translation):
    axis = np.asarray(axis, dtype=float) / np.linalg.norm(axis)
    return RigidTransform(Rotation.from_rotvec(math.radians(angle_deg) * axis).as_matrix(), translation)


def degrees_between(a, b):
    return RigidTransform(a.rotation.T @ b.rotation).angle_degrees


@pytest.fixture(scope="module")
def fingers():
    from shapeviewer.io.meshes import read_mesh

    data = Path(__file__).resolve().parents[1] / "data"
    return read_mesh(data / "finger0.ply").vertices, read_mesh(data / "finger1.ply").vertices


# finger0 lies along x; y and z are its short axes. 180 deg about a short axis swaps its ends.
TURNS = [
    (0.0, [0, 0, 1], [0, 0, 0]),
    (180.0, [0, 1, 0], [3.0, -1.0, 2.0]),
    (180.0, [0, 0, 1], [-2.0, 4.0, 1.0]),
    (172.0, [0.1, 1.0, 0.2], [1.0, 1.0, -5.0]),
    (90.0, [1, 0, 0], [5.0, 2.5, 0.0]),  # the walkthrough's odd pose: 90 about x, then 60 about z
]


@pytest.mark.parametrize("angle,axis,shift", TURNS)
def test_the_straight_finger_lands_base_on_base_on_the_bent_one_however_it_is_turned(fingers, angle, axis, shift):
    straight, bent = fingers
    moved = pose(angle, axis, shift)
    if angle == 90.0:
        moved = pose(60.0, [0, 0, 1], shift).compose(pose(90.0, [1, 0, 0], [0, 0, 0]))
    target = moved.apply(bent)
    truth = moved.compose(align_landmarks(straight, bent))  # same vertex order: the correspondence's pose
    fit = align_surfaces(straight, target, "rigid")
    # it was 177 to 179 deg from it, the thick base on the thin tip; the bent finger's best rigid pose is
    # itself about 20 deg from the correspondence's
    assert degrees_between(fit, truth) < 30.0
    base = np.argsort(straight[:, 0])[:100]  # finger0's base: its lowest x
    tip = np.argsort(straight[:, 0])[-100:]
    landed = fit.apply(straight)
    to_base = np.linalg.norm(landed[base].mean(0) - target[base].mean(0))
    to_tip = np.linalg.norm(landed[base].mean(0) - target[tip].mean(0))
    assert to_base < 0.5 * to_tip  # the bent end moved its vertices: not 0


@pytest.mark.parametrize("kind", ["rigid", "similarity"])
def test_the_bent_finger_lands_base_on_base_on_the_straight_one(fingers, kind):
    straight, bent = fingers
    moved = pose(175.0, [0.0, 0.2, 1.0], [2.0, 0.0, -1.0])
    truth = moved.compose(align_landmarks(bent, straight))
    fit = align_surfaces(bent, moved.apply(straight), kind)
    assert degrees_between(fit, truth) < 30.0  # similarity was 178 deg from it


@pytest.mark.parametrize("angle,axis", [(180.0, [0, 1, 0]), (180.0, [0, 0, 1]), (176.0, [0.0, 0.3, 1.0])])
def test_a_half_turn_about_a_short_axis_of_the_same_finger_comes_back_exactly(fingers, angle, axis):
    v = fingers[0]
    true = pose(angle, axis, [4.0, -1.0, 2.5])
    fit = align_surfaces(v, true.apply(v), "rigid")
    size = np.linalg.norm(np.ptp(v, axis=0))
    assert np.abs(fit.matrix - true.matrix).max() < 1e-6 * size


def test_one_or_two_landmark_pairs_choose_the_start(fingers):
    straight, bent = fingers
    tip, base = int(np.argmax(straight[:, 0])), int(np.argmin(straight[:, 0]))
    plain = compute_alignment("rigid", straight, bent)
    truth = align_landmarks(straight, bent)
    assert degrees_between(plain, truth) < 30.0
    # pairs that say the tip goes onto the base: they win over the surfaces' own preference
    for pairs in ([tip], [tip, base]):
        swapped = [base, tip][: len(pairs)]
        fit = compute_alignment("rigid", straight, bent, straight[pairs], bent[swapped])
        assert fit.method == "icp" and degrees_between(fit, truth) > 150.0
    agreeing = compute_alignment("rigid", straight, bent, straight[[tip, base]], bent[[tip, base]])
    assert degrees_between(agreeing, truth) < 30.0


def test_aligning_a_mesh_with_itself_reads_as_the_identity(fingers):
    v = fingers[0]
    fit = align_surfaces(v, v, "rigid")
    text = fit.describe()
    assert text.startswith("rigid: identity (already aligned)") and "deg" not in text and "about" not in text
    assert "identity (already aligned)" in align_surfaces(v, v, "similarity").describe()


def test_rounding_noise_reads_as_nothing_and_a_small_turn_keeps_its_axis():
    noise = Rotation.from_rotvec([1e-15, -3e-16, 2e-16]).as_matrix()
    assert RigidTransform(noise, [8.9e-16, -4e-16, 0.0]).describe() == "rigid: identity (already aligned)"
    assert RigidTransform(noise, [1e-7, 0, 0], size=1e3).describe() == "rigid: identity (already aligned)"
    assert "identity" not in RigidTransform(noise, [1e-7, 0, 0]).describe()  # no size: 1e-9 absolute
    shifted = RigidTransform(noise, [1.0, 2.0, 3.0]).describe()
    assert shifted == "rigid: no rotation, translation (1, 2, 3)"
    small = pose(0.001, [0, 1, 0], [0, 0, 0])
    assert small.describe() == "rigid: 0.001 deg about (0, 1, 0), translation (0, 0, 0)"
    assert abs(small.angle_degrees - 0.001) < 1e-12  # acos of the trace gave only about 7 digits here
    assert "scale 1.1" in RigidTransform(scale=1.1).describe()


@pytest.mark.parametrize("kind", ["rigid", "similarity"])
def test_a_nearly_symmetric_shape_keeps_its_pose_rather_than_turning_end_to_end(kind):
    from shapeviewer.io.demo import make_demo_pair

    source, target = make_demo_pair()  # fits turned 180 degrees as well as it does unturned
    assert align_surfaces(source.vertices, source.vertices, kind).angle_degrees < 1e-6
    assert align_surfaces(source.vertices, target.vertices, kind).angle_degrees < 5.0
    bend = source.vertices + 0.05 * np.sin(2.0 * source.vertices[:, [1, 2, 0]])  # a warp that breaks the tie a little
    assert align_surfaces(source.vertices, bend, kind).angle_degrees < 15.0
