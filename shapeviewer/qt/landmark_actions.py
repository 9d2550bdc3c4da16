"""Glue between the Landmarks tab, the document and the views: files, pre-alignment, undo routing, drawing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtWidgets import QFileDialog

from ..core.alignment import MIN_LANDMARK_PAIRS, compute_alignment
from ..core.errors import InputError
from ..io.atomic import write_bytes
from ..io.landmarks import LandmarkError, Landmarks, check_on_surface, read_landmarks, write_landmarks
from . import landmark_glyphs, settings_store
from .busy import busy_cursor
from .mesh_views import schedule_paint

LANDMARK_FILTER = "Landmarks (*.csv *.mrk.json *.json *.fcsv);;All files (*)"
MATRIX_FILTER = "4x4 matrix (*.txt);;All files (*)"
MIN_PAIRS_FOR_ALIGNMENT = MIN_LANDMARK_PAIRS


def connect_landmark_tools(window) -> None:
    panel, ctl, doc = window.landmark_panel, window.landmark_control, window.doc
    panel.delete_requested.connect(ctl.delete_selected)
    panel.undo_action.triggered.connect(doc.landmarks.undo)
    panel.redo_action.triggered.connect(doc.landmarks.redo)
    panel.import_requested.connect(lambda role: import_dialog(window, role))
    panel.export_requested.connect(lambda role: export_dialog(window, role))
    panel.align_requested.connect(lambda kind: align(window, kind))
    panel.alignment_reset.connect(lambda: reset_alignment(window))
    panel.matrix_export_requested.connect(lambda: export_matrix_dialog(window))
    ctl.said.connect(window.status_line.setText)
    panel.place.toggled.connect(lambda on: _placing(window, on))
    window.paint_panel.paint.toggled.connect(lambda on: on and panel.place.setChecked(False))
    doc.landmarks.changed.connect(lambda _role: refresh(window))
    doc.result_changed.connect(lambda: show_result_landmarks(window))  # up to 10 a second in a run
    doc.frame_changed.connect(lambda _i: draw_result_landmarks(window))
    doc.alignment_changed.connect(lambda: alignment_changed(window))
    window.addActions([panel.undo_action, panel.redo_action])
    window.side_tabs.currentChanged.connect(lambda _i: route_undo(window))
    route_undo(window)
    panel.show_alignment(None)
    window.layers.add_layer(
        "Landmarks", lambda on: _show_landmarks(window, on), tip="Landmarks on the inputs and along the geodesic"
    )
    refresh(window)


def _show_landmarks(window, on: bool) -> None:
    window.landmark_control.visible = on
    window.landmark_control.redraw()
    draw_result_landmarks(window)


def _placing(window, on: bool) -> None:
    if on:
        window.paint_panel.paint.setChecked(False)  # one mouse mode at a time
        window.layers.set_visible("Landmarks", True)  # placing what one cannot see helps nobody
        window.side_tabs.setCurrentWidget(window.landmark_tab)
        window.status_line.setText(
            "Click on the source or the target to place landmarks; drag one to move it, Delete removes it"
        )
    route_undo(window)


def route_undo(window) -> None:
    """Ctrl+Z undoes landmark edits while the Landmarks tab is shown, mask strokes otherwise."""
    from PySide6.QtGui import QKeySequence

    landmarks = window.side_tabs.currentWidget() is window.landmark_tab
    owners = (window.landmark_panel, window.paint_panel)
    for panel, active in zip(owners, (landmarks, not landmarks), strict=True):
        panel.undo_action.setShortcut(QKeySequence.StandardKey.Undo if active else QKeySequence())
        panel.redo_action.setShortcut(QKeySequence.StandardKey.Redo if active else QKeySequence())


def refresh(window) -> None:
    """The landmarks changed: the list, the input views and the result view."""
    window.landmark_control.redraw()
    show_result_landmarks(window)


def show_result_landmarks(window) -> None:
    """A new geodesic (or none): the list's errors and the landmarks along it (the inputs' are unchanged)."""
    doc = window.doc
    errors = doc.result.landmark_errors(doc.landmarks) if doc.result is not None else {}
    window.landmark_panel.show_landmarks(doc.landmarks, errors)
    draw_result_landmarks(window)


def alignment_changed(window) -> None:
    """A new pre-alignment: the result view starts again from the source as the run would."""
    window.landmark_panel.show_alignment(window.doc.alignment)
    if window.doc.ready:
        window.show_rest_pose()
        window.playback_bar.set_frame_count(1)
        window.result.view.reset_camera()
        schedule_paint(window.result.view)
        draw_result_landmarks(window)


def draw_result_landmarks(window) -> None:
    """Along the geodesic: the carried source landmarks at the frame shown and their targets; before a run,
    the paired landmarks as the registration would start (the source's pre-aligned)."""
    doc, view = window.doc, window.result.view
    if window.result.scene is None:
        return
    res = doc.result
    if not window.landmark_control.visible:
        landmark_glyphs.draw_result(view, None, None, [])
        return
    if res is not None and res.report.landmark_trajectory is not None and res.info.get("landmark_labels"):
        marks = np.asarray(res.report.landmark_trajectory)
        frame = min(doc.frame, len(marks) - 1)
        target = np.asarray(res.info["target_landmarks"], dtype=np.float64)
        landmark_glyphs.draw_result(view, marks[frame], target, list(res.info["landmark_labels"]))
        return
    labels, src, tgt = doc.landmarks.pairs()
    if res is not None or not labels:
        landmark_glyphs.draw_result(view, None, None, [])
        return
    moved = src if doc.alignment is None else doc.alignment.apply(src)
    landmark_glyphs.draw_result(view, moved, tgt, labels)


# ---- files ----------------------------------------------------------------------------------------
def import_dialog(window, role: str) -> None:
    name, _ = QFileDialog.getOpenFileName(
        window, f"Import {role} landmarks", settings_store.last_folder(), LANDMARK_FILTER
    )
    if name:
        settings_store.remember_folder(Path(name))
        import_file(window, role, Path(name))


def import_file(window, role: str, path: Path) -> bool:
    """Read, check on the mesh (and pair with the other mesh's labels by order when none match), install."""
    doc = window.doc
    mesh = doc.meshes.get(role)
    if mesh is None:
        window.show_error("Cannot import landmarks", f"Open the {role} mesh before its landmarks.")
        return False
    try:
        marks = read_landmarks(path)
        marks, note = _on_surface(marks, mesh, role)
        marks, paired = _paired_by_order(marks, doc.landmarks.as_landmarks("target" if role == "source" else "source"))
        doc.landmarks.replace(role, marks)
    except (LandmarkError, InputError) as exc:
        window.show_error("Cannot import landmarks", str(exc))
        return False
    text = f"Imported {len(marks)} {role} landmarks from {path.name}{note}{paired}"
    window.status_line.setText(text)
    window.log_panel.add(text)
    return True


def _on_surface(marks: Landmarks, mesh, role: str) -> tuple[Landmarks, str]:
    """Landmarks that lie on the mesh; a file in the other anatomical frame (LPS/RAS) is converted, and said."""
    try:
        check_on_surface(marks, mesh.vertices, mesh.faces, what=role)
        return marks, ""
    except LandmarkError as exc:
        if "with x and y negated" not in str(exc):
            raise
    other = marks.in_frame("LPS" if marks.frame == "RAS" else "RAS")
    flipped = Landmarks(other.labels, other.points, marks.frame, other.name, other.file_frame)
    check_on_surface(flipped, mesh.vertices, mesh.faces, what=role)
    return flipped, " (x and y negated: the file's LPS/RAS frame did not fit the mesh, the other one does)"


def _paired_by_order(marks: Landmarks, other: Landmarks) -> tuple[Landmarks, str]:
    """Labels shared with the other mesh pair by label; with none shared and equal counts, pair by order."""
    if len(other) != len(marks) or set(other.labels) & set(marks.labels) or not len(marks):
        return marks, ""
    relabelled = Landmarks(list(other.labels), marks.points, marks.frame, marks.name, marks.file_frame)
    return relabelled, "; no label matched the other mesh's, so they pair by order"


def export_dialog(window, role: str) -> None:
    if not window.doc.landmarks.count(role):
        window.show_error("Nothing to export", f"There are no {role} landmarks.")
        return
    start = str(Path(settings_store.last_folder()) / f"{role}_landmarks.csv")
    name, _ = QFileDialog.getSaveFileName(window, f"Export {role} landmarks", start, LANDMARK_FILTER)
    if name:
        settings_store.remember_folder(Path(name))
        export_file(window, role, Path(name))


def export_file(window, role: str, path: Path) -> bool:
    try:
        write_landmarks(path, window.doc.landmarks.as_landmarks(role, name=str(path)))
    except (OSError, LandmarkError, ValueError) as exc:
        window.show_error("Cannot export landmarks", str(exc))
        return False
    window.status_line.setText(f"Exported the {role} landmarks to {path}")
    window.log_panel.add(f"exported {role} landmarks {path}")
    return True


# ---- pre-alignment --------------------------------------------------------------------------------
def align(window, kind: str) -> bool:
    """Align the source to the target: from the landmark pairs (3 or more), else ICP on the surfaces."""
    doc = window.doc
    if not doc.ready:
        window.show_error("Cannot align", "Open a source and a target mesh first.")
        return False
    if window.run.running:
        window.show_error("Registration running", "Stop the registration before aligning.")
        return False
    labels, src, tgt = doc.landmarks.pairs()
    use_pairs = len(labels) >= MIN_PAIRS_FOR_ALIGNMENT
    try:
        with busy_cursor():
            transform = compute_alignment(
                kind, doc.meshes["source"].vertices, doc.meshes["target"].vertices,
                src if labels else None, tgt if labels else None,
            )  # fmt: skip
    except (InputError, ValueError, np.linalg.LinAlgError) as exc:
        window.show_error("Cannot align", str(exc))
        return False
    if transform == doc.alignment:
        window.status_line.setText("The source is aligned so already: nothing changed")
        return True
    if not _may_discard_result(window, "Aligning the source"):
        return False
    before = doc.alignment
    doc.set_alignment(transform)
    follows = _scales_follow_the_source(window, before)
    how = f"from {len(labels)} landmark pairs" if use_pairs else "by ICP on the surfaces"
    if not use_pairs and labels:
        pairs = "the landmark pair" if len(labels) == 1 else f"the {len(labels)} landmark pairs"
        how += f", started from the pose that brings {pairs} closest ({MIN_PAIRS_FOR_ALIGNMENT} are needed to fit them)"
    window.landmark_panel.show_alignment(transform, how)
    text = f"Aligned the source {how}: {transform.describe()}{follows}"
    window.status_line.setText(text)
    window.log_panel.add(text)
    return True


def _scales_follow_the_source(window, before) -> str:
    """After a change of the alignment's scale: the default kernel and fidelity scales follow the source's new
    size (the run registers the aligned source, in the target's units); the words to add, or ''."""
    doc = window.doc
    old, new = (1.0 if t is None else t.scale for t in (before, doc.alignment))
    if np.isclose(old, new, rtol=1e-9):
        return ""
    window.parameters.set_meshes(doc.aligned_source(), doc.meshes["target"].vertices)
    window.display.update_kernel_sphere(window)
    kept = "" if window.parameters.kernel.follows_size else " (the custom kernel string is kept as typed)"
    return f"; the kernel and fidelity scales now follow the source's size ({new / old:.4g}x){kept}"


def reset_alignment(window) -> bool:
    if window.doc.alignment is None or not _may_discard_result(window, "Resetting the alignment"):
        return False
    before = window.doc.alignment
    window.doc.set_alignment(None)
    follows = _scales_follow_the_source(window, before)
    window.status_line.setText(f"The source is registered as it was read (no pre-alignment){follows}")
    return True


def _may_discard_result(window, doing: str) -> bool:
    """A geodesic computed from the source's current pose is shown: ask before it goes."""
    if window.doc.result is None:
        return True
    return window.ask_yes_no(
        "Discard the registration?",
        f"{doing} discards the registration shown (it starts from the source's current pose). Continue?",
    )


def export_matrix_dialog(window) -> None:
    if window.doc.alignment is None:
        window.show_error("Nothing to export", "The source is not pre-aligned.")
        return
    start = str(Path(settings_store.last_folder()) / "alignment.txt")
    name, _ = QFileDialog.getSaveFileName(window, "Export the alignment matrix", start, MATRIX_FILTER)
    if name:
        settings_store.remember_folder(Path(name))
        export_matrix(window, Path(name))


def export_matrix(window, path: Path) -> bool:
    """The 4x4 homogeneous matrix, one row per line (aligned = M @ [x, y, z, 1]; np.loadtxt reads it)."""
    t = window.doc.alignment
    lines = [f"# shapeviewer pre-alignment ({t.kind}, {t.method}): aligned = M @ [x, y, z, 1] of the source"]
    lines += [" ".join(f"{v:.17g}" for v in row) for row in t.matrix]
    try:
        write_bytes(path, ("\n".join(lines) + "\n").encode())
    except OSError as exc:
        window.show_error("Cannot export the matrix", str(exc))
        return False
    window.status_line.setText(f"Exported the alignment matrix to {path}")
    return True
