"""Shared steps of the GUI tests."""

import numpy as np
from PySide6.QtCore import Qt


def quick_settings(win, iterations=3, steps=4):
    p = win.parameters
    p.iterations.setValue(iterations)
    p.steps.setValue(steps)
    p.backend.setCurrentText("torch")


def run_to_end(qtbot, win, timeout=60_000):
    qtbot.mouseClick(win.run_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: win.run.final is not None and not win.run.running, timeout=timeout)


def rendered(view) -> np.ndarray:
    """What the interactor shows now, as an (H, W, 3) uint8 image."""
    view.render()
    return np.asarray(view.screenshot(return_img=True))[..., :3]
