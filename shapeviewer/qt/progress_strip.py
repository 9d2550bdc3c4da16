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
        self._value, self._maximum = 0, 1
        self.setMinimumWidth(160)
        self.setToolTip("L-BFGS iterations done / at most")

    def value(self) -> int:
        return self._value

    def maximum(self) -> int:
        return self._maximum

    def set_progress(self, value: int, maximum: int) -> None:
        self._value, self._maximum = max(0, value), max(1, maximum)
        self.update()

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt name)
        return QSize(200, 16)

    def paintEvent(self, event):  # noqa: N802 (Qt name)
        p = QPainter(self)
        r = self.rect().adjusted(0, 2, -1, -3)
        p.setPen(QColor("#999"))
        p.setBrush(QColor("#fff"))
        p.drawRect(r)
        done = round((r.width() - 1) * min(self._value / self._maximum, 1.0))
        p.fillRect(QRect(r.x() + 1, r.y() + 1, done, r.height() - 1), QColor("#3f7fd8"))
        p.setPen(QColor("#222"))
        p.drawText(r, Qt.AlignmentFlag.AlignCenter, f"{self._value} / {self._maximum}")
        p.end()
