"""Coarse-to-fine registration: levels share the momenta, each level improves on the last, cancel anywhere."""

import numpy as np
import pytest
import torch

from shapeviewer.core import pyramid
from shapeviewer.core.fidelity import Fidelity
from shapeviewer.core.model import ModelSettings
from shapeviewer.core.registration import Registration, RegistrationSettings
from shapeviewer.core.stopping import PATIENCE, stalled
from shapeviewer.io.meshes import read_mesh
from tests.conftest import DATA


@pytest.fixture(scope="module")
def finger_pair():
    return read_mesh(DATA / "finger0.ply"), read_mesh(DATA / "finger1.ply")


@pytest.fixture(scope="module")
def two_levels():
    """finger0 (2,046 vertices) as a two-level pyramid: about 500 vertices, then the full mesh."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pyramid, "COARSEST_VERTICES", 500)
        yield


@pytest.fixture(scope="module")
def two_level_run(finger_pair, two_levels):
    reg = make(finger_pair)
    return reg, list(reg.run())


def make(finger_pair, iterations=6, **extra):
    source, target = finger_pair
    model = ModelSettings(control_points=80, backend="torch")
    # A fidelity scale fine enough that the coarse level does not resolve it: both levels run.
    settings = RegistrationSettings(model=model, iterations=iterations, levels=2, fidelity_scale=0.03, **extra)
    return Registration((source.vertices, source.faces), (target.vertices, target.faces), settings)


def full_fidelity(reg, finger_pair, trajectory) -> float:
    """D(phi(S), T) on the full meshes, relative to its value at the identity."""
    source, target = finger_pair
    m = reg.model
    fid = Fidelity("varifold", m.faces, m.to_internal(target.vertices), torch.as_tensor(target.faces), 0.03, "torch")
    with torch.no_grad():
        return float(fid(m.to_internal(trajectory[-1]))) / float(fid(m.vertices))


def test_a_level_change_leaves_the_full_mesh_deformation_unchanged(two_level_run):
    reg, reports = two_level_run
    assert [p.source.n_vertices for p in reg.to_run] == [pytest.approx(500, abs=5), 2046]
    first_of_level_2 = next(i for i, r in enumerate(reports) if r.level == 2)
    last_of_level_1 = reports[first_of_level_2 - 1]
    start_of_level_2 = reports[first_of_level_2]
    assert np.array_equal(last_of_level_1.momenta, start_of_level_2.momenta)
    assert last_of_level_1.trajectory is None  # a coarse level never shot the full mesh
    assert np.allclose(last_of_level_1.frames(), start_of_level_2.frames(), atol=1e-9)
    assert start_of_level_2.trajectory.shape == (11, 2046, 3)


def test_two_levels_beat_the_coarse_level_alone(finger_pair, two_level_run):
    reg, reports = two_level_run
    final = reports[-1]
    assert final.level == 2 and final.levels == 2 and final.status != "failed"
    coarse_only = [r for r in reports if r.level == 1][-1]
    after_coarse = full_fidelity(reg, finger_pair, coarse_only.frames())
    after_both = full_fidelity(reg, finger_pair, final.frames())
    assert after_both < 0.95 * after_coarse < 0.95
    levels = reg.describe()["levels"]
    assert [lv["source_vertices"] for lv in levels] == [pytest.approx(500, abs=5), 2046]
    assert all(lv["iterations"] > 0 and lv["seconds"] > 0 for lv in levels)
    assert levels[0]["fidelity_scale"] == pytest.approx(2 * levels[1]["fidelity_scale"])


@pytest.mark.parametrize("level", [1, 2])
def test_cancel_inside_each_level_keeps_the_best_full_resolution_state(finger_pair, two_levels, level):
    reg = make(finger_pair)
    reports = []

    def should_stop():  # stop at the second iteration of the chosen level
        return sum(r.level == level for r in reports) >= 2

    for rep in reg.run(should_stop=should_stop):
        reports.append(rep)
    final = reports[-1]
    assert final.status == "cancelled" and final.level == level
    assert final.trajectory.shape == (11, 2046, 3) and np.isfinite(final.trajectory).all()
    assert final.loss == min(r.loss for r in reports[:-1] if r.level == level)


def test_a_stop_while_the_next_level_sets_up_ends_there_keeping_the_coarse_best(finger_pair, two_levels, monkeypatch):
    """Setting up a finer level runs its data term's reductions (seconds each on a large level): a Stop pressed
    meanwhile is seen between them, and the run ends with the coarse level's best at full resolution."""
    built, pressed = [], []
    real = Fidelity.__init__

    def building(self, *args, **kwargs):
        real(self, *args, **kwargs)
        built.append(1)
        if len(built) == 2:  # the full level's data term: Stop pressed while it sets up
            pressed.append(1)

    measure, measured_after = Fidelity.__call__, []

    def measuring(self, *args, **kwargs):
        value = measure(self, *args, **kwargs)
        measured_after.extend(pressed)
        return value

    monkeypatch.setattr(Fidelity, "__init__", building)
    monkeypatch.setattr(Fidelity, "__call__", measuring)
    reg = make(finger_pair)
    reports = list(reg.run(should_stop=lambda: bool(pressed)))
    final = reports[-1]
    assert measured_after == []  # the level's data term at rest was not measured once the Stop was seen
    assert len(built) == 2 and final.status == "cancelled" and final.level == 1
    assert len(reg.describe()["levels"]) == 2 and final.trajectory.shape == (11, 2046, 3)
    assert final.loss == min(r.loss for r in reports[:-1])


def test_a_level_ends_when_the_loss_stops_improving(finger_pair):
    assert not stalled([1, 0.5, 0.3, 0.2], 0.01)
    assert stalled([0.1, 0.099, 0.098, 0.097], 0.01)
    assert not stalled([1] * PATIENCE, 0.5)  # too short to tell
    # a slow start (Gaussian kernel, weight on the finger's tip only) is not convergence: relative to the drop so far
    assert not stalled([1, 0.9988, 0.9939, 0.9906], 0.01)
    assert stalled([1, 0.99, 0.98, 0.97, 0.9699, 0.9699, 0.9699], 0.01)  # and then stopped: 0.0001 < 0.01 x 0.03
    assert stalled([1, 1, 1, 1], 0.01)  # no drop at all
    assert not stalled([2.0, 1.5, 1.2, 1.1], 0.01, at_identity=2.0)  # 1 + w L_0 / L_unit with landmarks (w = 1)
    source, target = finger_pair
    model = ModelSettings(control_points=80, backend="torch")
    loose = RegistrationSettings(model=model, iterations=200, tolerance=0.05)
    reg = Registration((source.vertices, source.faces), (target.vertices, target.faces), loose)
    final = list(reg.run())[-1]
    assert final.status == "converged" and "by less than 0.05 of its drop so far" in final.message
    assert PATIENCE <= final.iteration < 200
