"""A tracked material point: picked on the source (P over the input view's source) or on the deformed source
(P over it, or a click in the result view while "Track a point" is on), then marked on the deformed source at
every frame, with its trajectory as a line in the result view, and on the source in the input view.

The point is a triangle of the source and barycentric weights on its corners, so it is the same material
point at every frame (``core.surface_distance.follow_on_mesh``), whatever pre-alignment moved the source.
"""

from __future__ import annotations

import numpy as np
import pyvista as pv
from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QGroupBox, QHBoxLayout, QLabel, QPushButton, QVBoxLayout
from vtkmodules.vtkRenderingCore import vtkCellPicker

from ..core.surface_distance import SurfaceIndex, follow_on_mesh
from ..render.stand_in import set_points
from .mesh_views import schedule_paint

MARKER_COLOR = "#00c853"
PATH_COLOR = "#1b5e20"
MARKER_PIXELS = 16.0
KEYS = ("p", "P")
HOW_TO = (
    "Tracking a point: click the deformed source in the result view, or press P over the source (input view) "
    "or over the deformed source (result view)."
)


def _barycentric(corners: np.ndarray, point: np.ndarray) -> np.ndarray:
    """Weights of ``point`` (on the triangle's plane) on the triangle's (3, 3) corners, clipped to it."""
    index = SurfaceIndex(corners, np.array([[0, 1, 2]]))
    return index.barycentric(point[None], np.array([0]))[0]


def pick_cell(view, renderer, x: int, y: int, actor) -> tuple[int, np.ndarray] | None:
    """(cell id, surface point) of ``actor`` at display (x, y) in ``renderer``, or None."""
    if actor is None:
        return None
    picker = vtkCellPicker()
    picker.SetTolerance(0.0005)
    picker.Pick(x, y, 0, renderer)
    if picker.GetActor() is not actor or picker.GetCellId() < 0:
        return None
    return int(picker.GetCellId()), np.array(picker.GetPickPosition())


