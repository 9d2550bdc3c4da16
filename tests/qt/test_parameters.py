"""The parameters panel: kernel presets and free strings, defaults that follow the mesh, valid settings only."""

import numpy as np

from shapeviewer.core.kernels import parse_kernel


def test_typo_in_the_kernel_string_is_named_and_blocks_run(window):
    editor = window.parameters.kernel
    editor.text.setText("gausian(0.1)")
    assert editor.preset.currentText() == "custom string"
    assert "unknown kernel 'gausian' at position 0" in editor.error.text()
    assert not window.run_button.isEnabled() and not window.actions.run.isEnabled()
    assert "kernel string does not parse" in window.run_problem.text()
    editor.text.setText("0.5*gaussian(0.2) + cauchy(1")
    assert "position" in editor.error.text() and not window.run_button.isEnabled()
    editor.text.setText("0.5*gaussian(0.2) + cauchy(1)")
    assert window.run_button.isEnabled()
    assert window.parameters.settings().model.kernel == "0.5*gaussian(0.2) + cauchy(1)"


def test_presets_write_the_string_with_scales_from_the_mesh_size(window):
    p = window.parameters
    size = float(np.linalg.norm(np.ptp(window.meshes["source"].vertices, axis=0)))
    assert p.kernel.scales[0].value() == round(0.15 * size, 4)
    p.kernel.preset.setCurrentText("multi-scale heavy tail (1 + cauchy + cauchy)")
    kernel = parse_kernel(p.kernel.text.text())
    assert kernel.constant == 1 and [t.profile for t in kernel.terms] == ["cauchy", "cauchy"]
    assert abs(kernel.terms[0].sigma - 0.25 * size) < 1e-3 and abs(kernel.terms[1].sigma - 0.05 * size) < 1e-3
    p.kernel.scales[1].setValue(0.123)
    assert "cauchy(0.123)" in p.kernel.text.text()
    p.kernel.preset.setCurrentText("gaussian")
    assert p.kernel.text.text().startswith("gaussian(")
    assert p.kernel.plot.line is not None and p.kernel.plot.line[1][0] == 1.0  # k(0) = 1 on the plot
    assert abs(p.fidelity_scale.value() - 0.1 * size) < 1e-3


def test_settings_carry_every_field_to_the_core(window):
    p = window.parameters
    p.advanced_toggle.click()  # Shooting and computation, folded by default
    p.cometric.setCurrentText("normalized")
    p.sinkhorn_mode.setCurrentText("fixed iterations")
    p.sinkhorn_iters.setValue(2)
    p.integrator.setCurrentText("rk4")
    p.steps.setValue(7)
    p.fidelity.setCurrentText("currents")
    p.regularization.setValue(0.5)
    p.iterations.setValue(12)
    p.control_points.setValue(30)
    p.backend.setCurrentText("torch")
    p.dtype.setCurrentText("float64")
    s = p.settings()
    m = s.model
    assert (m.cometric, m.sinkhorn.iterations, m.integrator, m.steps) == ("normalized", 2, "rk4", 7)
    assert (m.control_points, m.backend, m.dtype) == (30, "torch", "float64")
    assert (s.fidelity, s.regularization, s.iterations) == ("currents", 0.5, 12)
    assert not p.sinkhorn_tol.isVisible() and p.sinkhorn_iters.isVisible()
    p.cometric.setCurrentText("lddmm")
    assert not p.sinkhorn_mode.isVisible()


def test_auto_backend_shows_its_choice_and_landmarks_need_equal_vertex_counts(window, human):
    p = window.parameters
    assert "will use: torch on cpu" in p.uses.text()
    p.backend.setCurrentText("keops")
    assert "will use: keops on cpu" in p.uses.text()
    assert not p.device.model().item(2).isEnabled()  # cuda, on this machine without a GPU
    p.fidelity.setCurrentText("landmarks")
    assert window.run_button.isEnabled()  # the demo pair has matching vertices
    window.meshes["target"] = human  # a target with other vertices
    p.set_meshes(window.meshes["source"].vertices, human.vertices)
    assert not window.run_button.isEnabled()
    assert "same number of vertices" in window.run_problem.text()
