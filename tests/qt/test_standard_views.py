"""View > Isometric and the axis views leave a margin: no mesh reaches the band where a view's title is
(without it, the cactus seen along +X reached 93% of the view's height)."""

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtGui import QAction

DATA = Path(__file__).resolve().parents[1] / "data"
TITLE_BAND = 0.08  # the top 8% of a view holds its title


def _top(view, renderer, points) -> float:
    """The highest display y (VTK's, y up) of ``points`` in ``renderer``, as a fraction of the view's height."""
    top = 0.0
    for p in points:
        renderer.SetWorldPoint(*[float(c) for c in p], 1.0)
        renderer.WorldToDisplay()
        top = max(top, renderer.GetDisplayPoint()[1])
    return top / view.height()


@pytest.mark.parametrize("name", ["Isometric view", "Look along +X", "Look along +Y", "Look along +Z"])
def test_standard_views_keep_the_meshes_below_the_titles(window, name):
    assert window.load_pair(DATA / "cactus3.ply", DATA / "cactus11.ply")
    (action,) = [a for a in window.findChildren(QAction) if a.text() == name]
    action.trigger()
    inputs = window.inputs.view
    inputs.render()
    for column, role in enumerate(("source", "target")):
        points = window.doc.meshes[role].vertices[::5]
        assert _top(inputs, inputs.renderers[column], points) < 1 - TITLE_BAND, role
    result = window.result.view
    result.render()
    assert _top(result, result.renderers[0], np.asarray(window.result.scene.mesh.points)[::5]) < 1 - TITLE_BAND
