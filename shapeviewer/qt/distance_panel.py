"""The Distances tab: the histogram of the surface distances of the frame shown, both ways, and the numbers
users cite (mean, RMS, 95th percentile, maximum; the symmetric Hausdorff distance)."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QHBoxLayout, QLabel, QWidget

from ..core.surface_distance import DistanceSummary, SurfaceDistances
from ..render.scene import SOURCE_COLOR, TARGET_COLOR
from .distance_map import DistanceMap, FrameDistances

BINS = 40
PLAYING_REFRESH_MS = 100  # while playing, the tab follows at most this often (each change re-lays the window)
WAITING = "Distances of the frame shown: measured when the result view settles (playback paused, run ended)."


def _row(name: str, s: DistanceSummary, colour: str) -> str:
    cells = "".join(f"<td align='right'>&nbsp;{v:.4g}</td>" for v in (s.mean, s.rms, s.p95, s.max))
    return f"<tr><td style='color:{colour}'><b>{name}</b></td>{cells}</tr>"


def summary_html(d: FrameDistances) -> str:
    """The summary as shown: a small table of both directions, then the Hausdorff distance."""
    dist = d.distances
    head = "".join(f"<th align='right'>&nbsp;{h}</th>" for h in ("mean", "RMS", "95%", "max"))
    return (
        f"<b>Surface distances, frame {d.frame} of {d.n_frames - 1}</b> (mesh units, over vertices)"
        f"<table cellspacing='2'><tr><th></th>{head}</tr>"
        + _row("deformed → target", dist.source_summary, SOURCE_COLOR)
        + _row("target → deformed", dist.target_summary, TARGET_COLOR)
        + f"</table>Hausdorff distance (symmetric): <b>{dist.hausdorff:.4g}</b>"
    )


def histograms(dist: SurfaceDistances, bins: int = BINS) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(edges (bins+1,), % of source vertices per bin, % of target vertices per bin), on shared bins from 0."""
    top = max(dist.hausdorff, 1e-12)
    edges = np.linspace(0.0, top, bins + 1)
    shares = []
    for values in (dist.to_target, dist.to_source):
        counts = np.histogram(np.clip(values, 0.0, top), bins=edges)[0]
        shares.append(100.0 * counts / max(len(values), 1))
    return edges, shares[0], shares[1]


class DistancesPanel(QWidget):
    """Follows a :class:`DistanceMap`: summary on the left, histogram on the right."""

    def __init__(self, distances: DistanceMap, parent=None):
        super().__init__(parent)
        self.distances = distances
        self.summary = QLabel(WAITING)
        self.summary.setObjectName("distanceSummary")
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.summary.setMinimumWidth(360)
        self.plot = pg.PlotWidget(enableMenu=False)  # no menu made (making then dropping one crashed, rarely)
        self.plot.setMouseEnabled(False, False)
        self.plot.hideButtons()
        item = self.plot.getPlotItem()
        item.setLabel("bottom", "distance (mesh units)")
        item.setLabel("left", "% of vertices")
        item.showGrid(x=True, y=True, alpha=0.2)
        item.getAxis("bottom").enableAutoSIPrefix(False)  # the values as in the summary, no "(x0.001)"
        self.curves = {}
        for name, colour in (("source", SOURCE_COLOR), ("target", TARGET_COLOR)):
            fill = pg.mkColor(colour)
            fill.setAlpha(70)
            self.curves[name] = item.plot(
                [0, 1], [0], stepMode="center", fillLevel=0, brush=fill, pen=pg.mkPen(colour, width=2)
            )
        self.p95_lines = {
            name: item.addLine(x=0, pen=pg.mkPen(colour, style=Qt.PenStyle.DashLine))
            for name, colour in (("source", SOURCE_COLOR), ("target", TARGET_COLOR))
        }
        row = QHBoxLayout(self)
        row.addWidget(self.summary)
        row.addWidget(self.plot, 1)
        self._later = QTimer(self)
        self._later.setSingleShot(True)
        self._later.setInterval(PLAYING_REFRESH_MS)
        self._later.timeout.connect(self.refresh)
        distances.updated.connect(self._updated)
        distances.window.playback.playing_changed.connect(lambda playing: playing or self._updated())
        self.refresh()

    def _updated(self) -> None:
        """Numbers of another frame go at once; new numbers come at most every 100 ms while playing."""
        if self.distances.window.playback.playing and self.distances.current is not None:
            if not self._later.isActive():
                self._later.start()
        else:
            self._later.stop()
            self.refresh()

    def refresh(self) -> None:
        current = self.distances.current
        visible = current is not None
        for name in self.curves:
            self.p95_lines[name].setVisible(visible)
        if not visible:
            self.summary.setText(WAITING)
            for curve in self.curves.values():
                curve.setData([0, 1], [0])
            return
        self.summary.setText(summary_html(current) + "<br><small>dashed: 95th percentiles</small>")
        edges, source, target = histograms(current.distances)
        self.curves["source"].setData(edges, source)
        self.curves["target"].setData(edges, target)
        self.p95_lines["source"].setValue(current.distances.source_summary.p95)
        self.p95_lines["target"].setValue(current.distances.target_summary.p95)
        item = self.plot.getPlotItem()
        item.setXRange(0, edges[-1], padding=0.02)
        item.setYRange(0, max(float(source.max()), float(target.max()), 1e-9) * 1.05, padding=0)
