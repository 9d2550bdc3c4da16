"""What is drawn, as a list in the Display tab: visibility, opacity and colour map of each layer.

A layer is a name and the functions that apply its state to whatever draws it; anything drawn registers one:

    window.layers.add_layer("Landmarks", set_visible=lambda on: ..., set_opacity=lambda x: ...)

and its state comes back after a new scene (``reapply``) and from sessions: ``layers_state(window)`` is a plain
JSON-able dict, ``restore_layers(window, state)`` sets it again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import QCheckBox, QComboBox, QGridLayout, QGroupBox, QLabel, QSpinBox

from .mesh_views import schedule_paint

COLOUR_MAPS = ("viridis", "inferno", "magma", "plasma", "cividis", "turbo", "coolwarm")
STATE_VERSION = 1


@dataclass
class Layer:
    name: str
    set_visible: Callable[[bool], None]
    set_opacity: Callable[[float], None] | None = None
    set_colour_map: Callable[[str], None] | None = None
    colour_maps: tuple[str, ...] = ()
    visible: bool = True
    opacity: float = 1.0
    colour_map: str | None = None
    tip: str = ""

    def apply(self) -> None:
        self.set_visible(self.visible)
        if self.set_opacity is not None:
            self.set_opacity(self.opacity)
        if self.set_colour_map is not None and self.colour_map is not None:
            self.set_colour_map(self.colour_map)


class Layers(QObject):
    """The registry; ``changed(name)`` fires when a layer's state changes or a layer is added (name '')."""

    changed = Signal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.layers: dict[str, Layer] = {}

    def add_layer(
        self,
        name: str,
        set_visible: Callable[[bool], None],
        set_opacity: Callable[[float], None] | None = None,
        colour_maps: tuple[str, ...] | None = None,
        set_colour_map: Callable[[str], None] | None = None,
        visible: bool = True,
        opacity: float = 1.0,
        colour_map: str | None = None,
        tip: str = "",
    ) -> Layer:
        """Register a layer (its state is applied at once); ``colour_maps`` needs ``set_colour_map``."""
        if name in self.layers:
            raise ValueError(f"a layer named {name!r} exists already")
        if colour_maps and set_colour_map is None:
            raise ValueError(f"layer {name!r} lists colour maps but gives no set_colour_map")
        maps = tuple(colour_maps or ())
        layer = Layer(name, set_visible, set_opacity, set_colour_map, maps, visible, float(opacity), None, tip)
        if maps:
            layer.colour_map = colour_map or maps[0]
        self.layers[name] = layer
        layer.apply()
        self.changed.emit("")
        return layer

    def _layer(self, name: str) -> Layer:
        if name not in self.layers:
            raise ValueError(f"no layer named {name!r}; layers: {', '.join(self.layers)}")
        return self.layers[name]

    def set_visible(self, name: str, visible: bool) -> None:
        layer = self._layer(name)
        if layer.visible != bool(visible):
            layer.visible = bool(visible)
            layer.set_visible(layer.visible)
            self.changed.emit(name)

    def set_opacity(self, name: str, opacity: float) -> None:
        layer = self._layer(name)
        opacity = float(opacity)
        if layer.set_opacity is None:
            raise ValueError(f"layer {name!r} has no opacity")
        if not 0.0 <= opacity <= 1.0:
            raise ValueError(f"opacity of layer {name!r} must be in [0, 1], got {opacity}")
        if layer.opacity != opacity:
            layer.opacity = opacity
            layer.set_opacity(opacity)
            self.changed.emit(name)

    def set_colour_map(self, name: str, cmap: str) -> None:
        layer = self._layer(name)
        if cmap not in layer.colour_maps:
            raise ValueError(f"layer {name!r} has no colour map {cmap!r}; choose one of {', '.join(layer.colour_maps)}")
        if layer.colour_map != cmap:
            layer.colour_map = cmap
            layer.set_colour_map(cmap)
            self.changed.emit(name)

    def reapply(self) -> None:
        """Apply every layer's state again (after the views rebuilt what they draw)."""
        for layer in self.layers.values():
            layer.apply()

    def state(self) -> dict:
        return {
            "version": STATE_VERSION,
            "layers": {
                n: {"visible": ly.visible, "opacity": ly.opacity, "colour_map": ly.colour_map}
                for n, ly in self.layers.items()
            },
        }

    def restore(self, state: dict) -> None:
        """Set the layers named in ``state`` (others keep theirs; unknown names are refused, as are bad values)."""
        if not isinstance(state, dict) or not isinstance(state.get("layers"), dict):
            raise ValueError("a layers state is a dict with a 'layers' dict")
        if state.get("version", STATE_VERSION) > STATE_VERSION:
            raise ValueError(f"layers state version {state['version']} is newer than this version reads")
        unknown = [n for n in state["layers"] if n not in self.layers]
        if unknown:
            raise ValueError(f"unknown layers {', '.join(map(repr, unknown))}")
        for name, values in state["layers"].items():
            if "visible" in values:
                self.set_visible(name, bool(values["visible"]))
            if "opacity" in values and self.layers[name].set_opacity is not None:
                self.set_opacity(name, values["opacity"])
            if values.get("colour_map") is not None:
                self.set_colour_map(name, values["colour_map"])


def layers_state(window) -> dict:
    """The layers' state as plain JSON-able data (for sessions)."""
    return window.layers.state()


