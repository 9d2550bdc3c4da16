"""Surface distances of the frame shown, both ways, kept up to date for the result view and the Distances tab.

Small pairs are measured at once on the GUI thread (the 2 x 1056-triangle demo: a few ms), during playback
only when distance colours are shown; larger ones in a separate process (qt/measuring_process.py: libigl
holds the GIL, which a thread would take from the GUI) after a short pause in the changes, and not while
playback runs or a registration sends new geodesics: then the colours are plain until the frame shown is
measured. The target's index is built once per target for the exports (GUI thread), and kept in the
measuring process for its frames.
"""

from __future__ import annotations

from concurrent.futures import Future
from dataclasses import dataclass

import numpy as np
import shiboken6
from PySide6.QtCore import QObject, QTimer, Signal

from ..core.surface_distance import SurfaceDistances, SurfaceIndex, both_ways
from .measuring_process import PROCESS_ENDED, MeasuringProcess, ended_unexpectedly
from .mesh_views import schedule_paint

SYNC_MAX_TRIANGLES = 2_500  # source + target triangles measured at once on the GUI thread (a few ms here)
SETTLE_MS = 150  # a larger pair is measured once the frame shown has not changed for this long


@dataclass
class FrameDistances:
    """The distances of one frame of one geodesic."""

    frame: int
    n_frames: int
    distances: SurfaceDistances


