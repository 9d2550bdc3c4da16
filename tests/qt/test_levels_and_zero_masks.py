"""In the window: masks with zero-weight regions run, unreachable ones are refused before Run, and
coarse-to-fine runs show their levels."""

import numpy as np
from gui_helpers import quick_settings, run_to_end

from shapeviewer.core import pyramid


def test_a_mask_with_zero_regions_registers(window, qtbot):
    quick_settings(window, iterations=4, steps=4)
    source = window.meshes["source"]
    weights = (source.vertices[:, 2] > np.median(source.vertices[:, 2])).astype(float)
    window.paint.set_weights(weights, text="half")
    assert window.run_button.isEnabled()
    run_to_end(qtbot, window)
    final = window.run.final
    assert final.status in ("finished", "converged"), final.message
    assert np.isfinite(final.trajectory).all()
    moved = np.linalg.norm(final.trajectory[-1] - final.trajectory[0], axis=1)
    assert moved[weights == 0].max() > 1e-3  # the zero-weight half followed
    assert "vertices of weight 0 follow the flow passively" in window.log_panel.toPlainText()


def test_a_mask_the_kernel_cannot_reach_is_refused_before_the_run(window, qtbot):
    source = window.meshes["source"]
    weights = np.zeros(source.n_vertices)
    weights[np.argmax(source.vertices[:, 2])] = 1.0
    window.paint.set_weights(weights, text="one vertex")
    window.parameters.kernel.text.setText("gaussian(0.01)")
    qtbot.waitUntil(lambda: not window.run_button.isEnabled(), timeout=5_000)
    assert "does not reach" in window.run_problem.text()
    window.parameters.kernel.text.setText("cauchy(0.01)")  # a heavy tail reaches everywhere
    qtbot.waitUntil(window.run_button.isEnabled, timeout=5_000)
    assert window.run_problem.text() == ""


def test_a_coarse_to_fine_run_shows_its_levels(window, qtbot, monkeypatch, tmp_path):
    monkeypatch.setattr(pyramid, "COARSEST_VERTICES", 40)  # the ~100-vertex pair gets two levels
    p = window.parameters
    quick_settings(window, iterations=3, steps=4)
    p.levels.setCurrentText("2")
    p.fidelity_scale.setValue(p.fidelity_scale.value() / 20)  # too fine for the coarse level: both levels run
    assert "levels of" in p.uses.text()
    statuses = []
    window.run.status.connect(statuses.append)
    run_to_end(qtbot, window)
    final = window.run.final
    assert final.levels == 2 and final.level == 2 and final.status != "failed"
    assert any(s.startswith("level 2/2") for s in statuses), statuses
    setting_up = [i for i, s in enumerate(statuses) if s.endswith("setting up (its meshes and data term)…")]
    first_of_2 = next(i for i, s in enumerate(statuses) if s.startswith("level 2/2") and "Iteration" in s)
    assert len(setting_up) == 1 and statuses[setting_up[0]].startswith("level 2/2") and setting_up[0] < first_of_2
    assert [line.value() for line in window.loss_plot.level_lines][0] == 0
    assert len(window.loss_plot.level_lines) == 2
    assert window.progress.maximum() == final.iteration
    assert "coarse to fine over 2 of 2 levels" in window.log_panel.toPlainText()
    np.testing.assert_allclose(window.current_frame_points(), final.trajectory[-1])
    ran = [level for level in window.doc.result.info["levels"] if level["run"]]  # as exported in the summary
    assert len(ran) == 2 and sum(level["iterations"] for level in ran) == final.iteration  # not as they began
    assert all(level["seconds"] > 0 and "fidelity_final" in level for level in ran)
    assert window.session.save(tmp_path / "levels.svsession")  # refused once: its history's level starts


def test_a_mask_painted_for_lddmm_is_said_to_be_unused(window, qtbot):
    quick_settings(window, iterations=1, steps=4)
    source = window.meshes["source"]
    window.paint.set_weights(np.linspace(0.0, 1.0, source.n_vertices), text="ramp")
    window.parameters.cometric.setCurrentText("lddmm")
    run_to_end(qtbot, window)
    assert "the mask is not used" in window.log_panel.toPlainText()


def test_a_coarse_level_report_without_frames_keeps_the_last_shown_geodesic(window, qtbot):
    """Coarse levels' reports may come without the full mesh's frames: the status follows them, while
    what is shown, saved and exported stays the last geodesic that had frames."""
    from shapeviewer.core.registration import Report

    quick_settings(window, iterations=2, steps=4)
    run_to_end(qtbot, window)
    shown = window.run.last
    window.run.final = None  # as during a run
    coarse = Report(7, 0.5, 0.1, 0.2, 1.0, None, shown.momenta, level=1, levels=2, level_vertices=40,
                    fidelity_initial=1.0, level_iteration=3)  # fmt: skip
    window.run._report(coarse)
    window.run.apply_pending()
    assert window.run.last is shown
    assert window.status_line.text().startswith("level 1/2")
    session = window.session.capture()
    np.testing.assert_allclose(session.result.trajectory, shown.trajectory)
