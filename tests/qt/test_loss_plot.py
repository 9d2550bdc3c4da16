"""The convergence plot follows the iterations as they come, after showing empty axes."""

from shapeviewer.qt.plots import LossPlot


def test_axes_follow_a_long_run_after_the_empty_start(qtbot):
    plot = LossPlot()
    qtbot.addWidget(plot)
    plot.show()
    (x0, x1), _ = plot.getPlotItem().viewRange()
    assert x0 <= 0 and 10 <= x1 < 12  # empty: sensible axes before the first run
    for i in range(101):
        plot.add(i, 1.0 / (i + 1), 0.5 / (i + 1), 0.0, {})
    plot.refresh()
    qtbot.waitUntil(lambda: plot.getPlotItem().viewRange()[0][1] >= 100, timeout=2_000)
    (x0, x1), (y0, y1) = plot.getPlotItem().viewRange()
    assert x0 <= 0 and y0 <= -2.3 and y1 >= 0  # log10 axis: all of 0.005 .. 1 is in view
    plot.reset()
    assert plot.getPlotItem().viewRange()[0][1] < 12
