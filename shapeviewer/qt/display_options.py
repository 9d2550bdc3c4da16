"""How the meshes are drawn: wireframe, colour by displacement, target overlay, momenta, kernel scale."""

from __future__ import annotations

from PySide6.QtWidgets import QCheckBox, QGroupBox, QVBoxLayout

from .mesh_views import schedule_paint


def _check(text: str, tip: str, checked: bool = False) -> QCheckBox:
    box = QCheckBox(text)
    box.setToolTip(tip)
    box.setChecked(checked)
    return box


class DisplayOptions(QGroupBox):
    def __init__(self, parent=None):
        super().__init__("Display", parent)
        self.wireframe = _check("Wireframe (W)", "Draw every mesh as its edges")
        self.displacement = _check("Colour by displacement", "Colour the deformed source by |x(t) - x(0)|", True)
        self.target = _check("Show target", "Translucent target behind the deformed source", True)
        self.momenta = _check(
            "Initial momenta p0",
            "Arrows of the optimised initial momenta p0, drawn on the control points where they are in the frame shown",
        )
        self.kernel_scale = _check(
            "Kernel scale on source",
            "Sphere of radius sigma (largest scale) on the source; press K over the source to move it",
        )
        col = QVBoxLayout(self)
        for box in (self.wireframe, self.displacement, self.target, self.momenta, self.kernel_scale):
            col.addWidget(box)

    def connect_window(self, window) -> None:
        self.wireframe.toggled.connect(lambda _on: self.apply_to_scene(window))
        self.displacement.toggled.connect(lambda _on: self.apply_to_scene(window))
        self.target.toggled.connect(lambda _on: self.apply_to_scene(window))
        self.momenta.toggled.connect(lambda _on: self.apply_momenta(window))
        self.kernel_scale.toggled.connect(lambda _on: self.update_kernel_sphere(window))

    def apply_to_scene(self, window) -> None:
        window.inputs.set_wireframe(self.wireframe.isChecked())
        scene = window.result.scene
        if scene is None:
            return
        scene.set_wireframe(self.wireframe.isChecked())
        scene.color_by_displacement(self.displacement.isChecked())
        window.result.show_legend(scene.by_displacement and scene.n_frames > 1)
        scene.show_target(self.target.isChecked())
        schedule_paint(window.result.view)

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
