"""The result view's title keeps one size whatever its length (a corner annotation enlarges short texts)."""

import numpy as np
from gui_helpers import rendered


def _text_height(window) -> int:
    """Rows of the result view's top band that hold dark title pixels."""
    image = rendered(window.result.view)
    band = image[: image.shape[0] // 6, : image.shape[1] // 2].mean(axis=2)
    rows = np.nonzero((band < 100).any(axis=1))[0]
    return int(rows.max() - rows.min() + 1) if len(rows) else 0


def test_short_and_long_titles_are_drawn_at_one_size(window):
    window.result.set_title("Result: press Run")
    short = _text_height(window)
    window.result.set_title("Result: demo_source.ply -> demo_target.ply (finished, iteration 10, mismatch down 96.5%)")
    long = _text_height(window)
    assert short > 5 and long > 5
    assert abs(short - long) <= 2, (short, long)
