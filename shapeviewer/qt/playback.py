"""Playback of the geodesic's T+1 frames on a GUI timer: play/pause, loop or ping-pong, speed, stepping."""

from __future__ import annotations

import time

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QSlider, QSpinBox, QToolButton, QWidget

MODES = ("loop", "ping-pong", "once")
# While playing, the slider and label follow at most this often: each change of theirs makes Qt
# compose the whole window again, which would cost the 3D view a few ms of every frame.
FOLLOW_INTERVAL_S = 0.1
_clock = time.monotonic


class Playback(QObject):
    """The frame index and its timer; ``frame_changed(index)`` fires on every change."""

    frame_changed = Signal(int)
    playing_changed = Signal(bool)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.n_frames = 1
        self.index = 0
        self.mode = "loop"
        self.direction = 1
        self.timer = QTimer(self)
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.timeout.connect(self._tick)
        self.set_fps(30)

    @property
    def playing(self) -> bool:
        return self.timer.isActive()

    def set_fps(self, fps: int) -> None:
        self.fps = max(1, int(fps))
        self.timer.setInterval(round(1000 / self.fps))

    def set_frame_count(self, n: int) -> None:
        self.n_frames = max(1, int(n))
        if self.index >= self.n_frames:
            self.seek(self.n_frames - 1)

    def seek(self, index: int) -> None:
        index = max(0, min(int(index), self.n_frames - 1))
        if index != self.index:
            self.index = index
            self.frame_changed.emit(index)

    def step(self, delta: int) -> None:
        self.seek(self.index + delta)

    def play(self) -> None:
        if self.n_frames < 2 or self.playing:
            return
        if self.mode == "once" and self.index == self.n_frames - 1:
            self.seek(0)
        self.timer.start()
        self.playing_changed.emit(True)

    def pause(self) -> None:
        if self.playing:
            self.timer.stop()
            self.playing_changed.emit(False)

    def toggle(self) -> None:
        self.pause() if self.playing else self.play()

    def _tick(self) -> None:
        last = self.n_frames - 1
        nxt = self.index + self.direction
        if 0 <= nxt <= last:
            self.seek(nxt)
        elif self.mode == "loop":
            self.seek(0 if self.direction > 0 else last)
        elif self.mode == "ping-pong" and last > 0:
            self.direction = -self.direction
            self.seek(self.index + self.direction)
        else:
            self.pause()


class PlaybackBar(QWidget):
    """Buttons, slider and options bound to a :class:`Playback`."""

    def __init__(self, playback: Playback, parent=None):
        super().__init__(parent)
        self.playback = playback
        self.back = self._button("◀|", "Previous frame (,)", lambda: playback.step(-1))
        self.play = self._button("▶", "Play / pause (Space)", playback.toggle)
        self.forward = self._button("|▶", "Next frame (.)", lambda: playback.step(1))
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setObjectName("timeline")
        self.slider.setToolTip("Time along the geodesic, frame 0 (source) to T (deformed)")
        self.slider.valueChanged.connect(playback.seek)
        self.label = QLabel("t = 0/0")
        self.label.setMinimumWidth(70)
        self.mode = QComboBox()
        self.mode.addItems(MODES)
        self.mode.setToolTip("What happens at the last frame")
        self.mode.currentTextChanged.connect(self._set_mode)
        self.fps = QSpinBox()
        self.fps.setRange(1, 120)
        self.fps.setValue(playback.fps)
        self.fps.setSuffix(" fps")
        self.fps.setToolTip("Playback speed in frames per second")
        self.fps.valueChanged.connect(playback.set_fps)
        row = QHBoxLayout(self)
        row.setContentsMargins(4, 0, 4, 0)
        for w in (self.back, self.play, self.forward, self.slider, self.label, self.mode, self.fps):
            row.addWidget(w, 1 if w is self.slider else 0)
        self._shown_at = -float("inf")
        playback.frame_changed.connect(self._follow)
        playback.playing_changed.connect(self._playing_changed)
        self.set_frame_count(1)

    def _button(self, text, tip, slot) -> QToolButton:
        b = QToolButton()
        b.setText(text)
        b.setToolTip(tip)
        b.clicked.connect(slot)
        return b

    def _set_mode(self, mode: str) -> None:
        self.playback.mode = mode
        self.playback.direction = 1

    def _playing_changed(self, playing: bool) -> None:
        self.play.setText("❚❚" if playing else "▶")
        if not playing:
            self.show_index(self.playback.index)

    def _follow(self, index: int) -> None:
        if not self.playback.playing or _clock() - self._shown_at >= FOLLOW_INTERVAL_S:
            self.show_index(index)

    def set_frame_count(self, n: int) -> None:
        self.playback.set_frame_count(n)
        self.slider.setRange(0, self.playback.n_frames - 1)
        self.show_index(self.playback.index)
        self.setEnabled(self.playback.n_frames > 1)

    def show_index(self, index: int) -> None:
        self.slider.blockSignals(True)
        self.slider.setValue(index)
        self.slider.blockSignals(False)
        self.label.setText(f"t = {index}/{self.playback.n_frames - 1}")
        self._shown_at = _clock()
