"""The layers list of the Display tab: visibility, opacity and colour map per layer, kept across a new scene
and as plain JSON-able state."""

import json

import numpy as np
import pytest
from gui_helpers import rendered
from PySide6.QtCore import QPoint, Qt

from shapeviewer.qt.layers import layers_state, restore_layers

DEFAULTS = [
    "Source",
    "Target",
    "Deformed source",
    "Target overlay",
    "Distance map",
    "Momenta",
    "Tracked point",
    "Landmarks",
]


@pytest.fixture
def display(window, qtbot):
    window.side_tabs.setCurrentIndex(window.side_tabs.count() - 1)
    qtbot.waitUntil(lambda: window.layers_panel.height() > 0)
    return window


def click_box(qtbot, box):
    qtbot.mouseClick(box, Qt.MouseButton.LeftButton, pos=QPoint(6, box.height() // 2))


def type_in(qtbot, spin, text):
    spin.selectAll()
    qtbot.keyClicks(spin, text)
    qtbot.keyClick(spin, Qt.Key.Key_Return)


def test_hiding_and_fading_layers_changes_what_the_views_draw(display, qtbot):
    window = display
    assert list(window.layers_panel.rows) == DEFAULTS
    scene = window.result.scene
    shown, opacity, _cmap = window.layers_panel.rows["Deformed source"]
    before = rendered(window.result.view)
    click_box(qtbot, shown)
    assert not scene.actor.GetVisibility()
    hidden = rendered(window.result.view)
    assert np.abs(hidden.astype(int) - before).mean() > 1.0  # the mesh is gone from the picture
    click_box(qtbot, shown)
    assert scene.actor.GetVisibility()
    type_in(qtbot, opacity, "40")
    assert scene.actor.GetProperty().GetOpacity() == pytest.approx(0.4)
    target_shown = window.layers_panel.rows["Target overlay"][0]
    click_box(qtbot, window.display.target)  # Show target and its layer are one
    assert not target_shown.isChecked() and not scene.target_actor.GetVisibility()
    click_box(qtbot, target_shown)
    assert window.display.target.isChecked() and scene.target_actor.GetVisibility()
    source_shown = window.layers_panel.rows["Source"][0]
    click_box(qtbot, source_shown)
    assert not window.inputs.actors["source"].GetVisibility()


def test_the_distance_maps_colour_map_is_chosen_in_its_row(display, qtbot):
    window = display
    window.display.colour_distance.setChecked(True)
    scene = window.result.scene
    qtbot.waitUntil(lambda: scene.actor.mapper.scalar_visibility)
    lut = scene.actor.mapper.lookup_table
    inferno_top = lut.GetTableValue(255)[:3]
    cmap = window.layers_panel.rows["Distance map"][2]
    cmap.setCurrentText("viridis")
    assert scene.colour_maps["distance"] == "viridis"
    viridis_top = scene.actor.mapper.lookup_table.GetTableValue(255)[:3]
    assert viridis_top != inferno_top and viridis_top[1] > 0.85  # viridis ends yellow-green, inferno pale yellow
    click_box(qtbot, window.layers_panel.rows["Distance map"][0])
    assert not scene.actor.mapper.scalar_visibility  # hidden, though "Distance to target" stays chosen
    assert window.display.colour_distance.isChecked()


def test_the_state_is_plain_data_and_comes_back_on_a_new_scene(display, qtbot, small_pair):
    window = display
    window.layers.set_opacity("Deformed source", 0.5)
    window.layers.set_colour_map("Distance map", "magma")
    window.layers.set_visible("Tracked point", False)
    state = json.loads(json.dumps(layers_state(window)))
    assert state["layers"]["Deformed source"] == {"visible": True, "opacity": 0.5, "colour_map": "viridis"}
    assert window.load_pair(*small_pair)  # a new scene is built
    assert window.result.scene.actor.GetProperty().GetOpacity() == pytest.approx(0.5)
    state["layers"]["Deformed source"]["opacity"] = 0.25
    state["layers"]["Target overlay"]["visible"] = False
    restore_layers(window, state)
    assert window.result.scene.actor.GetProperty().GetOpacity() == pytest.approx(0.25)
    assert window.layers_panel.rows["Deformed source"][1].value() == 25
    assert not window.display.target.isChecked() and window.result.scene.colour_maps["distance"] == "magma"
    with pytest.raises(ValueError, match="'Annotations'"):
        restore_layers(window, {"layers": {"Annotations": {"visible": True}}})
    with pytest.raises(ValueError, match=r"opacity of layer 'Source' must be in \[0, 1\]"):
        restore_layers(window, {"layers": {"Source": {"opacity": 3}}})


def test_others_add_their_layers_through_the_registry(display, qtbot):
    window = display
    seen = []
    window.layers.add_layer("Annotations", seen.append, lambda x: seen.append(("opacity", x)))
    shown, opacity, cmap = window.layers_panel.rows["Annotations"]
    assert seen == [True, ("opacity", 1.0)] and not cmap.isEnabled()
    click_box(qtbot, shown)
    assert seen[-1] is False and layers_state(window)["layers"]["Annotations"]["visible"] is False
    with pytest.raises(ValueError, match="exists already"):
        window.layers.add_layer("Annotations", seen.append)
