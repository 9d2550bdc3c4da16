"""The legends of the views: the mask's weight bar reads cleanly, the result view names what it shows."""

from pathlib import Path

import numpy as np
from gui_helpers import quick_settings, rendered, run_to_end

from shapeviewer.qt.mask_actions import load_mask_file

DATA = Path(__file__).parents[1] / "data"


def _blank_rows_between(image: np.ndarray, top: int, bottom: int) -> int:
    background = image[0, 0].astype(int)
    ink = np.abs(image[top:bottom].astype(int) - background).sum(axis=2) > 60
    return int((~ink.any(axis=1)).sum())


def test_the_weight_bar_top_label_stands_clear_of_the_bar_title(window, qtbot):
    assert window.load_pair(DATA / "finger0.ply", DATA / "finger1.ply")
    assert load_mask_file(window, DATA / "finger0_tipmask.npy")
    inputs = window.inputs
    assert inputs.values_title == "weight"
    inputs.actors["source"].SetVisibility(False)  # the bar alone in the source's half
    inputs.view.renderer.actors["source-title"].SetVisibility(False)
    image = rendered(inputs.view)[:, : inputs.view.width() // 2]
    saturated = image.astype(int).max(axis=2) - image.astype(int).min(axis=2) > 80
    rows, columns = np.nonzero(saturated)
    bar_top, bar_left, bar_right = rows.min(), columns.min(), columns.max()
    background = image[0, 0].astype(int)
    title_ink = np.abs(image[:bar_top, : bar_left - 2].astype(int) - background).sum(axis=2) > 60
    title_bottom = np.flatnonzero(title_ink.any(axis=1)).max()  # "weight" reaches left of the bar
    around_bar = image[:, max(bar_left - 20, 0) : bar_right + 30]
    # the top label ("1") stands half above the bar: a gap must part it from the title
    assert _blank_rows_between(around_bar, title_bottom + 1, bar_top) >= 2


def test_the_result_legend_names_the_source_at_rest_until_a_geodesic_exists(window, qtbot, small_pair):
    legend = window.result.view.legend
    assert legend.GetEntryString(0) == "source (not deformed yet)"
    window.display.colour_plain.setChecked(True)
    window.display.colour_displacement.setChecked(True)
    assert window.result.view.legend.GetEntryString(0) == "source (not deformed yet)"
    quick_settings(window, iterations=2, steps=4)
    run_to_end(qtbot, window)
    assert window.result.view.legend.GetEntryString(0) == "deformed source: colour = displacement"
    assert window.load_pair(*small_pair)  # a new pair drops the geodesic
    assert window.result.view.legend.GetEntryString(0) == "source (not deformed yet)"


def test_a_mask_loaded_again_after_the_pair_was_reloaded_colours_and_weighs_the_source(window, qtbot):
    """Reloading the pair left the old weight bar behind while forgetting it: the next mask raised in
    pyvista's add_scalar_bar (None for a title it has) and the app kept colours without a mask for Run."""
    pair = DATA / "finger0.ply", DATA / "finger1.ply"
    assert window.load_pair(*pair) and load_mask_file(window, DATA / "finger0_tipmask.npy")
    assert window.load_pair(*pair)
    assert "weight" not in window.inputs.view.scalar_bars  # the plain source has no weight legend
    assert load_mask_file(window, DATA / "finger0_tipmask.npy")
    assert list(window.inputs.view.scalar_bars.keys()) == ["weight"]
    np.testing.assert_array_equal(window.doc.mask_for_run(), np.load(DATA / "finger0_tipmask.npy"))
