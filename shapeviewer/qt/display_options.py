"""How the meshes are drawn: wireframe, what colours the deformed source and the target, overlay, momenta
arrows, kernel scale; sections added by others (tracked point, layers) go below."""

from __future__ import annotations

from PySide6.QtWidgets import QButtonGroup, QCheckBox, QGroupBox, QLabel, QRadioButton, QVBoxLayout, QWidget

from .mesh_views import schedule_paint


def _check(text: str, tip: str, checked: bool = False) -> QCheckBox:
    box = QCheckBox(text)
    box.setToolTip(tip)
    box.setChecked(checked)
    return box


def _radio(text: str, tip: str) -> QRadioButton:
    button = QRadioButton(text)
    button.setToolTip(tip)
    return button


class DisplayOptions(QGroupBox):
    def __init__(self, parent=None):
        super().__init__("Display", parent)
        self.wireframe = _check("Wireframe (W)", "Draw every mesh as its edges")
        self.colour_plain = _radio("Plain", "The deformed source in its own colour")
        self.colour_displacement = _radio("Displacement", "Colour the deformed source by |x(t) - x(0)|")
        self.colour_distance = _radio(
            "Distance to target",
            "Colour the deformed source by each vertex's distance to the target surface, at the frame shown "
            "(histogram and summary in the Distances tab)",
        )
        self.colour_displacement.setChecked(True)
        self.colouring = QButtonGroup(self)
        for button in (self.colour_plain, self.colour_displacement, self.colour_distance):
            self.colouring.addButton(button)
        self.target_distance = _check(
            "Colour the target by distance to the deformed source",
            "Each target vertex's distance to the deformed source surface, at the frame shown (same scale)",
        )
        self.target = _check("Show target", "Translucent target behind the deformed source", True)
        self.momenta = _check(
            "Initial momenta p0",
            "Arrows of the optimised initial momenta p0, drawn on the control points where they are in the frame shown",
        )
        self.kernel_scale = _check(
            "Kernel scale on source",
            "Sphere of radius sigma (largest scale) on the source; press K over the source to move it",
        )
        self.column = QVBoxLayout(self)
        self.column.addWidget(self.wireframe)
        self.column.addWidget(QLabel("Colour the deformed source by:"))
        for button in (self.colour_plain, self.colour_displacement, self.colour_distance):
            self.column.addWidget(button)
        for box in (self.target_distance, self.target, self.momenta, self.kernel_scale):
            self.column.addWidget(box)
        self.scene_listeners: list = []  # called after the scene's display is (re)applied: a new scene, a new choice

    def add_section(self, widget: QWidget) -> None:
        """A group of further options below these (the tracked point, the layers)."""
        self.column.addWidget(widget)

    def colouring_choice(self) -> str:
        """'plain', 'displacement' or 'distance' (render.scene.COLOURINGS)."""
        if self.colour_distance.isChecked():
            return "distance"
        return "displacement" if self.colour_displacement.isChecked() else "plain"

    def state(self) -> dict:
        """What a session keeps of these options (JSON-able)."""
        return {"colouring": self.colouring_choice(), "target_by_distance": self.target_distance.isChecked(),
                "wireframe": self.wireframe.isChecked()}  # fmt: skip

    def restore(self, state: dict) -> None:
        """The options a session kept; ValueError names a value this version does not know."""
        buttons = {"plain": self.colour_plain, "displacement": self.colour_displacement,
                   "distance": self.colour_distance}  # fmt: skip
        colouring = state.get("colouring", "displacement")
        if colouring not in buttons:
            raise ValueError(f"unknown colouring {colouring!r} (one of {', '.join(buttons)})")
        buttons[colouring].setChecked(True)
        self.target_distance.setChecked(bool(state.get("target_by_distance", False)))
        self.wireframe.setChecked(bool(state.get("wireframe", False)))

    def connect_window(self, window) -> None:
        self.wireframe.toggled.connect(lambda _on: self.apply_to_scene(window))
        self.colouring.buttonToggled.connect(lambda _button, on: on and self.apply_to_scene(window))
        self.target_distance.toggled.connect(lambda _on: self.apply_to_scene(window))
        self.target.toggled.connect(lambda _on: self.apply_to_scene(window))
        self.momenta.toggled.connect(lambda _on: self.apply_momenta(window))
        self.kernel_scale.toggled.connect(lambda _on: self.update_kernel_sphere(window))

    def apply_to_scene(self, window) -> None:
        window.inputs.set_wireframe(self.wireframe.isChecked())
        scene = window.result.scene
        if scene is None:
            return
        scene.set_wireframe(self.wireframe.isChecked())
        scene.set_colouring(self.colouring_choice())
        scene.colour_target(self.target_distance.isChecked())
        scene.show_target(self.target.isChecked())
        self.refresh_legend(window)
        for listener in self.scene_listeners:
            listener()
        schedule_paint(window.result.view)

    def refresh_legend(self, window) -> None:
        """The result view's legend says what the deformed source's colours mean now (redrawn only on a change)."""
        scene, view = window.result.scene, window.result.view
        if scene is None:
            return
        meaning = scene.colour_meaning
        entry = window.result.source_entry(meaning)
        target = "target: colour = distance to source" if scene.target_coloured else "target"
        legend = view.legend
        if legend is None or legend.GetNumberOfEntries() < 2 or legend.GetEntryString(0) != entry:
            window.result.show_legend(meaning or False)
            legend = view.legend
        if legend.GetEntryString(1) != target:
            legend.SetEntryString(1, target)

    def apply_momenta(self, window) -> None:
        """p0 arrows on the control points, which move with the flow: drawn where they are at the frame shown."""
        scene, doc = window.result.scene, window.doc
        if scene is None:
            return
        result = doc.result
        if not self.momenta.isChecked() or result is None:
            scene.show_momenta(None, None)
        else:
            points = result.control_points(doc.frame)
            if len(points) == len(result.report.momenta):
                scene.show_momenta(points, result.report.momenta)
        schedule_paint(window.result.view)

    def update_kernel_sphere(self, window) -> None:
        kernel = window.parameters.kernel.kernel
        show = self.kernel_scale.isChecked() and kernel is not None
        window.inputs.show_kernel_scale(kernel.largest_scale if show else None)
