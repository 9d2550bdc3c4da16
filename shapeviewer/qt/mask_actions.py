"""Glue between the paint panel and the window: load/save, shortcuts, influence view, run checks."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence, QShortcut

from ..core.model import InputError
from ..document.wording import passive_words
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
    """The brush's weights become the document's mask (which revalidates Run)."""
    if window.paint_panel.influence.isChecked():
        window.paint_panel.influence.setChecked(False)  # the scaling shown no longer matches the mask
    weights = window.paint.weights
    if weights is not None and "source" in window.doc.meshes and len(weights) == window.doc.meshes["source"].n_vertices:
        window.doc.set_mask(weights.copy())


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
        return False
    window.paint.set_weights(weights, text=f"load {path.name}")
    zeros = int((weights == 0).sum())
    text = f"Loaded the mask {path.name}" + (f" ({zeros} of {len(weights)} vertices at weight 0)" if zeros else "")
    window.status_line.setText(text)  # over the message of a mask refused before, say
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
    """Colour the source by how strongly each part leads the deformation (core.influence), for this mask."""
    if not on:
        window.paint.refresh()
        return
    from ..core.influence import influence

    doc = window.doc
    source = doc.meshes.get("source")
    try:
        with busy_cursor():
            values = influence(source.vertices, source.faces, doc.mask_for_run(), doc.settings.model)
    except (InputError, ValueError, RuntimeError) as exc:
        window.paint_panel.influence.setChecked(False)
        window.show_error("Cannot compute the influence", str(exc))
        return
    window.inputs.show_source_values(values, "influence", 1.0)
    if doc.settings.model.cometric == "normalized":
        passive = int((values == 0).sum())
        text = "Influence: how strongly each part leads the deformation (1: the strongest)"
        text += f"; {passive_words(passive, 'it')}" if passive else ""
    else:
        text = "Influence under LDDMM: every vertex leads alike (the mask matters only to the normalized cometric)"
    window.status_line.setText(text)
