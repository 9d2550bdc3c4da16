"""Starts the desktop app: ``shapeviewer`` (demo pair) or ``shapeviewer gui SOURCE TARGET``."""

from __future__ import annotations

import sys
from pathlib import Path


def create_window(source: Path | None = None, target: Path | None = None):
    from .main_window import MainWindow

    window = MainWindow()
    if source is not None and target is not None:
        window.load_pair(source, target)
    else:
        window.load_demo()
    window.setWindowModified(False)  # what was opened at start is not an unsaved change
    return window


def run_gui(source: Path | None = None, target: Path | None = None) -> int:
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setOrganizationName("shapeviewer")
    app.setApplicationName("shapeviewer")
    window = create_window(source, target)
    window.show()
    from PySide6.QtCore import QTimer

    QTimer.singleShot(0, window.session.offer_recovery)  # after a crash, offer the autosaved session
    return app.exec()
