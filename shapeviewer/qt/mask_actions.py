"""Glue between the paint panel and the window: load/save, shortcuts, influence view, run checks."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence, QShortcut

from ..core.model import InputError
from ..io.arrays import ArrayReadError
from ..io.masks import load_mask, save_mask
from ..io.meshes import MeshReadError
from .busy import busy_cursor


def connect_mask_tools(window) -> None:
    panel, paint = window.paint_panel, window.paint
    panel.load.clicked.connect(lambda: load_mask_dialog(window))
    panel.save.clicked.connect(lambda: save_mask_dialog(window))
    panel.influence.toggled.connect(lambda on: show_influence(window, on))
    paint.mask_changed.connect(lambda: _mask_edited(window))
    panel.paint.toggled.connect(lambda on: on and window.side_tabs.setCurrentIndex(1))  # show the brush
    for key, slot in (("B", panel.paint.toggle), ("[", lambda: panel.scale_radius(1 / 1.25)),
                      ("]", lambda: panel.scale_radius(1.25))):  # fmt: skip
        QShortcut(QKeySequence(key), window, slot, context=Qt.ShortcutContext.WindowShortcut)
    window.addActions([panel.undo_action, panel.redo_action])


def _mask_edited(window) -> None:
    if window.paint_panel.influence.isChecked():
        window.paint_panel.influence.setChecked(False)  # the scaling shown no longer matches the mask
    window.setWindowModified(True)
    window.revalidate()


def mask_problem(window) -> str:
    """Why this mask cannot run: zero everywhere, or (normalized cometric) a weighted part that the kernel
    cannot reach from some zero-weight vertices, checked at the vertices farthest from any weight."""
    w = window.paint.weights
    if w is None:
        return ""
    if not (w > 0).any():
        return "the weight mask is zero everywhere: paint or fill some weight"
    kernel, params = window.parameters.kernel.kernel, window.parameters
    if kernel is None or (w > 0).all() or params.cometric.currentText() != "normalized":
        return ""
    from ..core.kernel_reach import quick_reach_problem
    from ..core.model import DTYPES

    source = window.meshes["source"]
    return quick_reach_problem(kernel, source.vertices, source.faces, w, DTYPES[params.dtype.currentText()])


def load_mask_dialog(window) -> None:
    path = window.paint_panel.ask_path(save=False)
    if path is not None:
        load_mask_file(window, path)


def load_mask_file(window, path) -> bool:
    source = window.meshes.get("source")
    if source is None:
        return False
    try:
        weights = load_mask(path, source.n_vertices)
    except (InputError, ArrayReadError, MeshReadError) as exc:
        window.show_error("Cannot load the mask", str(exc))
        window.log_panel.add(f"error: {exc}")
        return False
    window.paint.set_weights(weights, text=f"load {path.name}")
    window.log_panel.add(f"loaded mask {path}")
    return True


def save_mask_dialog(window) -> None:
    path = window.paint_panel.ask_path(save=True)
    if path is None:
        return
    source = window.meshes["source"]
    try:
        save_mask(path, window.paint.weights, source.vertices, source.faces)
    except (InputError, OSError, ValueError) as exc:
        window.show_error("Cannot save the mask", str(exc))
        return
    window.status_line.setText(f"Saved the mask to {path}")
    window.log_panel.add(f"saved mask {path}")


def show_influence(window, on: bool) -> None:
    """Colour the source by the Sinkhorn scaling lambda (normalized) or by mu (LDDMM), for this mask."""
    if not on:
        window.paint.refresh()
        return
    from ..core.model import DeformationModel

    source = window.meshes.get("source")
    try:
        settings = window.parameters.settings().model
        with busy_cursor():
            model = DeformationModel(source.vertices, source.faces, window.paint.mask(), settings)
            values = model.lam()
            title = "lambda"
            if values is None:
                values, title = model.vertex_mu.cpu().numpy(), "mu"
    except (InputError, ValueError, RuntimeError) as exc:
        window.paint_panel.influence.setChecked(False)
        window.show_error("Cannot compute the influence", str(exc))
        return
    if model.control_index is not None:  # lambda lives on the control points: spread to their vertices
        from ..core.control_points import nearest_control_point

        owner = nearest_control_point(model.vertices, model.vertices[model.control_index]).cpu().numpy()
        values = values[owner]
    values = np.asarray(values, dtype=np.float64)
    window.inputs.show_source_values(values, title, float(values.max()))
    window.status_line.setText(f"Influence: {title} from {values.min():.3g} to {values.max():.3g}")
