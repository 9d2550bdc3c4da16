"""The convergence plot shows every curve it draws (a small deformation cost stays in view) and its header says
'not recorded' where a series was not recorded (a result folder keeps the final mismatch and cost only)."""

import json
import math

import numpy as np
import pytest
from gui_helpers import quick_settings, run_to_end

from shapeviewer.cli import main
from shapeviewer.core.registration import Report
from shapeviewer.document import LossHistory
from shapeviewer.document.result_folders import read_result_folder
from shapeviewer.qt.plots import LossPlot


def history_of(fidelities, energies) -> LossHistory:
    """A closed-form history: relative mismatch and deformation cost per iteration (initial mismatch 1)."""
    h = LossHistory()
    for i, (fid, energy) in enumerate(zip(fidelities, energies, strict=True)):
        h.add(Report(i, fid + energy, fid, 0.0, 0.0, None, np.zeros((1, 3)), fidelity_initial=1.0))
    return h


def shown_plot(qtbot, history: LossHistory) -> LossPlot:
    plot = LossPlot()
    qtbot.addWidget(plot)
    plot.show()
    plot.show_history(history)
    return plot


def title(plot) -> str:
    return plot.getPlotItem().titleLabel.text


def y_range(plot) -> tuple[float, float]:
    return tuple(plot.getPlotItem().viewRange()[1])


def test_a_falling_deformation_cost_stays_in_view(qtbot):
    n = 15
    fid = np.geomspace(1.0, 0.01, n)  # 100% .. 1%
    energy = np.r_[0.0, np.geomspace(0.01, 0.0005, n - 1)]  # 0 at p0 = 0, then 1% .. 0.05%
    plot = shown_plot(qtbot, history_of(fid, energy))
    y0, y1 = y_range(plot)
    assert y0 <= np.log10(0.05) and y1 >= np.log10(100 + 0.01)  # log10 of %: 0.05% .. 100% in view
    assert y0 >= np.log10(0.05 / 2) - 1e-9  # and not decades of empty space under it
    for name in ("fidelity", "energy", "loss"):  # every drawn point of every curve inside the view
        ys = plot.curves[name].getData()[1]
        assert len(ys) and y0 <= ys.min() and ys.max() <= y1
    assert plot.curves["landmarks"].getData()[1] is None  # no landmarks: nothing drawn


def test_a_cost_below_the_floor_is_shown_and_the_margin_stops_at_the_floor(qtbot):
    fid = [1.0, 0.5, 0.2]
    plot = shown_plot(qtbot, history_of(fid, [0.0, 1.5e-5, 2e-5]))  # lowest 0.0015%: margin to the floor
    assert y_range(plot)[0] == pytest.approx(np.log10(LossPlot.Y_FLOOR_PERCENT))
    plot.show_history(history_of(fid, [0.0, 1e-7, 2e-7]))  # 1e-5 %: below the floor, still shown
    assert y_range(plot)[0] < np.log10(1e-5)


def test_small_cost_shares_are_not_rounded_to_zero(qtbot):
    plot = shown_plot(qtbot, history_of([1.0, 0.1], [0.0, 0.0004]))  # 0.0004 / 0.1004 = 0.4% of the loss
    assert "deformation cost 0.4% of the loss" in title(plot)
    assert "not recorded" not in title(plot)


@pytest.fixture
def result_folder(small_pair, tmp_path):
    out = tmp_path / "registered"
    fast = ["--backend", "torch", "--steps", "4", "--dtype", "float64", "--iterations", "5", "--tolerance", "0"]
    assert main(["register", str(small_pair[0]), str(small_pair[1]), "--out", str(out), *fast]) == 0
    return out


def test_a_result_folder_history_says_what_was_not_recorded(qtbot, result_folder):
    info = json.loads((result_folder / "result.json").read_text())
    history = read_result_folder(result_folder).history
    assert math.isnan(history.series["energy"][0]) and info["hamiltonian"] > 0
    plot = shown_plot(qtbot, history)
    text = title(plot)
    assert "mismatch and cost per iteration not recorded" in text
    final_share = 100 * (1 - info["fidelity_final"] / info["fidelity_initial"] / info["loss_final"])
    assert final_share > 0 and "deformation cost 0%" not in text
    assert f"mismatch down {100 * (1 - info['fidelity_final'] / info['fidelity_initial']):.1f}%" in text
    assert f"best: iteration {int(np.argmin(info['loss_history']))}" in text
    for name in ("fidelity", "energy"):  # the final values, recorded alone, drawn as dots
        assert len(plot.curves[name].getData()[0]) == 1 and plot.curves[name].opts["symbol"] == "o"
    assert plot.curves["loss"].opts["symbol"] is None


def test_series_not_recorded_at_all_give_no_numbers(qtbot):
    # an older session: losses only, every mismatch and cost NaN
    history = LossHistory.from_dict({"iteration": [0, 1, 2], "loss": [1.0, 0.5, 0.25]})
    text = title(shown_plot(qtbot, history))
    assert "mismatch not recorded" in text and "deformation cost not recorded" in text
    assert "%" not in text  # no made-up percentage
    assert "best: iteration 2" in text
    history = LossHistory.from_dict({"iteration": [0, 1], "loss": [float("nan"), float("nan")]})
    text = title(shown_plot(qtbot, history))
    assert "best iteration not recorded" in text and "None" not in text


def test_after_a_run_every_curve_lies_in_the_view(window, qtbot):
    quick_settings(window, iterations=15, steps=4)
    run_to_end(qtbot, window)
    plot = window.loss_plot
    qtbot.waitUntil(lambda: plot.history is window.doc.history and not plot.redraw.isActive(), timeout=2_000)
    y0, y1 = y_range(plot)
    energy = plot.curves["energy"].getData()[1]
    assert len(energy) >= 3
    for name in ("fidelity", "energy", "loss"):
        ys = plot.curves[name].getData()[1]
        assert y0 <= ys.min() and ys.max() <= y1
