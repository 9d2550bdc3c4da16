"""Mesh pyramids and the coarse-to-fine plan."""

import numpy as np
import pytest

from shapeviewer.core import pyramid
from shapeviewer.core.geometry import vertex_areas
from shapeviewer.core.levels import RESOLVE_RATIO, SCALE_FACTOR, plan_levels
from shapeviewer.core.pyramid import build_pyramid, level_sizes
from shapeviewer.io.meshes import read_mesh
from tests.conftest import DATA


@pytest.fixture(scope="module")
def cactus():
    return read_mesh(DATA / "cactus3.ply")


def test_level_sizes():
    assert level_sizes(9_000, None) == [9_000]  # auto: small meshes register in one level
    assert level_sizes(50_000, None) == [2_000, 10_000, 50_000]
    assert level_sizes(1_000_000, None)[0] <= pyramid.COARSEST_VERTICES
    assert level_sizes(50_000, 1) == [50_000]
    sizes = level_sizes(50_000, 3)
    assert sizes[-1] == 50_000 and sizes[0] == pyramid.COARSEST_VERTICES and sizes == sorted(sizes)
    with pytest.raises(ValueError):
        level_sizes(100, 0)


def test_pyramid_maps_every_vertex_and_conserves_mass(cactus):
    import torch

    v, f = cactus.vertices, cactus.faces
    levels = build_pyramid(v, f, [300, 1200, len(v)])
    areas = vertex_areas(torch.as_tensor(v), torch.as_tensor(f)).numpy()
    assert [lv.n_vertices for lv in levels][-1] == len(v)
    for lv in levels:
        assert lv.parent.shape == (len(v),)
        assert lv.parent.min() >= 0 and lv.parent.max() < lv.n_vertices
        assert len(np.unique(lv.parent)) >= 0.98 * lv.n_vertices  # level vertices stand for fine vertices
        assert np.isclose(lv.gather(areas).sum(), areas.sum())  # mass conserved
        coarse_area = vertex_areas(torch.as_tensor(lv.vertices), torch.as_tensor(lv.faces)).sum()
        assert abs(float(coarse_area) / areas.sum() - 1) < 0.03  # the shape kept its surface
        # each fine vertex lies near the coarse vertex it was merged into
        gap = np.linalg.norm(v - lv.vertices[lv.parent], axis=1)
        assert gap.max() < 6 * lv.mean_edge_length()
    assert levels[0].n_vertices < 400 and levels[1].n_vertices < 1400


def test_plan_runs_up_to_the_first_level_that_resolves_the_fidelity_scale(cactus, monkeypatch):
    monkeypatch.setattr(pyramid, "COARSEST_VERTICES", 300)
    pair = (cactus.vertices, cactus.faces)
    edges = [lv.mean_edge_length() for lv in build_pyramid(*pair, level_sizes(len(pair[0]), 3))]
    scale = RESOLVE_RATIO * (edges[1] + edges[0]) / 2  # resolved by level 2 of 3, not by level 1
    plans = plan_levels(pair, pair, 3, scale)
    assert [p.run for p in plans] == [True, True, False]
    assert "resolves" in plans[2].skip_reason
    assert plans[1].fidelity_scale == pytest.approx(scale)
    assert plans[0].fidelity_scale == pytest.approx(SCALE_FACTOR * scale)
    fine = plan_levels(pair, pair, 3, RESOLVE_RATIO * edges[2] / 2)  # only the full mesh resolves it
    assert all(p.run for p in fine)
    assert plan_levels(pair, pair, None, scale)[0].count == 1  # auto: 5k vertices is one level
    assert len(plan_levels(pair, pair, 3, None)) == 1  # landmarks: no pyramid
