"""The convergence plot follows the iterations as they come, after showing empty axes."""

import numpy as np

from shapeviewer.core.registration import Report
from shapeviewer.qt.plots import LossPlot


def report(i: int, level: int = 1, levels: int = 1) -> Report:
    return Report(i, 1.0 / (i + 1), 0.5 / (i + 1), 0.0, 0.0, None, np.zeros((1, 3)), level=level, levels=levels,
                  level_vertices=2000 * 5**level, fidelity_initial=1.0)  # fmt: skip


def test_axes_follow_a_long_run_after_the_empty_start(qtbot):
    plot = LossPlot()
    qtbot.addWidget(plot)
    plot.show()
    (x0, x1), _ = plot.getPlotItem().viewRange()
    assert x0 <= 0 and 10 <= x1 < 12  # empty: sensible axes before the first run
    for i in range(101):
        plot.add(report(i))
    plot.refresh()
    qtbot.waitUntil(lambda: plot.getPlotItem().viewRange()[0][1] >= 100, timeout=2_000)
    (x0, x1), (y0, y1) = plot.getPlotItem().viewRange()
    assert x0 <= 0 and y0 <= -2.3 and y1 >= 0  # log10 axis: all of 0.005 .. 1 is in view
    plot.reset()
    assert plot.getPlotItem().viewRange()[0][1] < 12


def test_a_line_marks_where_each_level_begins(qtbot):
    plot = LossPlot()
    qtbot.addWidget(plot)
    for i, level in [(0, 1), (1, 1), (2, 1), (2, 2), (3, 2), (3, 3)]:
        plot.add(report(i, level, 3))
    plot.refresh()
    assert [line.value() for line in plot.level_lines] == [0, 2, 3]
    assert [line.label.toPlainText() for line in plot.level_lines] == ["level 1: 10k", "level 2: 50k", "level 3: 250k"]
    plot.refresh()
    assert len(plot.level_lines) == 3  # drawn once, not again at every refresh
    old = list(plot.level_lines)
    plot.reset()
    assert plot.level_lines == [] and not any(line in plot.getPlotItem().items for line in old)
