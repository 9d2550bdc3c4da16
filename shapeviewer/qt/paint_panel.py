"""The weight-mask panel: paint mode, brush, fills, undo/redo, load/save, and the influence view."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import shiboken6
from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QLabel,
    QPushButton,
    QSizePolicy,
    QSlider,
    QToolButton,
)

from ..core.weight_brush import MODES, WEIGHT_MAX
from . import settings_store

MASK_FILTER = "Weight mask (*.npy *.vtp)"
SLIDER_STEPS, SLIDER_LOW, SLIDER_HIGH = 1000, 0.005, 0.5  # radius slider: fractions of the shape size, log scale


def _double(low, high, value, step, tip) -> QDoubleSpinBox:
    box = QDoubleSpinBox()
    box.setRange(low, high)
    box.setDecimals(4)
    box.setSingleStep(step)
    box.setValue(value)
    box.setToolTip(tip)
    return box


class PaintPanel(QGroupBox):
    def __init__(self, controller, parent=None):
        super().__init__("Weight mask mu (normalized cometric)", parent)
        self.controller = controller
        self.paint = QCheckBox("Paint on the source (B)")
        self.paint.setToolTip("Press-drag on the source paints; elsewhere the camera moves as usual")
        self.mode = QComboBox()
        self.mode.addItems(MODES)
        self.radius = _double(1e-6, 1e9, 0.1, 0.01, "Brush radius in mesh units ([ and ] change it)")
        self.radius_slider = QSlider(Qt.Orientation.Horizontal)
        self.radius_slider.setRange(0, SLIDER_STEPS)
        self.radius_slider.setToolTip("Brush radius, from 0.5% to 50% of the source's size")
        self.shape_size = 1.0
        self.strength = _double(0.01, 1.0, 0.5, 0.05, "Change applied at the brush centre per step")
        self.value = _double(0.0, WEIGHT_MAX, 1.0, 0.1, "Weight that 'set' paints towards")
        buttons = QGridLayout()
        self.fill_all = self._button("Fill all", "Every vertex gets the 'value' weight", buttons, 0, 0)
        self.fill_region = self._button("Fill region", "The connected part under the brush gets 'value'", buttons, 0, 1)
        self.invert = self._button("Invert", f"w -> {WEIGHT_MAX:g} - w", buttons, 0, 2)
        self.clear = self._button("Clear", "All weights to 0 (a run needs some weight)", buttons, 1, 0)
        self.load = self._button("Load…", "Load a .npy (N floats) or .vtp ('mask' point array)", buttons, 1, 1)
        self.save = self._button("Save…", "Save as .npy (register --mask) or .vtp", buttons, 1, 2)
        undo = controller.undo_stack.createUndoAction(self, "Undo")
        undo.setShortcut(QKeySequence.StandardKey.Undo)
        redo = controller.undo_stack.createRedoAction(self, "Redo")
        redo.setShortcut(QKeySequence("Ctrl+Shift+Z"))
        self.undo_action, self.redo_action = undo, redo
        for col, action in ((0, undo), (1, redo)):
            tool = QToolButton()
            tool.setDefaultAction(action)
            tool.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
            tool.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)  # "Undo fill region" never reflows
            buttons.addWidget(tool, 2, col)
        for action in (undo, redo):  # the step goes to the tooltip, not the label
            action.changed.connect(self._short_labels)
        self._short_labels()
        self.hint = QLabel()
        self.hint.setObjectName("paintHint")
        self.hint.setWordWrap(True)
        self.influence = QCheckBox("Show influence")
        self.influence.setToolTip(
            "Colour the source by how strongly each part leads the deformation with this kernel and mask: "
            "its weight times the Sinkhorn scaling lambda (the effective mass in the normalized cometric); "
            "0 where the weight is 0, as those parts follow passively"
        )
        form = QFormLayout(self)
        form.addRow(self.paint)
        form.addRow("Brush", self.mode)
        form.addRow("Radius", self.radius)
        form.addRow("", self.radius_slider)
        form.addRow("Strength", self.strength)
        form.addRow("Value", self.value)
        form.addRow(buttons)
        form.addRow(self.influence)
        form.addRow(self.hint)
        self._wire()

    def _button(self, text, tip, grid, row, col) -> QPushButton:
        b = QPushButton(text)
        b.setToolTip(tip)
        grid.addWidget(b, row, col)
        return b

    def _wire(self) -> None:
        c = self.controller
        self.paint.toggled.connect(c.set_enabled)
        self.paint.toggled.connect(self._paint_toggled)
        c.mask_changed.connect(self._hint_still_true)
        self.mode.currentTextChanged.connect(lambda m: setattr(c.brush, "mode", m))
        self.radius.valueChanged.connect(self._radius_changed)
        self.radius_slider.valueChanged.connect(lambda v: self.radius.setValue(self._slider_radius(v)))
        self.strength.valueChanged.connect(lambda s: setattr(c.brush, "strength", s))
        self.value.valueChanged.connect(lambda v: setattr(c.brush, "value", v))
        self.fill_all.clicked.connect(lambda: c.edit("fill all", lambda p: p.fill(self.value.value())))
        self.fill_region.clicked.connect(self._fill_region)
        self.invert.clicked.connect(lambda: c.edit("invert", lambda p: p.invert()))
        self.clear.clicked.connect(lambda: c.edit("clear", lambda p: p.clear()))

    def _short_labels(self) -> None:
        """Keep the buttons' text at 'Undo'/'Redo' and put 'Undo fill region' in their tooltips."""
        for action, name in ((self.undo_action, "Undo"), (self.redo_action, "Redo")):
            if not shiboken6.isValid(action):  # the window is closing: the actions go one by one
                continue
            full = action.text()
            if full != name:
                action.blockSignals(True)
                action.setToolTip(full)
                action.setText(name)
                action.blockSignals(False)

    def _paint_toggled(self, on: bool) -> None:
        """An unpainted mask is 1 everywhere, where adding does nothing: the brush starts by lowering."""
        painter = self.controller.painter
        if on and painter is not None and painter.untouched and self.mode.currentText() == "add":
            self.mode.setCurrentText("subtract")
            self.hint.setText(
                "The mask is 1 everywhere, so the brush now lowers weights. To paint only the parts that "
                "should lead: Clear, then paint with 'add'."
            )
        elif not on:
            self.hint.setText("")

    def _hint_still_true(self) -> None:
        painter = self.controller.painter
        if self.hint.text() and (painter is None or not painter.untouched):
            self.hint.setText("")  # the mask is no longer all ones: the hint is old news

    def sync_from_brush(self) -> None:
        c = self.controller
        self.shape_size = float(np.linalg.norm(np.ptp(c.painter.vertices, axis=0))) if c.painter else 1.0
        self.radius.setSingleStep(max(c.brush.radius / 8, 1e-6))
        self.radius.setValue(c.brush.radius)
        self._radius_changed(c.brush.radius)

    def _slider_radius(self, position: int) -> float:
        return self.shape_size * SLIDER_LOW * (SLIDER_HIGH / SLIDER_LOW) ** (position / SLIDER_STEPS)

    def _radius_changed(self, radius: float) -> None:
        self.controller.brush.radius = radius
        ratio = max(radius / (self.shape_size * SLIDER_LOW), 1e-12)
        position = round(SLIDER_STEPS * np.log(ratio) / np.log(SLIDER_HIGH / SLIDER_LOW))
        self.radius_slider.blockSignals(True)
        self.radius_slider.setValue(int(np.clip(position, 0, SLIDER_STEPS)))
        self.radius_slider.blockSignals(False)

    def scale_radius(self, factor: float) -> None:
        self.radius.setValue(self.radius.value() * factor)

    def _fill_region(self) -> None:
        c = self.controller
        seed = c.last_vertex
        if seed is None:
            self.window().show_error("Fill region", "Move the brush over the part of the source to fill first.")
            return
        c.edit("fill region", lambda p: p.fill(self.value.value(), seed))

    def ask_path(self, save: bool) -> Path | None:
        folder = settings_store.last_folder()
        if save:
            name, _ = QFileDialog.getSaveFileName(self, "Save mask", str(Path(folder) / "mask.npy"), MASK_FILTER)
        else:
            name, _ = QFileDialog.getOpenFileName(self, "Load mask", folder, MASK_FILTER)
        if not name:
            return None
        settings_store.remember_folder(Path(name))
        return Path(name)
