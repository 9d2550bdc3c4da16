"""Small pyqtgraph plots: the kernel profile k(r) and the loss history (drawn by Qt, cheap to update)."""

from __future__ import annotations

import html

import numpy as np
import pyqtgraph as pg

from ..document.history import LossHistory
from ..document.wording import mismatch_change, percent, vertex_count

SOURCE_PEN = pg.mkPen("#e8833a", width=2)
pg.setConfigOptions(antialias=True, background="w", foreground="#333")
_widget_group_auto_add = pg.WidgetGroup.autoAdd


def _auto_add_qobjects_only(group, obj) -> None:
    """pyqtgraph's WidgetGroup.autoAdd (run on every PlotItem's hidden controls), skipping a child that
    PySide hands back as a non-QObject wrapper: once in the suite a child came back as a QSurface (shiboken
    reusing a destroyed offscreen surface's wrapper at the same address) and the window failed to build."""
    if hasattr(obj, "children"):
        _widget_group_auto_add(group, obj)


pg.WidgetGroup.autoAdd = _auto_add_qobjects_only


class KernelProfilePlot(pg.PlotWidget):
    """k(r) against the distance r; dashed lines at each sigma, a dotted one at the shape size."""

    def __init__(self, parent=None):
        super().__init__(parent, enableMenu=False)  # no menu made (making then dropping one crashed, rarely)
        self.setMouseEnabled(False, False)
        self.hideButtons()
        item = self.getPlotItem()
        item.setLabel("bottom", "r  (dashed: sigma; dotted: shape size)")
        item.setLabel("left", "k(r)")
        self.curve = item.plot([], [], pen=SOURCE_PEN)
        self.marks: list = []
        self.line: tuple[np.ndarray, np.ndarray] | None = None
        self.message = pg.TextItem("", color="#b00020", anchor=(0.5, 0.5))
        item.addItem(self.message, ignoreBounds=True)

    def show_kernel(self, kernel, shape_size: float | None) -> None:
        import torch

        item = self.getPlotItem()
        for mark in self.marks:
            item.removeItem(mark)
        self.marks = []
        if kernel is None:
            self.curve.setData([], [])
            self.line = None
            self.message.setText("invalid kernel")
            (x0, x1), (y0, y1) = item.viewRange()
            self.message.setPos((x0 + x1) / 2, (y0 + y1) / 2)  # in the middle of what is shown
            return
        self.message.setText("")
        r_max = max(3 * kernel.largest_scale, 1.1 * (shape_size or 0.0))
        r = torch.linspace(0, r_max, 200, dtype=torch.float64)
        k = kernel.profile(r).numpy()
        self.line = (r.numpy(), k)
        self.curve.setData(r.numpy(), k)
        for t in kernel.terms:
            self.marks.append(item.addLine(x=t.sigma, pen=pg.mkPen("#888", style=pg.QtCore.Qt.PenStyle.DashLine)))
        if shape_size:
            self.marks.append(item.addLine(x=shape_size, pen=pg.mkPen("#3f7fd8", style=pg.QtCore.Qt.PenStyle.DotLine)))
        item.setXRange(0, r_max, padding=0)
        item.setYRange(0, max(float(k.max()), 1e-12) * 1.05, padding=0)


