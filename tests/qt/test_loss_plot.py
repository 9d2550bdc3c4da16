"""The convergence plot: readable before, during and after a run, with whole-iteration ticks, a line per
level, the best iteration marked and a summary that says what the curves mean."""

import numpy as np

from shapeviewer.core.registration import Report
from shapeviewer.document import LossHistory
from shapeviewer.qt.plots import LossPlot


def report(i: int, level: int = 1, levels: int = 1) -> Report:
    return Report(i, 1.0 / (i + 1), 0.5 / (i + 1), 0.0, 0.0, None, np.zeros((1, 3)), level=level, levels=levels,
                  level_vertices=2000 * 5**level, fidelity_initial=1.0)  # fmt: skip


def title(plot) -> str:
    return plot.getPlotItem().titleLabel.text


def test_axes_follow_a_long_run_after_the_empty_start(qtbot):
    plot = LossPlot()
    qtbot.addWidget(plot)
    plot.show()
    (x0, x1), _ = plot.getPlotItem().viewRange()
    assert x0 <= 0 and 10 <= x1 < 12  # empty: sensible axes before the first run
    assert "appears here during a run" in title(plot)
    plot.show_history(LossHistory(), phase="running")
    assert "setting up" in title(plot)  # not "press Run" while the run sets up
    history = LossHistory()
    for i in range(101):
        history.add(report(i))
    plot.show_history(history)
    qtbot.waitUntil(lambda: plot.getPlotItem().viewRange()[0][1] >= 100, timeout=2_000)
    (x0, x1), (y0, y1) = plot.getPlotItem().viewRange()
    assert x0 <= 0 and y0 <= np.log10(100 * 0.5 / 101) and y1 >= 2  # log10 of %: all of 0.5% .. 100% in view
    ticks = plot.getPlotItem().getAxis("bottom").tickValues(0, 100, 400)
    assert all(float(v).is_integer() for _spacing, values in ticks for v in values)  # whole iterations
    assert "best: iteration 100" in title(plot)
    plot.show_history(LossHistory(), phase="ended")
    assert "ended before its first iteration" in title(plot)  # a failure leaves words, not blank axes
    assert plot.getPlotItem().viewRange()[0][1] < 12


def test_a_line_marks_where_each_level_begins(qtbot):
    plot = LossPlot()
    qtbot.addWidget(plot)
    history = LossHistory()
    for i, level in [(0, 1), (1, 1), (2, 1), (2, 2), (3, 2), (3, 3)]:
        history.add(report(i, level, 3))
    plot.show_history(history)
    assert [line.value() for line in plot.level_lines] == [0, 2, 3]
    assert [line.label.toPlainText() for line in plot.level_lines] == ["level 1: 10k", "level 2: 50k", "level 3: 250k"]
    plot.refresh()
    assert len(plot.level_lines) == 3  # drawn once, not again at every refresh
    old = list(plot.level_lines)
    plot.show_history(LossHistory())
    assert plot.level_lines == [] and not any(line in plot.getPlotItem().items for line in old)


def test_a_level_label_at_the_right_edge_stays_inside_the_plot(qtbot):
    """A level that has just begun has its line at the last iteration, the right edge of the view: its label
    goes to the line's left there instead of being cut off (and to the right of a line further left)."""
    plot = LossPlot()
    qtbot.addWidget(plot)
    plot.resize(420, 260)
    plot.show()
    history = LossHistory()
    for i in range(21):
        history.add(report(i, 1, 2))
    history.add(report(20, 2, 2))
    plot.show_history(history)
    qtbot.waitUntil(lambda: plot.getPlotItem().viewRange()[0][1] >= 20, timeout=2_000)
    qtbot.wait(50)
    box = plot.getPlotItem().getViewBox()
    inside = box.mapRectToScene(box.boundingRect())
    for line in plot.level_lines:
        label = line.label.mapRectToScene(line.label.boundingRect())
        assert inside.left() - 1 <= label.left() and label.right() <= inside.right() + 1, line.label.toPlainText()


def test_the_landmark_term_is_its_own_curve_not_deformation_cost(qtbot):
    plot = LossPlot()
    qtbot.addWidget(plot)
    history = LossHistory()
    for i, (fidelity, landmarks) in enumerate([(1.0, 0.5), (0.4, 0.2), (0.1, 0.05)]):
        energy = 0.01 * i
        history.add(Report(i, fidelity + energy + landmarks, fidelity, 0.0, 0.0, None, np.zeros((1, 3)),
                           fidelity_initial=1.0, landmark_term=landmarks))  # fmt: skip
    plot.show_history(history)
    np.testing.assert_allclose(history.series["energy"], [0.0, 0.01, 0.02], atol=1e-12)
    np.testing.assert_allclose(plot.curves["landmarks"].getData()[1], np.log10([50.0, 20.0, 5.0]))  # log axis
    text = title(plot)
    assert "deformation cost 11.8% of the loss" in text and "landmarks 29.4% of the loss" in text  # of 0.17
