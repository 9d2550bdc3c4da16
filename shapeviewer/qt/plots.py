"""Small pyqtgraph plots: the kernel profile k(r) and the loss history (drawn by Qt, cheap to update)."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg

SOURCE_PEN = pg.mkPen("#e8833a", width=2)
pg.setConfigOptions(antialias=True, background="w", foreground="#333")


class KernelProfilePlot(pg.PlotWidget):
    """k(r) against the distance r; dashed lines at each sigma, a dotted one at the shape size."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setMenuEnabled(False)
        self.setMouseEnabled(False, False)
        self.hideButtons()
        item = self.getPlotItem()
        item.setLabel("bottom", "distance r (dashed: sigma, dotted: shape size)")
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
            self.message.setPos(0.5, 0.5)
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
    """Loss and its two terms per iteration (log scale): fidelity / initial and gamma H / H_unit."""

    COLORS = {"loss": "#000000", "fidelity / initial": "#3f7fd8", "gamma H / H_unit": "#e8833a"}

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setMenuEnabled(False)
        item = self.getPlotItem()
        item.setLogMode(False, True)
        item.setLabel("bottom", "iteration")
        item.showGrid(x=True, y=True, alpha=0.2)
        item.addLegend(offset=(-10, 2), labelTextSize="8pt", verSpacing=-6)
        self.curves = {n: item.plot([], [], pen=pg.mkPen(c, width=2), name=n) for n, c in self.COLORS.items()}
        self.reset()

    def reset(self) -> None:
        for line in getattr(self, "level_lines", []):
            self.getPlotItem().removeItem(line)
        self.level_lines: list = []
        self.iterations: list[int] = []
        self.series: dict[str, list[float]] = {name: [] for name in self.COLORS}
        self.level_starts: list[tuple[int, int, int]] = []  # (iteration, level, vertices) where a level begins
        self.refresh()

    def add(self, rep) -> None:
        """One report (core.registration.Report): its loss, fidelity relative to its level's start, energy."""
        if rep.levels > 1 and (not self.level_starts or self.level_starts[-1][1] != rep.level):
            self.level_starts.append((rep.iteration, rep.level, rep.level_vertices))
        self.iterations.append(rep.iteration)
        fid = rep.fidelity / rep.fidelity_initial if rep.fidelity_initial > 0 else rep.fidelity
        self.series["loss"].append(rep.loss)
        self.series["fidelity / initial"].append(fid)
        self.series["gamma H / H_unit"].append(rep.loss - fid)

    def refresh(self) -> None:
        """Show the stored series (log axis: the zero energy at p0 = 0 is left out), a line per level."""
        x = np.asarray(self.iterations, dtype=float)
        for name, curve in self.curves.items():
            y = np.asarray(self.series[name], dtype=float)
            keep = y > 0
            curve.setData(x[keep], y[keep])
        item = self.getPlotItem()
        pen = pg.mkPen("#888", style=pg.QtCore.Qt.PenStyle.DashLine)
        for it, lv, n in self.level_starts[len(self.level_lines) :]:
            label = {"position": 0.9, "color": "#555"}
            self.level_lines.append(item.addLine(x=it, pen=pen, label=f"level {lv}: {n // 1000}k", labelOpts=label))
        item.setTitle("" if self.iterations else "press Run to register", color="#888", size="9pt")
        if not self.iterations:
            item.setXRange(0, 10)
            item.setYRange(-4, 0)  # log10 units: 1e-4 .. 1 before any data
        else:
            item.enableAutoRange()  # setting a range turned it off: follow the data again