class LossPlot(pg.PlotWidget):
    """The document's loss history, readable at a glance: the mismatch left and the deformation cost as %
    of the initial mismatch (log axis), the loss dashed on top, a line where each level begins, a dot at
    the best iteration, and a one-line summary that doubles as the legend."""

    CURVES = {  # series: (label, colour, width, dashed)
        "fidelity": ("mismatch left", "#3f7fd8", 3, False),
        "energy": ("deformation cost", "#e8833a", 2, False),
        "landmarks": ("landmark mismatch", "#8e44ad", 2, False),  # 0, so not drawn, without landmarks
        "loss": ("loss", "#000000", 1.5, True),
    }
    REDRAW_DELAY_MS = 30  # the plot redraws after the 3D paint, in its own event-loop turn
    Y_FLOOR_PERCENT = 1e-3  # the margin under the lowest value stops here; a curve below it is still shown

    def __init__(self, parent=None):
        super().__init__(parent, enableMenu=False, axisItems={"left": _PercentLogAxis("left")})
        self.setMinimumHeight(170)
        item = self.getPlotItem()
        item.setLogMode(False, True)
        item.setLabel("bottom", "iteration")
        item.setLabel("left", "% of initial mismatch")
        item.showGrid(x=True, y=True, alpha=0.2)
        self.curves = {}
        for name, (_label, colour, width, dashed) in self.CURVES.items():
            style = pg.QtCore.Qt.PenStyle.DashLine if dashed else pg.QtCore.Qt.PenStyle.SolidLine
            self.curves[name] = item.plot([], [], pen=pg.mkPen(colour, width=width, style=style))
        self.curves["loss"].setZValue(10)  # never hidden under the mismatch it nearly equals
        self.best = item.plot([], [], pen=None, symbol="o", symbolSize=9, symbolBrush="#2e7d32")
        self.level_lines: list = []
        self.history = self._lines_of = LossHistory()
        self.phase = "idle"  # idle | running | ended
        self.redraw = pg.QtCore.QTimer(self)
        self.redraw.setSingleShot(True)
        self.redraw.setInterval(self.REDRAW_DELAY_MS)
        self.redraw.timeout.connect(self.refresh)
        self.refresh()

    def observe(self, doc) -> None:
        """Follow ``doc``'s loss history and run state (a psygnal-evented document)."""
        self.doc = doc
        doc.history_changed.connect(self._history_changed)
        doc.run_changed.connect(self._run_changed)

    def _history_changed(self) -> None:
        self.history = self.doc.history
        if not len(self.history) and not self.doc.running:
            self.phase = "idle"  # a result dropped (new meshes, a new alignment): no run "ended" here
        self.redraw.start()

    def _run_changed(self, running: bool) -> None:
        self.phase = "running" if running else "ended"
        self.refresh()

    def show_history(self, history: LossHistory, phase: str = "ended") -> None:
        self.history, self.phase = history, phase
        self.refresh()

    def refresh(self) -> None:
        h = self.history
        item = self.getPlotItem()
        x = np.asarray(h.iterations, dtype=float)
        for name, curve in self.curves.items():
            y = 100 * np.asarray(h.series[name], dtype=float)
            keep = y > 0  # log axis: the zero energy at p0 = 0 is left out, and what was not recorded (NaN)
            curve.setData(x[keep], y[keep])
            # recorded at some iterations only (a result folder keeps the final mismatch and cost): dots
            curve.setSymbol("o" if np.isnan(y).any() else None)
            curve.setSymbolBrush(self.CURVES[name][1])
            curve.setSymbolPen(None)
        if self._lines_of is not h:  # a new history: the lines of the old one go
            for line in self.level_lines:
                item.removeItem(line)
            self.level_lines, self._lines_of = [], h
        pen = pg.mkPen("#888", style=pg.QtCore.Qt.PenStyle.DashLine)
        for start in h.level_starts[len(self.level_lines) :]:
            label = f"level {start.level}: {vertex_count(start.vertices)}"
            # right of its line, or left of it where the line is in the right half of the view (a new level)
            opts = {"position": 0.92, "color": "#555", "anchors": [(0, 0), (1, 0)]}
            self.level_lines.append(item.addLine(x=start.iteration, pen=pen, label=label, labelOpts=opts))
        k = h.best_index()
        best = None if k is None else h.iterations[k]
        if k is None or not h.series["loss"][k] > 0:  # none yet, or a loss of 0 that a log axis cannot show
            self.best.setData([], [])
        else:
            self.best.setData([best], [100 * h.series["loss"][k]])
        item.setTitle(self._summary(best), size="9pt")
        self._axes()

    def _summary(self, best: int | None) -> str:
        h = self.history
        if not len(h):
            return {
                "idle": "<span style='color:#888'>the loss of each iteration appears here during a run</span>",
                "running": "<span style='color:#888'>setting up the registration…</span>",
                "ended": "<span style='color:#b00020'>the run ended before its first iteration</span>",
            }[self.phase]
        fid, energy, marks, loss = (h.series[k][-1] for k in ("fidelity", "energy", "landmarks", "loss"))
        c = {name: spec[1] for name, spec in self.CURVES.items()}
        mismatch = mismatch_change(fid) if np.isfinite(fid) else "not recorded"
        if not (np.isfinite(energy) and np.isfinite(loss)):
            cost = "not recorded"
        elif loss > 0:
            cost = f"{percent(100 * energy / loss)} of the loss"
        else:
            cost = ""  # a loss of 0 (identical meshes): no share to give
        parts = [
            f"<span style='color:{c['fidelity']}'>mismatch {html.escape(mismatch)}</span>",
            f"<span style='color:{c['energy']}'>deformation cost {html.escape(cost)}</span>" if cost else "",
            f"<span style='color:{c['landmarks']}'>landmarks {percent(100 * marks / loss)} of the loss</span>"
            if loss > 0 and marks > 0
            else "",
            f"<span style='color:#2e7d32'>● best: iteration {best}</span>"
            if best is not None
            else "<span style='color:#888'>best iteration not recorded</span>",
        ]
        if h.level_starts:
            parts.append(f"level {h.level_starts[-1].level}")
        parts.append("<span style='color:#000'>- - loss</span>")
        names = {"fidelity": "mismatch", "energy": "cost"}
        partial = [name for k, name in names.items() if np.isnan(h.series[k][:-1]).any()]
        if partial:  # e.g. a result folder: the final values only
            parts.append(f"<span style='color:#888'>{' and '.join(partial)} per iteration not recorded</span>")
        return " · ".join(p for p in parts if p)

    def _axes(self) -> None:
        item = self.getPlotItem()
        axis = item.getAxis("bottom")
        if not len(self.history):
            axis.setTickSpacing()
            item.setXRange(0, 10)
            item.setYRange(0, 2)  # log10 of %: 1% .. 100% before any data
            return
        last = max(self.history.iterations[-1], 1)
        step = max(1, int(np.ceil(last / 8)))
        axis.setTickSpacing(step, step)  # whole iterations only
        item.enableAutoRange(axis="x")  # follow the iterations again after a fixed range
        # every positive value of every curve in view; the margin under the lowest stops at Y_FLOOR_PERCENT
        shown = 100 * np.concatenate([np.asarray(v, dtype=float) for v in self.history.series.values()])
        shown = shown[np.isfinite(shown) & (shown > 0)]
        if shown.size:
            low = np.log10(min(shown.min() / 1.2, max(shown.min() / 2, self.Y_FLOOR_PERCENT)))
            high = np.log10(shown.max())
            high += max(np.log10(1.5), 0.08 * (high - low))  # room for the top label when many decades show
            item.setYRange(low, high, padding=0)


