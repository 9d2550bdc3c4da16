"""The mouse wheel over a combo or spin box in a scrolling panel scrolls the panel, unless the field has
focus (clicked or tabbed into): a passing wheel must never change a setting."""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication, QEvent, QObject, Qt
from PySide6.QtWidgets import QAbstractScrollArea, QAbstractSpinBox, QComboBox, QWidget


class _WheelGuard(QObject):
    def eventFilter(self, obj, event):  # noqa: N802 (Qt name)
        if event.type() != QEvent.Type.Wheel or obj.hasFocus():
            return False
        area = obj.parentWidget()
        while area is not None and not isinstance(area, QAbstractScrollArea):
            area = area.parentWidget()
        if area is not None:  # the panel scrolls instead of the field changing
            QCoreApplication.sendEvent(area.verticalScrollBar(), event)
        return True


COMBO_MIN_CHARACTERS = 10


def guard_wheel(root: QWidget) -> None:
    """Guard every combo and spin box under ``root`` (and keep a wheel from giving them focus); combos
    also stop asking for the width of their longest item, so that a narrow panel needs no side scrolling."""
    for box in root.findChildren(QComboBox):
        box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        box.setMinimumContentsLength(COMBO_MIN_CHARACTERS)
    guard = getattr(root, "_wheel_guard", None) or _WheelGuard(root)
    root._wheel_guard = guard
    for field in root.findChildren(QComboBox) + root.findChildren(QAbstractSpinBox):
        field.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        field.installEventFilter(guard)
