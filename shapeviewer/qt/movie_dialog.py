"""Movie options: size, frames per second, frames per time step, ping-pong, overlay, colouring, caption."""

from __future__ import annotations

import warnings

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
)

from ..render.movie import MovieSettings, parse_size
from . import settings_store
from .wheel_guard import guard_wheel

SIZES = ("1280x720", "1920x1080", "854x480", "1080x1080", "640x360")
DEFAULTS = MovieSettings()  # the command line's defaults too: written once, in render/movie.py


class MovieDialog(QDialog):
    def __init__(self, parent=None, caption: str = ""):
        super().__init__(parent)
        self.setWindowTitle("Export movie")
        self.size_box = QComboBox()
        self.size_box.addItems(SIZES)
        self.size_box.setCurrentText("{}x{}".format(*DEFAULTS.size))
        self.size_box.setToolTip("Width x height in pixels (even numbers for MP4)")
        self.fps = QSpinBox()
        self.fps.setRange(1, 120)
        self.fps.setValue(DEFAULTS.fps)
        self.frames_per_step = QSpinBox()
        self.frames_per_step.setRange(1, 100)
        self.frames_per_step.setValue(DEFAULTS.frames_per_step)
        self.frames_per_step.setToolTip("Movie frames per time step of the geodesic, interpolated in between")
        self.duration = QLabel()  # a read-only value: Tab does not stop on it
        self.duration.setObjectName("movieDuration")
        self.pingpong = QCheckBox("Forward then back (ping-pong)")
        self.pingpong.setChecked(DEFAULTS.pingpong)
        self.target = QCheckBox("Translucent target")
        self.target.setChecked(DEFAULTS.show_target)
        self.displacement = QCheckBox("Colour by displacement")
        self.displacement.setChecked(DEFAULTS.color_by_displacement)
        self.time_label = QCheckBox("Time label (t = 0 to 1)")
        self.time_label.setChecked(DEFAULTS.time_label)
        self.time_label.setToolTip("Where along the geodesic each frame is, in the upper right corner")
        self.caption = QLineEdit(caption)
        self.caption.setToolTip("Text in the upper left corner (empty: none)")
        self.caption.setMinimumWidth(380)
        form = QFormLayout(self)
        form.addRow("Size", self.size_box)
        form.addRow("Frames per second", self.fps)
        form.addRow("Frames per time step", self.frames_per_step)
        form.addRow("Duration", self.duration)
        for box in (self.pingpong, self.target, self.displacement, self.time_label):
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
        self._restore()
        self.accepted.connect(self._remember)
        guard_wheel(self)
        self._show_duration()

    def _boxes(self) -> dict:
        return {"size": self.size_box, "fps": self.fps, "frames_per_step": self.frames_per_step,
                "pingpong": self.pingpong, "target": self.target, "displacement": self.displacement,
                "time_label": self.time_label}  # fmt: skip

    def _restore(self) -> None:
        """The options of the last export (the caption is the run's own, so it is not remembered)."""
        for key, box in self._boxes().items():
            value = settings_store.app_settings().value(f"movie/{key}")
            if value is None:
                continue
            if isinstance(box, QComboBox):
                box.setCurrentText(str(value))
            elif isinstance(box, QCheckBox):
                box.setChecked(str(value).lower() == "true")
            elif str(value).isdigit():
                box.setValue(int(value))
            else:
                warnings.warn(f"ignored the stored movie option {key}={value!r} (not a whole number)", stacklevel=2)

    def _remember(self) -> None:
        store = settings_store.app_settings()
        for key, box in self._boxes().items():
            value = box.currentText() if isinstance(box, QComboBox) else box.isChecked() if isinstance(
                box, QCheckBox) else box.value()  # fmt: skip
            store.setValue(f"movie/{key}", value)

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
            time_label=self.time_label.isChecked(),
        )
