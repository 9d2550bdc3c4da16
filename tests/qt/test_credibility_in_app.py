"""A run whose result is not credible says so at its end, in the app's words, as 'register' does."""

from gui_helpers import quick_settings, run_to_end

from shapeviewer.io.meshes import read_mesh, write_mesh


def test_a_target_of_another_size_is_said_at_the_end_with_what_to_try(window, qtbot, small_pair, tmp_path):
    source = read_mesh(small_pair[0])
    write_mesh(tmp_path / "big.ply", 10.0 * source.vertices, source.faces)  # 100x the area
    assert window.load_pair(small_pair[0], tmp_path / "big.ply")
    quick_settings(window, iterations=2)
    run_to_end(qtbot, window)
    status = window.status_line.text()
    assert "may not be credible: deformed source" in status and "of the target's" in status
    assert status.endswith("sizes differ? try a similarity pre-alignment (Landmarks tab > Align)")
    assert "warning: the result may not be credible" in window.log_panel.toPlainText()


def test_a_good_match_says_nothing_of_the_kind(window, qtbot, small_pair):
    quick_settings(window, iterations=30)
    run_to_end(qtbot, window)
    assert window.run.final.fidelity_drop > 0.5
    assert "credible" not in window.status_line.text() and "credible" not in window.log_panel.toPlainText()


def test_a_target_far_away_is_hinted_on_loading(window, small_pair, tmp_path):
    source = read_mesh(small_pair[0])
    write_mesh(tmp_path / "far.ply", source.vertices + [500.0, 0.0, 0.0], source.faces)
    assert window.load_pair(small_pair[0], tmp_path / "far.ply")
    status = window.status_line.text()
    assert status.startswith("Ready:") and "Note: the meshes lie" in status and "rigid pre-alignment" in status
    assert window.load_pair(*small_pair)
    assert "Note:" not in window.status_line.text()
