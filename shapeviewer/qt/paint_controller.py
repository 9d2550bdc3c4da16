"""Weight painting on the source view: press-drag-release strokes with a brush cursor, undo per stroke.

Mouse events are observed on the VTK interactor ahead of the camera style; in paint mode a press on
the source starts a stroke and the camera does not move, elsewhere the camera behaves as usual.
"""

from __future__ import annotations

import numpy as np
import pyvista as pv
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack

from ..core.weight_brush import WEIGHT_MAX, Brush, WeightPainter
from ..render.stand_in import VertexSubsetStandIn
from .mesh_views import SOURCE_VALUES, schedule_paint


class _MaskChange(QUndoCommand):
    """One stroke or one fill: the weights before and after."""

    def __init__(self, controller, before: np.ndarray, after: np.ndarray, text: str):
        super().__init__(text)
        self.controller, self.before, self.after = controller, before, after
        self.first = True

    def redo(self):
        if self.first:  # already applied while painting
            self.first = False
            return
        self.controller.set_weights(self.after, record=False)

    def undo(self):
        self.controller.set_weights(self.before, record=False)


STROKE_STAND_IN_ABOVE = 30_000  # sources with more vertices are drawn as a stand-in during a stroke
STROKE_STAND_IN_POINTS = 15_000


class StrokeStandIn:
    """A decimated copy of the source (its vertices are source vertices) drawn while a stroke lasts."""

    def __init__(self, inputs):
        self.inputs = inputs
        full = inputs.meshes["source"]
        self.proxy = VertexSubsetStandIn(full, np.asarray(full.points), STROKE_STAND_IN_POINTS)
        view = inputs.view
        view.subplot(0, 0)
        source_actor = inputs.actors["source"]
        self.actor = view.add_mesh(
            self.proxy.mesh,
            scalars=SOURCE_VALUES,
            cmap="plasma",
            clim=source_actor.mapper.scalar_range,
            show_scalar_bar=False,
            name="stroke-stand-in",
            reset_camera=False,
        )
        self.actor.SetVisibility(False)
        self.shown = False

    def show(self, weights: np.ndarray) -> None:
        self.actor.mapper.scalar_range = self.inputs.actors["source"].mapper.scalar_range
        self.update(weights)
        self.actor.SetVisibility(True)
        self.inputs.actors["source"].SetVisibility(False)
        self.shown = True

    def update(self, weights: np.ndarray) -> None:
        self.proxy.show_values(SOURCE_VALUES, weights)
        schedule_paint(self.inputs.view)

    def hide(self) -> None:
        self.actor.SetVisibility(False)
        self.inputs.actors["source"].SetVisibility(True)
        self.shown = False

    def remove(self) -> None:
        self.inputs.view.remove_actor(self.actor, render=False)