class Correspondence(QObject):
    """The tracked point's state and drawing; ``changed`` fires when it is picked, moved or cleared."""

    changed = Signal()

    def __init__(self, window):
        super().__init__(window)
        self.window = window
        self.triangle: int | None = None
        self.weights: np.ndarray | None = None
        self.picking = False  # a left click on the deformed source picks (instead of turning the camera)
        self.visible = True
        self.opacity = 1.0
        self._result_actors: dict[str, object] = {}
        self._marker: pv.PolyData | None = None
        self._input_actor = None
        self.panel = TrackedPointPanel(self)
        result_iren = window.result.view.iren.interactor
        self._click_tag = result_iren.AddObserver("LeftButtonPressEvent", self._clicked, 10.0)  # before the camera
        for name, view in (("result", window.result.view), ("inputs", window.inputs.view)):
            view.iren.interactor.AddObserver("KeyPressEvent", lambda i, _e, n=name: self._key(i, n))
        doc = window.doc
        doc.frame_changed.connect(self._frame_changed)
        window.playback.playing_changed.connect(lambda playing: playing or self.panel.show_state())
        doc.result_changed.connect(self.redraw)
        doc.meshes_changed.connect(lambda role: role == "source" and self.clear())
        window.display.scene_listeners.append(self.redraw)  # a new scene: its actors were removed

    # ---- the point ------------------------------------------------------------------------------
    @property
    def active(self) -> bool:
        return self.triangle is not None

    def track(self, triangle: int, weights) -> None:
        """Track the point of source triangle ``triangle`` with barycentric ``weights`` on its corners."""
        faces = self.window.meshes["source"].faces
        if not 0 <= triangle < len(faces):
            raise ValueError(f"triangle {triangle} is not one of the source's {len(faces)}")
        w = np.asarray(weights, dtype=np.float64)
        if w.shape != (3,) or (w < 0).any() or not np.isclose(w.sum(), 1.0):
            raise ValueError(f"barycentric weights must be 3 non-negative numbers summing to 1, got {weights}")
        self.triangle, self.weights = int(triangle), w
        self.redraw()
        self.changed.emit()

    def track_vertex(self, vertex: int) -> None:
        """Track source vertex ``vertex`` (a corner of one of its triangles, weight 1)."""
        faces = self.window.meshes["source"].faces
        rows, corners = np.nonzero(faces == vertex)
        if len(rows) == 0:
            raise ValueError(f"vertex {vertex} is on no triangle of the source")
        weights = np.zeros(3)
        weights[corners[0]] = 1.0
        self.track(int(rows[0]), weights)

    def state(self) -> dict | None:
        """The tracked point for a session (JSON-able), or None."""
        if not self.active:
            return None
        return {"triangle": self.triangle, "weights": [float(x) for x in self.weights]}

    def restore(self, state: dict | None) -> None:
        """A session's tracked point; ValueError names what does not fit this source."""
        if state is None:
            self.clear()
            return
        if not isinstance(state, dict) or "triangle" not in state or "weights" not in state:
            raise ValueError("a tracked point needs 'triangle' and 'weights'")
        triangle = state["triangle"]
        if isinstance(triangle, bool) or not isinstance(triangle, int):
            raise ValueError(f"tracked point: triangle {triangle!r} is not a whole number")
        self.track(triangle, state["weights"])

    def clear(self) -> None:
        self.triangle, self.weights = None, None
        self.redraw()
        self.changed.emit()

    def trajectory(self) -> np.ndarray | None:
        """(T+1, 3): where the point is at each frame of the geodesic shown (frame 0: the source as registered)."""
        scene = self.window.result.scene
        if not self.active or scene is None:
            return None
        faces = self.window.meshes["source"].faces
        return follow_on_mesh(scene.trajectory, faces, [self.triangle], [self.weights])[:, 0]

    def on_source(self) -> np.ndarray | None:
        """The point on the input view's source (its own coordinates, before any pre-alignment)."""
        if not self.active:
            return None
        source = self.window.meshes["source"]
        return self.weights @ source.vertices[source.faces[self.triangle]]

    # ---- picking ---------------------------------------------------------------------------------
    def pick_result(self, x: int, y: int) -> bool:
        """Track the deformed source's point at display (x, y) of the result view; False when off it."""
        scene = self.window.result.scene
        if scene is None:
            return False
        actor = scene.proxy_actor if scene.fast else scene.actor
        hit = pick_cell(self.window.result.view, self.window.result.view.renderer, x, y, actor)
        if hit is None:
            return False
        cell, point = hit
        shown = scene.trajectory[scene.frame]
        faces = np.asarray(self.window.meshes["source"].faces)
        if scene.fast:  # the stand-in's cells are not the source's: the nearest triangle of the frame shown
            cell = int(SurfaceIndex(shown, faces).query(point[None])[1][0])
        self.track(cell, _barycentric(shown[faces[cell]], point))
        return True

    def pick_input(self, x: int, y: int) -> bool:
        """Track the input view source's point at display (x, y); False when off it."""
        inputs = self.window.inputs
        hit = pick_cell(inputs.view, inputs.view.renderers[0], x, y, inputs.actors.get("source"))
        if hit is None:
            return False
        cell, point = hit
        source = self.window.meshes["source"]
        self.track(cell, _barycentric(source.vertices[source.faces[cell]], point))
        return True

    def set_picking(self, on: bool) -> None:
        self.picking = on
        if self.panel.pick.isChecked() != on:
            self.panel.pick.setChecked(on)
        self.window.status_line.setText(HOW_TO if on else "Tracking by clicking is off (P over a mesh still picks)")

    def _clicked(self, interactor, event) -> None:
        if not self.picking:
            return
        if self.pick_result(*interactor.GetEventPosition()):
            interactor.GetCommand(self._click_tag).SetAbortFlag(1)  # picked: the camera does not turn

    def _key(self, interactor, where: str) -> None:
        if interactor.GetKeySym() not in KEYS:
            return
        x, y = interactor.GetEventPosition()
        if not (self.pick_result(x, y) if where == "result" else self.pick_input(x, y)):
            self.window.status_line.setText("Nothing picked: press P with the mouse over a source surface")

    # ---- drawing ---------------------------------------------------------------------------------
    def _frame_changed(self, frame: int) -> None:
        path = self.trajectory()
        if path is None or self._marker is None:
            return
        set_points(self._marker, path[min(frame, len(path) - 1)][None])
        if not self.window.playback.playing:  # a label change re-lays the window: once playback stops
            self.panel.show_state()

    def redraw(self) -> None:
        """Marker and trajectory in the result view, marker on the input view's source (or none)."""
        view = self.window.result.view
        for name in list(self._result_actors):
            view.remove_actor(self._result_actors.pop(name), render=False)
        self._marker = None
        inputs = self.window.inputs.view
        if self._input_actor is not None:
            inputs.remove_actor(self._input_actor, render=False)
            self._input_actor = None
        path = self.trajectory()
        if path is not None:
            frame = min(self.window.result.scene.frame, len(path) - 1)
            self._marker = pv.PolyData(path[frame][None].copy())
            style = dict(render_points_as_spheres=True, point_size=MARKER_PIXELS, reset_camera=False, pickable=False)
            self._result_actors["marker"] = view.add_mesh(
                self._marker, color=MARKER_COLOR, name="tracked-point", **style
            )
            if len(path) > 1:
                line = pv.lines_from_points(path)
                self._result_actors["path"] = view.add_mesh(
                    line, color=PATH_COLOR, line_width=3, name="tracked-path", reset_camera=False, pickable=False
                )
                self._result_actors["frames"] = view.add_mesh(
                    pv.PolyData(path.copy()), color=PATH_COLOR, name="tracked-frames", **{**style, "point_size": 7}
                )
            inputs.subplot(0, 0)
            self._input_actor = inputs.add_mesh(
                pv.PolyData(self.on_source()[None]), color=MARKER_COLOR, name="tracked-point", **style
            )
        self.apply_look()
        self.panel.show_state()

    def apply_look(self) -> None:
        """Visibility and opacity (the layers list sets them)."""
        for actor in (*self._result_actors.values(), self._input_actor):
            if actor is not None:
                actor.SetVisibility(self.visible)
                actor.GetProperty().SetOpacity(self.opacity)
        schedule_paint(self.window.result.view)
        schedule_paint(self.window.inputs.view)


