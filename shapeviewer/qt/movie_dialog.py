"""Movie options: size, frames per second, frames per time step, ping-pong, overlay, colouring, caption."""

from __future__ import annotations

from PySide6.QtWidgets import QCheckBox, QComboBox, QDialog, QDialogButtonBox, QFormLayout, QLineEdit, QSpinBox

from ..render.movie import MovieSettings, parse_size

SIZES = ("1280x720", "1920x1080", "854x480", "1080x1080", "640x360")


class MovieDialog(QDialog):
    def __init__(self, parent=None, caption: str = ""):
        super().__init__(parent)
        self.setWindowTitle("Export movie")
        self.size_box = QComboBox()
        self.size_box.addItems(SIZES)
        self.size_box.setToolTip("Width x height in pixels (even numbers for MP4)")
        self.fps = QSpinBox()
        self.fps.setRange(1, 120)
        self.fps.setValue(30)
        self.frames_per_step = QSpinBox()
        self.frames_per_step.setRange(1, 100)
        self.frames_per_step.setValue(4)
        self.frames_per_step.setToolTip("Movie frames per time step of the geodesic, interpolated in between")
        self.duration = QLineEdit()
        self.duration.setReadOnly(True)
        self.pingpong = QCheckBox("Forward then back (ping-pong)")
        self.target = QCheckBox("Translucent target")
        self.target.setChecked(True)
        self.displacement = QCheckBox("Colour by displacement")
        self.displacement.setChecked(True)
        self.caption = QLineEdit(caption)
        self.caption.setToolTip("Text in the upper left corner (empty: none)")
        form = QFormLayout(self)
        form.addRow("Size", self.size_box)
        form.addRow("Frames per second", self.fps)
        form.addRow("Frames per time step", self.frames_per_step)
        form.addRow("Duration", self.duration)
        for box in (self.pingpong, self.target, self.displacement):
            form.addRow(box)
        form.addRow("Caption", self.caption)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)
        self.n_steps = getattr(getattr(parent, "playback", None), "n_frames", 2) - 1
        for w in (self.fps, self.frames_per_step):
            w.valueChanged.connect(self._show_duration)
        self.pingpong.toggled.connect(self._show_duration)
        self._show_duration()

    def _show_duration(self, *_):
        frames = self.n_steps * self.frames_per_step.value() * (2 if self.pingpong.isChecked() else 1) + 1
        self.duration.setText(f"{frames} frames, {frames / self.fps.value():.1f} s")

    def settings(self) -> MovieSettings:
        return MovieSettings(
            size=parse_size(self.size_box.currentText()),
            fps=self.fps.value(),
            frames_per_step=self.frames_per_step.value(),
            pingpong=self.pingpong.isChecked(),
            show_target=self.target.isChecked(),
            color_by_displacement=self.displacement.isChecked(),
            caption=self.caption.text(),
        )
