"""File > Open result folder: a registration's result folder shown as if its run had just ended, so that
playback and every export work on it as after a run (reading: ``document.result_folders``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtWidgets import QFileDialog

from ..core.errors import InputError
from ..document.result_folders import OpenedResult, read_result_folder, settings_differences
from ..document.wording import mismatch_change
from ..io.results import ResultReadError
from . import settings_store
from .busy import busy_cursor


def install_result(window, opened: OpenedResult, settings=None) -> bool:
    """Show ``opened`` in the window as a reopened session's result, with its mask; the settings the folder
    recorded, else ``settings`` (the caller's: a batch's), else those the run reported go to the parameters
    panel. Nothing is modified: the result is on disk already."""
    w = window
    if w.run.running:
        w.show_error("Registration running", f"Stop the registration before opening {opened.description}.")
        return False
    if not w.may_replace_result(f"opening {opened.description}"):
        return False
    notes = list(opened.notes)
    if settings is None or opened.settings_recorded:
        settings = opened.settings
        notes += opened.settings_notes
    with busy_cursor():
        w.install_meshes(opened.meshes, opened.paths, remember=False)
        if settings is not None:
            notes += _show_settings(w, settings)
        if opened.mask is not None:
            w.paint.set_weights(opened.mask, record=False)  # the document's mask follows the brush's weights
        w.doc.restore(opened.result, opened.history, opened.result.n_frames - 1)
    w.session.path = None  # Save asks for a new file instead of overwriting the session opened before
    w.setWindowModified(False)
    w.setWindowTitle(f"{opened.label}[*] — shapeviewer")
    rep = opened.result.report
    mismatch = f", mismatch {mismatch_change(1 - rep.fidelity_drop)}" if rep.fidelity_initial > 0 else ""  # shot: none
    w.status_line.setText(f"Opened {opened.description}: {rep.status}, {opened.result.n_frames} frames{mismatch}"
                          f"{_mask_words(opened.mask)}{'; see the Log tab' if notes else ''}")  # fmt: skip
    w.log_panel.add(f"opened {opened.description}")
    for note in notes:
        w.log_panel.add(f"note: {note}")
    return True


def _mask_words(mask) -> str:
    if mask is None:
        return "; no mask in the folder"
    return "" if np.all(mask == 1.0) else f", its mask ({int((mask > 0).sum())} of {len(mask)} vertices weighted)"


def _show_settings(window, settings) -> list[str]:
    """The run's settings in the panel and the document; what the panel cannot show as the run had it is
    returned, in words."""
    panel = window.parameters
    try:
        panel.apply_settings(settings)
        shown = panel.settings()
    except (InputError, ValueError, TypeError) as exc:
        return [f"the parameters panel cannot show the run's settings: {exc}"]
    window.doc.set_settings(shown)
    n_vertices = window.meshes["source"].n_vertices
    return [f"not as run: {d}" for d in settings_differences(settings, shown, n_vertices)]


def open_result_folder(window, folder: str | Path) -> bool:
    """Read ``folder`` whole, then show it; a folder that fails opens nothing (a dialog says why)."""
    if window.run.running:
        window.show_error("Registration running", f"Stop the registration before opening {folder}.")
        return False
    try:
        with busy_cursor():
            opened = read_result_folder(folder)
    except (ResultReadError, OSError) as exc:
        window.show_error("Cannot open the result folder", str(exc))
        return False
    return install_result(window, opened)


def open_result_folder_dialog(window) -> None:
    name = QFileDialog.getExistingDirectory(window, "Open result folder", settings_store.last_folder())
    if name:
        settings_store.remember_folder(Path(name))
        open_result_folder(window, Path(name))