def restore_layers(window, state: dict) -> None:
    """Set the layers from ``layers_state``'s data; ValueError names what is wrong."""
    window.layers.restore(state)


class LayersPanel(QGroupBox):
    """One row per layer: visible, opacity (%), colour map."""

    def __init__(self, layers: Layers):
        super().__init__("Layers")
        self.registry = layers
        self.grid = QGridLayout(self)
        for column, title in enumerate(("Shown", "Opacity", "Colour map")):
            self.grid.addWidget(QLabel(f"<b>{title}</b>"), 0, column)
        self.rows: dict[str, tuple[QCheckBox, QSpinBox, QComboBox]] = {}
        layers.changed.connect(self._changed)
        self._changed("")

    def _changed(self, name: str) -> None:
        for layer_name, layer in self.registry.layers.items():
            if layer_name not in self.rows:
                self._add_row(layer)
            if name in ("", layer_name):
                self._show(layer)

    def _add_row(self, layer: Layer) -> None:
        r = len(self.rows) + 1
        shown = QCheckBox(layer.name)
        shown.setToolTip(layer.tip)
        opacity = QSpinBox()
        opacity.setRange(0, 100)
        opacity.setSuffix(" %")
        opacity.setEnabled(layer.set_opacity is not None)
        cmap = QComboBox()
        cmap.addItems(layer.colour_maps)
        cmap.setEnabled(bool(layer.colour_maps))
        name = layer.name
        shown.toggled.connect(lambda on: self.registry.set_visible(name, on))
        # typed values apply once typing pauses; the arrows at once
        opacity.setKeyboardTracking(False)
        opacity.valueChanged.connect(lambda v: self.registry.set_opacity(name, v / 100))
        cmap.currentTextChanged.connect(lambda text: text and self.registry.set_colour_map(name, text))
        for column, widget in enumerate((shown, opacity, cmap)):
            self.grid.addWidget(widget, r, column, Qt.AlignmentFlag.AlignLeft)
        self.rows[name] = (shown, opacity, cmap)

    def _show(self, layer: Layer) -> None:
        shown, opacity, cmap = self.rows[layer.name]
        for widget in (shown, opacity, cmap):
            widget.blockSignals(True)
        shown.setChecked(layer.visible)
        opacity.setValue(round(100 * layer.opacity))
        if layer.colour_map is not None:
            cmap.setCurrentText(layer.colour_map)
        for widget in (shown, opacity, cmap):
            widget.blockSignals(False)


def install_layers(window) -> Layers:
    """The app's own layers (the lead adds landmarks with ``window.layers.add_layer``)."""
    layers = Layers(window)
    window.layers = layers
    inputs, display = window.inputs, window.display

    def actor(role):
        return inputs.actors.get(role)

    def input_visible(role):
        def apply(on):
            if actor(role) is not None:
                actor(role).SetVisibility(on)
                schedule_paint(inputs.view)

        return apply

    def input_opacity(role):
        def apply(x):
            if actor(role) is not None:
                actor(role).GetProperty().SetOpacity(x)
                schedule_paint(inputs.view)

        return apply

    def on_scene(method, *args):
        def apply(value):
            scene = window.result.scene
            if scene is not None:
                getattr(scene, method)(*args, value)
                schedule_paint(window.result.view)

        return apply

    def check(box):
        return lambda on: box.setChecked(on)

    add = layers.add_layer
    add("Source", input_visible("source"), input_opacity("source"), tip="The source in the input view")
    add("Target", input_visible("target"), input_opacity("target"), tip="The target in the input view")
    add(
        "Deformed source",
        on_scene("show_deformed"),
        on_scene("set_opacity", "deformed"),
        COLOUR_MAPS,
        on_scene("set_colour_map", "displacement"),
        tip="The deformed source in the result view; its colour map is the displacement's",
    )
    add(
        "Target overlay",
        check(display.target),
        on_scene("set_opacity", "target"),
        opacity=0.3,
        tip="The translucent target in the result view (as Show target)",
    )
    add(
        "Distance map",
        on_scene("show_distance_map"),
        None,
        COLOUR_MAPS,
        on_scene("set_colour_map", "distance"),
        colour_map="inferno",
        tip="The distance colours of the deformed source and of the target (as chosen above)",
    )
    add(
        "Momenta",
        check(display.momenta),
        on_scene("set_opacity", "momenta"),
        visible=display.momenta.isChecked(),
        tip="The initial momenta p0 (as Initial momenta p0)",
    )
    tracker = window.correspondence

    def tracked_visible(on):
        tracker.visible = on
        tracker.apply_look()

    def tracked_opacity(x):
        tracker.opacity = x
        tracker.apply_look()

    add("Tracked point", tracked_visible, tracked_opacity, tip="The tracked point, its trajectory and its marks")
    # the check boxes above and their layers say one thing
    display.target.toggled.connect(lambda on: layers.set_visible("Target overlay", on))
    display.momenta.toggled.connect(lambda on: layers.set_visible("Momenta", on))
    display.scene_listeners.append(layers.reapply)
    window.doc.meshes_changed.connect(lambda _role: QTimer.singleShot(0, layers.reapply))  # after the views
    window.layers_panel = LayersPanel(layers)
    display.add_section(window.layers_panel)
    return layers
