"""Python warnings (from any thread: the registration's KeOps fallback, a skipped preference) reach the
window's log and status bar instead of only the terminal the user never sees."""

from __future__ import annotations

import warnings

import shiboken6
from PySide6.QtCore import QObject, Signal


class WarningRelay(QObject):
    warned = Signal(str, bool)  # one line, and whether it is ours (the status bar shows only those)

    def __init__(self, parent=None):
        super().__init__(parent)
        self._previous = warnings.showwarning
        warnings.showwarning = self._show

    def _show(self, message, category, filename, lineno, file=None, line=None) -> None:
        self._previous(message, category, filename, lineno, file, line)  # the terminal keeps it too
        if not shiboken6.isValid(self):  # its window is gone (a later window chained to this one): say nothing
            return
        text = str(message).strip().splitlines()[0] if str(message).strip() else category.__name__
        ours = "shapeviewer" in str(filename).replace("\\", "/").split("/")
        self.warned.emit(text, ours)

    def uninstall(self) -> None:
        if warnings.showwarning == self._show:
            warnings.showwarning = self._previous
