"""File > Export: movie, deformed mesh (current frame or every frame), momenta, screenshot, JSON summary.

Deformed meshes carry their point data 'displacement' and 'distance_to_target' (each vertex to the target
surface, as in the command line's deformed.vtp); the summary holds the last frame's surface distances."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QFileDialog, QMessageBox, QProgressDialog

from ..core.model import geodesic_distance
from ..core.surface_distance import DISTANCE_TO_TARGET
from ..document.summary import summary
from ..io.meshes import write_mesh
from ..io.output_paths import os_error_words
from ..io.results import write_json
from ..render.movie import MovieCancelled, MovieError, MovieSettings, write_movie
from . import settings_store
from .busy import busy_cursor
from .movie_dialog import MovieDialog

MESH_FORMATS = "VTK PolyData (*.vtp);;PLY (*.ply);;Wavefront OBJ (*.obj)"


def _result(window):
    """The report of the geodesic shown (final or running), or None with a message."""
    result = window.doc.result
    if result is None or window.result.scene is None:
        window.show_error("Nothing to export", "Run a registration first: there is no deformation yet.")
        return None
    return result.report


def _ask_path(window, title: str, default_name: str, filters: str) -> Path | None:
    """The file chosen. A name without one of the offered extensions ("momenta", "sigma0.5") gets the chosen
    filter's (else the default name's), so that what is written and what the status bar names are the same
    file; a file of that name already there is asked about (the dialog asked about the name as typed)."""
    start = str(Path(settings_store.last_folder()) / default_name)
    path, chosen = QFileDialog.getSaveFileName(window, title, start, filters)
    if not path:
        return None
    path = Path(path)
    offered = [e.lower() for e in re.findall(r"\*(\.\w+)", filters)]
    if path.suffix.lower() not in offered:
        chosen_ext = re.search(r"\*(\.\w+)", chosen or "")
        path = path.with_name(
            path.name.rstrip(".") + (chosen_ext.group(1) if chosen_ext else Path(default_name).suffix)
        )
        replace = QMessageBox.StandardButton.Yes
        if path.exists() and QMessageBox.question(window, title, f"{path.name} already exists. Replace it?") != replace:
            return None
    settings_store.remember_folder(path)
    return path


def _done(window, what: str, path: Path, note: str = "") -> None:
    window.status_line.setText(f"Exported {what} to {path}{note}")
    window.log_panel.add(f"exported {what}: {path}")


def _mesh_note(path: Path) -> str:
    """What a mesh format keeps of the per-vertex values (displacement, distance to the target)."""
    suffix = path.suffix.lower()
    if suffix == ".obj":
        return " (OBJ keeps no per-vertex values: VTP keeps the distances and displacements)"
    if suffix == ".ply":
        return " (distances and displacements as extra PLY vertex properties, which VTK-based readers skip: VTP)"
    return ""


def _failed(window, what: str, exc: Exception) -> None:
    window.show_error(f"Cannot export {what}", _reason(exc))


def _reason(exc: Exception) -> str:
    return os_error_words(exc) if isinstance(exc, OSError) else str(exc)


def movie_caption(window) -> str:
    result = window.doc.result
    if result is None:
        return ""
    info = result.info
    caption = f"{info.get('cometric', '')} {info.get('kernel', '')}".strip()
    return caption + f"   geodesic distance {geodesic_distance(result.report.energy):.4g}"


def export_movie(window) -> None:
    rep = _result(window)
    if rep is None:
        return
    dialog = MovieDialog(window, movie_caption(window))
    if not dialog.exec():
        return
    path = _ask_path(window, "Export movie", "geodesic.mp4", "MP4 video (*.mp4);;Animated GIF (*.gif)")
    if path is not None:
        write_movie_with_progress(window, path, dialog.settings())


def write_movie_with_progress(window, path: Path, settings: MovieSettings) -> bool:
    """Render with a cancellable progress dialog; True when the movie was written."""
    rep = _result(window)
    if rep is None:
        return False
    # busy (maximum 0) while the off-screen renderer starts, which takes seconds the first time
    progress = QProgressDialog(f"Starting the off-screen renderer for {path.name}…", "Cancel", 0, 0, window)
    progress.setObjectName("movieProgress")
    progress.setWindowModality(Qt.WindowModality.WindowModal)
    progress.setMinimumDuration(0)
    window.movie_progress = progress
    progress.show()
    QApplication.processEvents()  # drawn before the renderer's start blocks this thread

    def step(done: int, total: int) -> bool:
        if progress.maximum() != total:
            progress.setLabelText(f"Rendering {path.name}…")
        progress.setMaximum(total)
        progress.setValue(done)  # a modal progress dialog processes events here: Cancel is seen
        return not progress.wasCanceled()

    target = (window.meshes["target"].vertices, window.meshes["target"].faces)
    camera = window.result.view.camera_position
    try:
        write_movie(path, rep.trajectory, window.meshes["source"].faces, target, settings, camera, step)
    except MovieCancelled:
        window.status_line.setText(f"Movie export cancelled; {path.name} was not written")
        window.log_panel.add(f"movie export cancelled ({path})")
        return False
    except (MovieError, OSError, RuntimeError) as exc:
        _failed(window, "the movie", exc)
        return False
    finally:
        progress.close()
        progress.deleteLater()
        window.movie_progress = None
    _done(window, "the movie", path)
    return True


def export_current_mesh(window) -> None:
    if _result(window) is None:
        return
    doc = window.doc
    frame, trajectory = doc.frame, doc.result.trajectory
    path = _ask_path(window, "Export deformed mesh (current frame)", f"deformed_t{frame}.vtp", MESH_FORMATS)
    if path is None:
        return
    points = trajectory[frame]
    try:
        with busy_cursor():
            data = {
                "displacement": np.linalg.norm(points - trajectory[0], axis=1),
                DISTANCE_TO_TARGET: window.distances.to_target_of_frame(frame),
            }
            write_mesh(path, points, doc.meshes["source"].faces, data)
    except (OSError, ValueError) as exc:
        _failed(window, "the mesh", exc)
        return
    _done(window, f"frame {frame}", path, _mesh_note(path))


def export_sequence(window) -> None:
    """Every frame as NAME_000.EXT ... NAME_T.EXT next to the chosen file name, with a cancellable progress
    dialog (a 200k-vertex frame takes seconds: its distances to the target); frames written before a cancel
    are kept and said so."""
    rep = _result(window)
    if rep is None:
        return
    path = _ask_path(window, "Export every frame", "geodesic.vtp", MESH_FORMATS)
    if path is None:
        return
    faces, total = window.meshes["source"].faces, len(rep.trajectory)
    width = max(3, len(str(total - 1)))
    progress = QProgressDialog(f"Writing {total} frames as {path.stem}_*{path.suffix}…", "Cancel", 0, total, window)
    progress.setObjectName("sequenceProgress")
    progress.setWindowModality(Qt.WindowModality.WindowModal)
    progress.setMinimumDuration(0)
    window.sequence_progress = progress
    progress.show()
    QApplication.processEvents()  # drawn before the first frame's distances hold this thread
    written = 0
    try:
        for i, points in enumerate(rep.trajectory):
            progress.setValue(i)  # a modal progress dialog processes events here: Cancel is seen
            if progress.wasCanceled():
                break
            data = {
                "displacement": np.linalg.norm(points - rep.trajectory[0], axis=1),
                DISTANCE_TO_TARGET: window.distances.to_target_of_frame(i),
            }
            write_mesh(path.with_name(f"{path.stem}_{i:0{width}d}{path.suffix}"), points, faces, data)
            written += 1
    except (OSError, ValueError) as exc:
        _failed(window, f"the frames (frame {written}; {written} of {total} written before)", exc)
        return
    finally:
        progress.close()
        progress.deleteLater()
        window.sequence_progress = None
    if written < total:
        where = f"the first {written} of {total} frames are in {path.parent}" if written else "no frame was written"
        window.status_line.setText(f"Export of every frame cancelled: {where}")
        window.log_panel.add(f"export of every frame cancelled after {written} of {total} frames ({path})")
        return
    _done(window, f"{total} frames", path.parent, _mesh_note(path))


def export_momenta(window) -> None:
    rep = _result(window)
    if rep is None:
        return
    path = _ask_path(window, "Export momenta", "momenta.npy", "NumPy array (*.npy)")
    if path is None:
        return
    try:
        np.save(path, np.asarray(rep.momenta, dtype=np.float64))
    except OSError as exc:
        _failed(window, "the momenta", exc)
        return
    _done(window, "the momenta", path)


def save_screenshot(window) -> None:
    path = _ask_path(window, "Save screenshot of the result view", "result.png", "PNG image (*.png)")
    if path is None:
        return
    try:
        window.result.view.render()
        window.result.view.screenshot(str(path))
    except (OSError, ValueError, RuntimeError) as exc:
        _failed(window, "the screenshot", exc)
        return
    _done(window, "a screenshot", path)


def export_summary(window) -> None:
    if _result(window) is None:
        return
    path = _ask_path(window, "Export summary", "registration.json", "JSON (*.json)")
    if path is None:
        return
    try:
        with busy_cursor():
            data = summary(window.doc, window.distances.of_frame(window.doc.result.n_frames - 1))
        write_json(path, data)
    except (OSError, TypeError, ValueError) as exc:
        _failed(window, "the summary", exc)
        return
    _done(window, "the summary", path)
