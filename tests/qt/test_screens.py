"""What the user sees: the window opens on the demo pair and every view shows its mesh."""

import numpy as np
from gui_helpers import quick_settings, rendered, run_to_end

from shapeviewer.render.scene import SOURCE_COLOR, TARGET_COLOR


def _share_of_colour(image: np.ndarray, hex_colour: str) -> float:
    """Fraction of pixels whose red-blue balance matches the colour's (shading changes brightness only)."""
    r, b = image[..., 0].astype(int), image[..., 2].astype(int)
    reference = int(hex_colour[1:3], 16) - int(hex_colour[5:7], 16)
    return float((np.sign(r - b) == np.sign(reference)).__and__(np.abs(r - b) > 40).mean())


def test_plain_start_opens_the_demo_pair(qtbot):
    from shapeviewer.qt.app import create_window

    win = create_window()
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    assert win.paths["source"].name == "demo_source.ply" and win.paths["target"].name == "demo_target.ply"
    image = rendered(win.inputs.view)
    h, w, _ = image.shape
    left, right = image[:, : w // 2], image[:, w // 2 :]
    assert _share_of_colour(left, SOURCE_COLOR) > 0.01 > _share_of_colour(left, TARGET_COLOR)  # orange source
    assert _share_of_colour(right, TARGET_COLOR) > 0.01 > _share_of_colour(right, SOURCE_COLOR)  # blue target
    assert image.std() > 10


def test_result_view_shows_the_deformed_source_in_colour(window, qtbot):
    quick_settings(window, iterations=3, steps=4)
    before = rendered(window.result.view)
    run_to_end(qtbot, window)
    after = rendered(window.result.view)
    assert after.std() > 10
    assert np.abs(after.astype(int) - before).mean() > 0.5
    assert "displacement" in window.result.view.scalar_bars
    window.grab().save(str(window.paths["source"].parent / "window.png"))
    assert (window.paths["source"].parent / "window.png").stat().st_size > 10_000
