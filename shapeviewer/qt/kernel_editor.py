"""Kernel choice: presets with scale fields, a free kernel string validated as you type, and k(r)."""

from __future__ import annotations

import re
from html import escape

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QDoubleSpinBox, QFormLayout, QLabel, QLineEdit, QWidget

from ..core.kernels import Kernel, KernelSpecError, parse_kernel
from .plots import KernelProfilePlot

# name -> (template, default scales as fractions of the shape size)
PRESETS = {
    "cauchy": ("cauchy({0})", (0.15,)),
    "gaussian": ("gaussian({0})", (0.15,)),
    "laplacian": ("laplacian({0})", (0.15,)),
    "inverse multiquadric": ("inverse_multiquadric({0})", (0.15,)),
    "multi-scale heavy tail (1 + cauchy + cauchy)": ("1 + cauchy({0}) + cauchy({1})", (0.25, 0.05)),
}
CUSTOM = "custom string"


def _fmt(x: float) -> str:
    return f"{x:.4g}"


class KernelEditor(QWidget):
    """Emits ``kernel_changed(Kernel or None)``; ``kernel`` is None while the string does not parse."""

    kernel_changed = Signal(object)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.shape_size = 1.0
        self.kernel: Kernel | None = None
        self.preset = QComboBox()
        self.preset.addItems([*PRESETS, CUSTOM])
        self.preset.setToolTip("Kernel family; scales default to fractions of the source's bounding-box diagonal")
        self.scales = [self._scale_box(), self._scale_box()]
        self.text = QLineEdit()
        self.text.setObjectName("kernelString")
        self.text.setToolTip("Any sum of profiles, e.g. 0.5*gaussian(0.2) + cauchy(1) + 1")
        self.error = QLabel()
        self.error.setObjectName("kernelError")
        self.error.setWordWrap(True)
        self.plot = KernelProfilePlot(self)
        self.plot.setMinimumHeight(120)
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        form.addRow("Kernel", self.preset)
        form.addRow("Scale sigma", self.scales[0])
        form.addRow("Fine scale", self.scales[1])
        form.addRow("String", self.text)
        form.addRow(self.error)
        form.addRow(self.plot)
        self._form = form
        self.preset.currentTextChanged.connect(self._preset_changed)
        for box in self.scales:
            box.valueChanged.connect(self._write_string)
        self.text.textChanged.connect(self._validate)
        self.set_shape_size(1.0)

    def _scale_box(self) -> QDoubleSpinBox:
        box = QDoubleSpinBox()
        box.setDecimals(4)
        box.setRange(1e-4, 1e6)
        box.setSingleStep(0.01)
        box.setToolTip("Kernel width in mesh units")
        return box

    @property
    def follows_size(self) -> bool:
        """Whether the kernel is a preset, whose scales follow the shape's size (a custom string does not)."""
        return self.preset.currentText() != CUSTOM

    def set_shape_size(self, size: float) -> None:
        """Re-derive the default scales from a new shape size (keeps a custom string as it is)."""
        self.shape_size = size
        for box in self.scales:
            box.setSingleStep(max(size * 0.01, 1e-4))
        self._preset_changed(self.preset.currentText())

    def set_spec(self, spec: str) -> None:
        """Show ``spec``: as its preset with its scales when it is one (a reopened session), else as text."""
        for name, (template, _fractions) in PRESETS.items():
            pattern = re.escape(template).replace(r"\{0\}", "([0-9.eE+-]+)").replace(r"\{1\}", "([0-9.eE+-]+)")
            match = re.fullmatch(pattern, spec.strip())
            if match:
                self.preset.setCurrentText(name)
                for box, value in zip(self.scales, match.groups(), strict=False):
                    box.setValue(float(value))
                if self.text.text() == spec.strip():
                    return
        self.preset.setCurrentText(CUSTOM)
        self.text.setText(spec)

    def _preset_changed(self, name: str) -> None:
        custom = name == CUSTOM
        fractions = () if custom else PRESETS[name][1]
        for i, box in enumerate(self.scales):
            used = i < len(fractions)
            self._form.setRowVisible(box, used)
            if used:
                box.blockSignals(True)
                box.setValue(fractions[i] * self.shape_size)
                box.blockSignals(False)
        self.text.setReadOnly(False)
        if not custom:
            self._write_string()

    def _write_string(self) -> None:
        name = self.preset.currentText()
        if name == CUSTOM:
            return
        template, fractions = PRESETS[name]
        values = [_fmt(box.value()) for box in self.scales[: len(fractions)]]
        self.text.blockSignals(True)
        self.text.setText(template.format(*values))
        self.text.blockSignals(False)
        self._validate(self.text.text())

    def _validate(self, spec: str) -> None:
        if self.sender() is self.text and self.preset.currentText() != CUSTOM and spec != self._preset_string():
            self.preset.blockSignals(True)
            self.preset.setCurrentText(CUSTOM)
            self.preset.blockSignals(False)
            self._preset_changed(CUSTOM)
        try:
            self.kernel = parse_kernel(spec)
        except KernelSpecError as exc:
            self.kernel = None
            self.error.setText(f"<span style='color:#b00020'>{escape(exc.short, quote=False)}</span>")
        else:
            self.error.setText(f"<span style='color:#2e7d32'>k = {escape(str(self.kernel), quote=False)}</span>")
        self.plot.show_kernel(self.kernel, self.shape_size)
        self.kernel_changed.emit(self.kernel)

    def _preset_string(self) -> str:
        template, fractions = PRESETS[self.preset.currentText()]
        return template.format(*(_fmt(box.value()) for box in self.scales[: len(fractions)]))
