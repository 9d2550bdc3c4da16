"""A thin progress bar that only ever schedules its repaint.

QProgressBar.setValue repaints synchronously, which in a window holding OpenGL views means an extra
composition of the whole window per iteration; this one folds into the next regular repaint.
"""

from __future__ import annotations

from PySide6.QtCore import QRect, QSize, Qt
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import QWidget


class ProgressStrip(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self._value, self._maximum, self._label = 0, 0, ""
        self.setMinimumWidth(160)
        self.setToolTip("L-BFGS iterations done / at most")

    def value(self) -> int:
        return self._value

    def maximum(self) -> int:
        return self._maximum

    def text(self) -> str:
        if self._label or self._maximum <= 0:
            return self._label  # nothing before a run; a busy strip during set-up
        return f"{self._value} / {self._maximum}"

    def set_progress(self, value: int, maximum: int, label: str = "") -> None:
        """``maximum`` 0: no count yet (before a run, or while setting up); ``label`` replaces the count."""
        self._value, self._maximum, self._label = max(0, value), max(0, maximum), label
        self.update()

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt name)
        return QSize(200, 16)

    def paintEvent(self, event):  # noqa: N802 (Qt name)
        p = QPainter(self)
        r = self.rect().adjusted(0, 2, -1, -3)
        p.setPen(QColor("#999"))
        p.setBrush(QColor("#fff"))
        p.drawRect(r)
        fraction = min(self._value / self._maximum, 1.0) if self._maximum > 0 else 0.0
        done = round((r.width() - 1) * fraction)
        p.fillRect(QRect(r.x() + 1, r.y() + 1, done, r.height() - 1), QColor("#3f7fd8"))
        p.setPen(QColor("#222"))
        p.drawText(r, Qt.AlignmentFlag.AlignCenter, self.text())
        p.end()