class _PercentLogAxis(pg.AxisItem):
    """Log axis labelled in one style: plain numbers from 0.01 up (0.01, 0.1, 1, 10, 100), then 1e-3, 1e-4...;
    decades only, unless less than a decade and a half shows."""

    def logTickStrings(self, values, scale, spacing):  # noqa: N802 (pyqtgraph name)
        low, high = self.range
        short = high - low < 1.5  # less than about a decade and a half: 2 and 5 labelled as well
        return [_tick_label(v) if _round_number(v, (1, 2, 5) if short else (1,)) else "" for v in values]


PLAIN_FROM_DECADE = -2  # 0.01 is the smallest tick written out; below, 1e-3, 2e-4...


def _tick_label(log_value: float) -> str:
    """10**log_value, a round number m x 10^k: '0.05', '1', '200'; '1e-3', '5e-4' below 0.01."""
    k = int(np.floor(log_value + 1e-9))
    m = int(round(10 ** (log_value - k)))
    if m == 10:  # rounding up to the next decade
        m, k = 1, k + 1
    return f"{m * 10.0**k:.{max(0, -k)}f}" if k >= PLAIN_FROM_DECADE else f"{m}e{k}"


def _round_number(log_value: float, mantissas: tuple[int, ...]) -> bool:
    """Whether 10**log_value is m x 10^k for one of ``mantissas`` (to rounding)."""
    mantissa = 10 ** (log_value - np.floor(log_value + 1e-9))
    return any(abs(mantissa - m) < 1e-6 * m for m in mantissas)
