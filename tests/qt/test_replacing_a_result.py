"""Opening meshes over an unsaved registration asks first; after a load the status says what Run still needs."""

from gui_helpers import quick_settings, run_to_end


def test_opening_a_mesh_over_an_unsaved_registration_asks_and_cancel_keeps_it(window, qtbot, small_pair):
    quick_settings(window, iterations=2, steps=4)
    run_to_end(qtbot, window)
    shown = window.doc.result
    asked = []
    window.ask_unsaved = lambda doing="closing": asked.append(doing) or "cancel"
    assert not window.load_mesh("target", small_pair[0])
    assert asked == [f"opening {small_pair[0].name}"]
    assert window.doc.result is shown and window.doc.paths["target"] == small_pair[1]  # nothing replaced
    window.ask_unsaved = lambda doing="closing": asked.append(doing) or "discard"
    assert window.load_mesh("target", small_pair[0])
    assert window.doc.result is None and window.doc.paths["target"] == small_pair[0]
    assert len(asked) == 2
    assert window.load_mesh("target", small_pair[1])  # no registration shown: nothing to ask
    assert len(asked) == 2


def test_after_loading_the_status_says_what_run_still_needs(window, small_pair):
    window.parameters.landmark_weight.setValue(0.5)
    assert window.load_pair(*small_pair)  # a fresh pair: no landmarks
    status = window.status_line.text()
    assert "press Run" not in status and "Before Run: the landmark weight is 0.5" in status
    assert "set it to 0" in window.run_problem.text() and not window.run_button.isEnabled()
    window.parameters.landmark_weight.setValue(0.0)
    assert window.load_pair(*small_pair)
    assert "press Run" in window.status_line.text() and window.run_button.isEnabled()