class TrackedPointPanel(QGroupBox):
    """Display tab: the "Track a point" mode, Clear, and where the point is."""

    def __init__(self, tracker: Correspondence):
        super().__init__("Tracked point")
        self.tracker = tracker
        self.pick = QPushButton("Track a point")
        self.pick.setCheckable(True)
        self.pick.setToolTip(
            "While on, a click on the deformed source in the result view picks the point to follow along the "
            "geodesic; P over the source or the deformed source picks too"
        )
        self.clear = QPushButton("Clear")
        self.clear.setToolTip("Stop tracking the point")
        self.where = QLabel("Press P over the source, or turn on Track a point and click the result view.")
        self.where.setWordWrap(True)
        self.where.setObjectName("trackedPoint")
        row = QHBoxLayout()
        row.addWidget(self.pick)
        row.addWidget(self.clear)
        col = QVBoxLayout(self)
        col.addLayout(row)
        col.addWidget(self.where)
        self.pick.toggled.connect(tracker.set_picking)
        self.clear.clicked.connect(tracker.clear)
        self.show_state()

    def show_state(self) -> None:
        t = self.tracker
        self.clear.setEnabled(t.active)
        path = t.trajectory()
        if path is None:
            self.where.setText("Press P over the source, or turn on Track a point and click the result view.")
            return
        scene = t.window.result.scene
        frame = min(scene.frame, len(path) - 1)
        p = path[frame]
        travelled = float(np.linalg.norm(np.diff(path, axis=0), axis=1).sum())
        corners = t.window.meshes["source"].faces[t.triangle]
        self.where.setText(
            f"Triangle {t.triangle} (vertices {', '.join(map(str, corners))}; weights "
            f"{', '.join(f'{w:.2f}' for w in t.weights)})<br>frame {frame}: ({p[0]:.4g}, {p[1]:.4g}, {p[2]:.4g})"
            f"<br>moved {np.linalg.norm(path[-1] - path[0]):.4g} in a path of length {travelled:.4g}"
        )
