"""Starts the desktop app on a pair, a session, or what was open last (the demo pair the first time)."""

from __future__ import annotations

import sys
from pathlib import Path

APP_ID = "io.github.shapeviewer.ShapeViewer"


def app_icon():
    """The installed theme's icon where there is one, else the SVG shipped inside the package."""
    from importlib.resources import files

    from PySide6.QtGui import QIcon

    return QIcon.fromTheme(APP_ID, QIcon(str(files("shapeviewer.qt") / "icons" / f"{APP_ID}.svg")))


def create_window(
    source: Path | None = None, target: Path | None = None, session: Path | None = None, folder: Path | None = None
):
    """A window on ``session``, on the pair, on a result ``folder``, or else on what was open last (the demo the
    first time); a folder that cannot be read says why in a dialog, over the demo."""
    from .main_window import MainWindow
    from .result_folder import open_result_folder

    window = MainWindow()
    if session is not None:
        window.session.open(Path(session))
    elif folder is not None:
        if not open_result_folder(window, Path(folder)):
            window.load_demo()
    elif source is not None and target is not None:
        window.load_pair(source, target)
    elif not _reopen_last(window):
        window.load_demo()
    window.setWindowModified(False)  # what was opened at start is not an unsaved change
    return window


def _reopen_last(window) -> bool:
    from . import settings_store

    last = settings_store.last_opened()
    if last is None:
        return False
    files = [Path(p) for p in last[1:]]
    if not all(f.is_file() for f in files):
        window.log_panel.add(f"last opened {', '.join(map(str, files))} no longer exists: opening the demo")
        return False
    return window.session.open(files[0]) if last[0] == "session" else window.load_pair(*files)


def run_gui(
    source: Path | None = None, target: Path | None = None, session: Path | None = None, folder: Path | None = None
) -> int:
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setOrganizationName("shapeviewer")
    app.setApplicationName("shapeviewer")
    app.setDesktopFileName(APP_ID)  # the taskbar matches the window to the installed desktop entry
    app.setWindowIcon(app_icon())
    window = create_window(source, target, session, folder)
    window.show()
    from PySide6.QtCore import QTimer

    QTimer.singleShot(0, window.session.offer_recovery)  # after a crash, offer the autosaved session
    return app.exec()