class DistanceMap(QObject):
    """Measures whatever the result view shows; ``updated`` fires when ``current`` changes (None: stale)."""

    updated = Signal()
    _computed = Signal(object, object)  # key, SurfaceDistances (from the measuring process's thread)
    _failed = Signal(object, str, bool)  # key, message, whether the measuring process died

    def __init__(self, window):
        super().__init__(window)
        self.window = window
        self.current: FrameDistances | None = None
        self.sync_max_triangles = SYNC_MAX_TRIANGLES
        self._key = None  # (scene, trajectory, frame) that ``current`` or the job in progress measures
        self._target_index: tuple[object, SurfaceIndex] | None = None  # (target Mesh, its index)
        self._process = MeasuringProcess()
        self._job: tuple[object, Future] | None = None  # (key, future) of the measurement in progress
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(SETTLE_MS)
        self._timer.timeout.connect(self.refresh)
        self._computed.connect(self._arrived)
        self._failed.connect(self._job_failed)
        doc = window.doc
        doc.result_changed.connect(self.schedule)
        doc.frame_changed.connect(self.schedule)
        doc.run_changed.connect(self.schedule)
        window.display.scene_listeners.append(self.schedule)  # a new scene (meshes, alignment) or new colouring
        window.playback.playing_changed.connect(self.schedule)
        window.destroyed.connect(lambda *_: self._process.close())

    # ---- what is measured ------------------------------------------------------------------------
    def _shown(self):
        """(scene, key, points) of what the result view shows, or None."""
        scene, meshes = self.window.result.scene, self.window.meshes
        if scene is None or "target" not in meshes or "source" not in meshes:
            return None
        if scene.trajectory.shape[1] != meshes["source"].n_vertices:
            return None  # the scene of meshes being replaced: the new one calls again once it is built
        key = (scene, scene.trajectory, scene.frame)
        return scene, key, scene.trajectory[scene.frame]

    def _same(self, a, b) -> bool:
        return a is not None and b is not None and a[0] is b[0] and a[1] is b[1] and a[2] == b[2]

    def _now(self) -> bool:
        """Whether a small pair is measured at once (not during playback unless its colours are shown)."""
        scene = self.window.result.scene
        wanted = scene.distance_map_shown and (scene.colouring == "distance" or scene.target_by_distance)
        return self.is_small() and (wanted or not self.window.playback.playing)

    def is_small(self) -> bool:
        meshes = self.window.meshes
        return sum(len(meshes[r].faces) for r in ("source", "target") if r in meshes) <= self.sync_max_triangles

    def target_index(self, target=None) -> SurfaceIndex:
        """The target's SurfaceIndex, built once per target mesh (any thread)."""
        target = target or self.window.meshes["target"]
        if self._target_index is None or self._target_index[0] is not target:
            self._target_index = (target, SurfaceIndex(target.vertices, target.faces))
        return self._target_index[1]

    def measure(self, points: np.ndarray, meshes: dict | None = None) -> SurfaceDistances:
        """Both directions between the source at ``points`` and the target, here and now."""
        meshes = meshes or dict(self.window.meshes)
        return both_ways(points, meshes["source"].faces, self.target_index(meshes["target"]))

    def to_target(self, points: np.ndarray, target=None) -> np.ndarray:
        """Each of ``points`` (a frame of the source) to the target surface."""
        return self.target_index(target).query(points)[0]

    def _shown_of(self, frame: int) -> SurfaceDistances | None:
        """The distances shown, when they are of ``frame`` of the document's result."""
        cur, trajectory = self.current, self.window.doc.result.trajectory
        if cur is not None and cur.frame == frame and self._key is not None and self._key[1] is trajectory:
            return cur.distances
        return None

    def of_frame(self, frame: int) -> SurfaceDistances:
        """Distances of ``frame`` of the document's result, both ways: the ones shown when they are of it."""
        shown = self._shown_of(frame)
        return shown if shown is not None else self.measure(self.window.doc.result.trajectory[frame])

    def to_target_of_frame(self, frame: int) -> np.ndarray:
        """Each vertex of ``frame`` of the document's result to the target (one way: half the work)."""
        shown = self._shown_of(frame)
        return shown.to_target if shown is not None else self.to_target(self.window.doc.result.trajectory[frame])

    # ---- keeping up ----------------------------------------------------------------------------
    def schedule(self, *_) -> None:
        """Something shown changed: measure now (small pair), or once things settle (large pair)."""
        shown = self._shown()
        if shown is None:
            self._set_current(None, None)
            return
        scene, key, _points = shown
        if self._same(key, self._key) and self.current is not None:
            self.window.display.refresh_legend(self.window)  # the window may have redrawn it
            return
        if self._now():
            self.refresh()
            return
        if self.current is not None:
            self._set_current(None, None)
        self._timer.start()

    def refresh(self) -> None:
        """Measure the frame shown (unless it already is, or is being measured)."""
        shown = self._shown()
        if shown is None:
            return
        scene, key, points = shown
        in_progress = self._job is not None and self._job[0] is self._key
        if self._same(key, self._key) and (self.current is not None or in_progress):
            return  # measured, or being measured
        if self._now():
            self._key = key
            self._set_current(key, self.measure(points))
            return
        if self.window.playback.playing or (self.window.doc.running and not self.is_small()):
            return  # playing_changed / run_changed call schedule again when that ends
        self._key = key
        # said by the Distances tab only: the status line keeps what matters (a run's summary, an alignment's reason)
        if self._job is not None:
            self._job[1].cancel()  # if still queued; a measurement under way finishes and is dropped
        meshes = self.window.meshes
        job = self._process.submit(np.array(points), meshes["source"].faces, meshes["target"])
        self._job = (key, job)
        job.add_done_callback(lambda f, k=key: self._done(f, k))

    def _done(self, future: Future, key) -> None:
        """On the executor's thread: hand the result to the GUI thread (queued signals)."""
        if future.cancelled() or not shiboken6.isValid(self):
            return
        exc = future.exception()
        if exc is not None:
            died = ended_unexpectedly(exc)
            self._failed.emit(key, PROCESS_ENDED if died else f"{type(exc).__name__}: {exc}", died)
        else:
            self._computed.emit(key, future.result())

    def _finished(self, key) -> None:
        if self._job is not None and self._job[0] is key:
            self._job = None

    def _arrived(self, key, distances: SurfaceDistances) -> None:
        self._finished(key)
        shown = self._shown()
        if self._same(key, self._key) and shown is not None and self._same(key, shown[1]):
            self._set_current(key, distances)
        else:
            self.schedule()  # something else is shown by now

    def _job_failed(self, key, message: str, died: bool = False) -> None:
        self._finished(key)
        self._key = None
        if died:
            self._process.close()  # the next measurement starts a new process
        self.window.show_error("Cannot measure surface distances", message)

    def _set_current(self, key, distances: SurfaceDistances | None) -> None:
        scene = key[0] if key is not None else None
        if distances is None:
            self.current = None
            if self.window.result.scene is not None and self.window.result.scene.distances is not None:
                self.window.result.scene.clear_distances()
        else:
            self.current = FrameDistances(key[2], len(key[1]), distances)
            scene.set_distances(key[2], distances.to_target, distances.to_source)
        self.window.display.refresh_legend(self.window)
        schedule_paint(self.window.result.view)
        self.updated.emit()
