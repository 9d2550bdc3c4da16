"""The words and numbers around a run's end read one way only: the status bar keeps the run's summary (no notice
about surface distances covers it), and the Convergence tab's axis and summary line are labelled uniformly."""

import re

import numpy as np
from gui_helpers import quick_settings, run_to_end
from PySide6.QtGui import QImage, QPainter
from test_loss_plot_ranges import history_of

from shapeviewer.document import LossHistory
from shapeviewer.qt.plots import LossPlot


def shown_plot(qtbot, history: LossHistory) -> LossPlot:
    plot = LossPlot()
    plot.resize(900, 260)
    qtbot.addWidget(plot)
    plot.show()
    qtbot.waitExposed(plot)
    plot.show_history(history)
    return plot


def summary_line(plot) -> str:
    """The summary above the plot as drawn (rich text rendered to plain text)."""
    return plot.getPlotItem().titleLabel.item.toPlainText()


def y_labels(plot) -> list[str]:
    """The left axis's tick labels as the axis draws them, top to bottom."""
    axis = plot.getPlotItem().getAxis("left")
    image = QImage(10, 10, QImage.Format.Format_ARGB32)
    painter = QPainter(image)
    try:
        _axis, _ticks, texts = axis.generateDrawSpecs(painter)
    finally:
        painter.end()
    return [text for rect, _flags, text in sorted(texts, key=lambda spec: spec[0].top())]


PLAIN_OR_POWER = re.compile(r"^(\d+|0\.0?[1-9]|[1-9]e-\d)$")  # 100, 10, 1, 0.5, 0.01; 1e-3, 5e-4


def test_the_log_axis_labels_decades_in_one_style(qtbot):
    # a tiny change: 1% of the mismatch gone, a deformation cost of a millionth of a percent
    plot = shown_plot(qtbot, history_of(np.geomspace(1.0, 0.991, 4), [0.0, 5e-9, 1e-8, 2e-9]))
    labels = y_labels(plot)
    assert len(labels) >= 4 and "100" in labels and "1e-6" in labels, labels
    assert all(PLAIN_OR_POWER.match(text) for text in labels), labels  # no 0.0001, no 1e-06
    values = [float(text) for text in labels]
    assert values == sorted(values, reverse=True)
    ratios = np.diff(np.log10(values))
    np.testing.assert_allclose(ratios, ratios[0])  # evenly spaced decades


def test_the_summary_says_which_way_the_mismatch_went_and_small_shares_plainly(qtbot):
    plot = shown_plot(qtbot, history_of(np.geomspace(1.0, 0.991, 4), [0.0, 5e-9, 1e-8, 5e-9]))
    text = summary_line(plot)
    assert "mismatch down 0.9%" in text and "−" not in text
    assert "deformation cost < 0.01% of the loss" in text and "e-0" not in text
    plot.show_history(history_of([1.0, 1.03], [0.0, 0.0004]))
    text = summary_line(plot)
    assert "mismatch up 3.0%" in text and "deformation cost 0.04% of the loss" in text
    plot.show_history(history_of([1.0, 0.2], [0.0, 0.05]))
    assert "deformation cost 20.0% of the loss" in summary_line(plot)  # 0.05 / 0.25


def test_the_end_of_run_summary_stays_in_the_status_bar(window, qtbot):
    window.distances.sync_max_triangles = 0  # measured in the measuring process, as a large pair is
    quick_settings(window, iterations=3, steps=4)
    run_to_end(qtbot, window)
    summary = window.status_line.text()
    assert summary.startswith(("Converged:", "Finished:")), summary
    last = window.doc.result.n_frames - 1
    qtbot.waitUntil(lambda: window.distances.current is not None and window.distances.current.frame == last,
                    timeout=30_000)  # fmt: skip
    qtbot.wait(50)
    bar = window.statusBar()
    assert bar.currentMessage() == ""  # no notice over the status line
    assert window.status_line.isVisible() and window.status_line.text() == summary


def test_plot_controls_skip_a_child_that_is_no_qobject():
    """PySide once returned a plot control's child as a QSurface wrapper (no children()): building the
    window's plots raised AttributeError in pyqtgraph's WidgetGroup.autoAdd."""
    import pyqtgraph as pg

    import shapeviewer.qt.plots  # noqa: F401  (installs the guard)

    pg.WidgetGroup().autoAdd(object())