class PaintController(QObject):
    mask_changed = Signal()

    def __init__(self, inputs, parent=None):
        super().__init__(parent)
        self.inputs = inputs
        self.painter: WeightPainter | None = None
        self.brush = Brush(radius=0.1)
        self.enabled = False
        self.undo_stack = QUndoStack(self)
        self.cursor_actor = None
        self.last_point: np.ndarray | None = None  # where the brush last was on the source
        self._before: np.ndarray | None = None
        self._stroke_at: np.ndarray | None = None  # the previous brush position of the stroke in progress
        self._stand_in: StrokeStandIn | None = None
        iren = inputs.view.iren.interactor
        self._tags = {}
        for event, handler in (
            ("LeftButtonPressEvent", self._press),
            ("MouseMoveEvent", self._move),
            ("LeftButtonReleaseEvent", self._release),
        ):
            self._tags[event] = iren.AddObserver(event, handler, 10.0)  # before the camera style

    # ---- state --------------------------------------------------------------------------------
    def set_mesh(self, vertices: np.ndarray, faces: np.ndarray, weights: np.ndarray | None = None) -> None:
        self.painter = WeightPainter(vertices, faces, weights)
        self.last_point = None
        if self._stand_in is not None:
            self._stand_in.remove()
            self._stand_in = None
        size = float(np.linalg.norm(np.ptp(vertices, axis=0)))
        self.brush.radius = 0.08 * size
        self.undo_stack.clear()
        self.refresh()

    @property
    def weights(self) -> np.ndarray | None:
        return None if self.painter is None else self.painter.weights

    def mask(self) -> np.ndarray | None:
        """The weights when they differ from all ones (the default mu = area), else None."""
        w = self.weights
        return None if w is None or np.all(w == 1.0) else w.copy()

    def set_weights(self, weights: np.ndarray, record: bool = True, text: str = "set mask") -> None:
        before = self.painter.weights.copy()
        self.painter.weights[:] = weights
        if record:
            self.undo_stack.push(_MaskChange(self, before, self.painter.weights.copy(), text))
        self.refresh()

    def edit(self, text: str, operation) -> None:
        """A whole-mesh operation (fill, invert, clear) as one undo step."""
        if self.painter is None:
            return
        before = self.painter.weights.copy()
        operation(self.painter)
        self.undo_stack.push(_MaskChange(self, before, self.painter.weights.copy(), text))
        self.refresh()

    def refresh(self) -> None:
        w = self.weights
        painted = w is not None and (self.enabled or not np.all(w == 1.0))
        top = max(WEIGHT_MAX, float(w.max())) if w is not None and w.size else WEIGHT_MAX
        self.inputs.show_source_values(w if painted else None, "weight", top)
        self.mask_changed.emit()

    def set_enabled(self, on: bool) -> None:
        self.enabled = on
        if not on:
            self._hide_cursor()
        self.refresh()

    # ---- strokes ------------------------------------------------------------------------------
    def pick(self, x: int, y: int) -> np.ndarray | None:
        """The point of the source under display position (x, y), or None."""
        return self.inputs.pick_source(x, y, self._stand_in.actor if self._stand_in_shown() else None)

    @property
    def last_vertex(self) -> int | None:
        """The source vertex under the brush's last position (the seed of a region fill)."""
        return None if self.last_point is None else self.inputs.nearest_source_vertex(self.last_point)

    def begin_stroke(self) -> None:
        self._before = self.painter.weights.copy()
        self._stroke_at = None
        # nothing moves in the target view during a stroke (the camera is held): keep its pixels
        self._target_renderer().SetDraw(False)
        if len(self.painter.weights) > STROKE_STAND_IN_ABOVE:
            if self._stand_in is None:
                self._stand_in = StrokeStandIn(self.inputs)
            self._stand_in.show(self.painter.weights)

    def _stand_in_shown(self) -> bool:
        return self._stand_in is not None and self._stand_in.shown

    def _target_renderer(self):
        return self.inputs.view.renderers[1]

    def step(self, point: np.ndarray) -> None:
        """The brush at ``point``; within a stroke, along the segment from the previous sample."""
        if self._stroke_at is None:
            self.painter.stroke_step(point, self.brush)
        else:
            self.painter.stroke_segment(self._stroke_at, point, self.brush)
        self._stroke_at = self.last_point = point
        if self._stand_in_shown():  # large mesh mid-stroke: only the stand-in's colours change
            self._stand_in.update(self.painter.weights)
        else:
            self.refresh()

    def end_stroke(self) -> None:
        if self._before is None:
            return
        self._target_renderer().SetDraw(True)
        if self._stand_in_shown():
            self._stand_in.hide()
            self.refresh()
        schedule_paint(self.inputs.view)
        after = self.painter.weights.copy()
        if not np.array_equal(after, self._before):
            self.undo_stack.push(_MaskChange(self, self._before, after, f"{self.brush.mode} stroke"))
        self._before = None

    def _abort(self, interactor, event: str) -> None:
        interactor.GetCommand(self._tags[event]).SetAbortFlag(1)

    def _press(self, interactor, event) -> None:
        if not self.enabled or self.painter is None:
            return
        point = self.pick(*interactor.GetEventPosition())
        if point is None:
            return  # off the source: the camera rotates as usual
        self.begin_stroke()
        self.step(point)
        self._abort(interactor, event)

    def _move(self, interactor, event) -> None:
        if not self.enabled or self.painter is None:
            return
        point = self.pick(*interactor.GetEventPosition())
        self._show_cursor(point)
        if point is not None:
            self.last_point = point
        if self._before is not None:
            if point is not None:
                self.step(point)
            self._abort(interactor, event)

    def _release(self, interactor, event) -> None:
        if self._before is not None:
            self.end_stroke()
            self._abort(interactor, event)

    # ---- brush cursor -------------------------------------------------------------------------
    def _show_cursor(self, point: np.ndarray | None) -> None:
        view = self.inputs.view
        if point is None:
            self._hide_cursor()
            return
        if self.cursor_actor is None:
            view.subplot(0, 0)
            sphere = pv.Sphere(radius=1.0, theta_resolution=24, phi_resolution=16)
            self.cursor_actor = view.add_mesh(
                sphere,
                color="white",
                style="wireframe",
                opacity=0.6,
                name="brush-cursor",
                reset_camera=False,
                pickable=False,
            )
        self.cursor_actor.SetPosition(*point)
        self.cursor_actor.SetScale(self.brush.radius)
        self.cursor_actor.SetVisibility(True)
        schedule_paint(view)

    def _hide_cursor(self) -> None:
        if self.cursor_actor is not None and self.cursor_actor.GetVisibility():
            self.cursor_actor.SetVisibility(False)
            schedule_paint(self.inputs.view)
