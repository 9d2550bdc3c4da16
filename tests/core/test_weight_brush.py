"""The weight brush: falloff, each mode, fills, bounds."""

import numpy as np
import pytest

from shapeviewer.core.weight_brush import WEIGHT_MAX, Brush, WeightPainter
from shapeviewer.io.demo import make_demo_pair


@pytest.fixture
def painter():
    source, _ = make_demo_pair(resolution=16)
    return WeightPainter(source.vertices, source.faces, np.zeros(source.n_vertices))


def _tip(p):
    return p.vertices[np.argmax(p.vertices[:, 0])]


def test_add_touches_only_the_brush_with_a_smooth_falloff(painter):
    tip = _tip(painter)
    changed = painter.stroke_step(tip, Brush(radius=0.8, strength=0.5, mode="add"))
    d = np.linalg.norm(painter.vertices - tip, axis=1)
    assert set(changed) == set(np.flatnonzero(d < 0.8))
    assert np.all(painter.weights[d >= 0.8] == 0)
    inside = np.flatnonzero(d < 0.8)
    order = np.argsort(d[inside])
    assert np.all(np.diff(painter.weights[inside][order]) <= 1e-12)  # weaker away from the centre
    assert painter.weights.max() == pytest.approx(0.5, abs=0.05)


def test_modes_stay_within_bounds_and_do_what_they_say(painter):
    tip = _tip(painter)
    for _ in range(10):
        painter.stroke_step(tip, Brush(radius=0.8, strength=1.0, mode="add"))
    assert painter.weights.max() == WEIGHT_MAX
    for _ in range(10):
        painter.stroke_step(tip, Brush(radius=0.8, strength=1.0, mode="subtract"))
    assert painter.weights.min() == 0 and painter.weights.max() < 1e-9
    painter.stroke_step(tip, Brush(radius=0.8, strength=1.0, mode="set", value=0.3))
    nearest = np.argmin(np.linalg.norm(painter.vertices - tip, axis=1))
    assert painter.weights[nearest] == pytest.approx(0.3, abs=1e-6)
    spike = painter.weights.copy()
    painter.stroke_step(tip, Brush(radius=2.0, strength=1.0, mode="smooth"))
    assert painter.weights.max() < spike.max()  # a peak is flattened towards its neighbours
    with pytest.raises(ValueError, match="unknown brush mode 'blur'"):
        painter.stroke_step(tip, Brush(radius=1.0, mode="blur"))


def test_fill_invert_clear_and_region_fill():
    source, _ = make_demo_pair(resolution=10)
    n = source.n_vertices
    shifted = source.faces + n  # a second, disconnected copy
    p = WeightPainter(np.vstack([source.vertices, source.vertices + 5]), np.vstack([source.faces, shifted]))
    p.clear()
    p.fill(0.7, seed=3)
    assert np.all(p.weights[:n] == 0.7) and np.all(p.weights[n:] == 0)
    p.invert()
    assert np.allclose(p.weights[:n], 0.3) and np.all(p.weights[n:] == 1.0)
    p.fill(2.0)
    assert np.all(p.weights == WEIGHT_MAX)


def test_a_quick_stroke_paints_a_continuous_band_between_its_samples(painter):
    """Two mouse samples far apart: the segment between them is painted, not two blotches."""
    brush = Brush(radius=0.1, strength=1.0)
    a, b = np.array([-0.6, 0.0, 0.7]), np.array([0.6, 0.0, 0.7])
    painter.stroke_segment(a, b, brush)
    middle = np.linalg.norm(painter.vertices - np.array([0.0, 0.0, 0.7]), axis=1) < 0.05
    assert middle.any() and (painter.weights[middle] > 0.5).all()
    assert painter.weights.max() <= WEIGHT_MAX
