"""File > Open result folder: a registration's result folder shown as if its run had just ended, so that
playback and every export work on it as after a run (reading: ``document.result_folders``)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog

from ..document.result_folders import OpenedResult, read_result_folder
from ..io.results import ResultReadError
from . import settings_store
from .busy import busy_cursor


def install_result(window, opened: OpenedResult, settings=None) -> bool:
    """Show ``opened`` in the window as a reopened session's result; ``settings`` (the run's, when known)
    go to the parameters panel. Nothing is modified: the result is on disk already."""
    w = window
    if w.run.running:
        w.show_error("Registration running", f"Stop the registration before opening {opened.description}.")
        return False
    with busy_cursor():
        w.install_meshes(opened.meshes, opened.paths, remember=False)
        if settings is not None:
            w.parameters.apply_settings(settings)
            w.doc.set_settings(settings)
        w.doc.restore(opened.result, opened.history, opened.result.n_frames - 1)
    w.session.path = None  # Save asks for a new file instead of overwriting the session opened before
    w.setWindowModified(False)
    w.setWindowTitle(f"{opened.label}[*] — shapeviewer")
    rep = opened.result.report
    mismatch = f", mismatch -{100 * rep.fidelity_drop:.1f}%" if rep.fidelity_initial > 0 else ""  # none: shot
    w.status_line.setText(f"Opened {opened.description}: {rep.status}, {opened.result.n_frames} frames{mismatch}")
    w.log_panel.add(f"opened {opened.description}")
    return True


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
