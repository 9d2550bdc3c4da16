"""Placing, selecting, dragging and deleting landmarks with the mouse on the input views.

In placement mode a press on a landmark selects it and a drag moves it along its surface (one undo step);
a press elsewhere on the source or the target adds the next landmark of that mesh; a press off the meshes
turns the camera as usual. Delete removes the selected landmark. Observers run ahead of the camera style,
as the weight painter's do (only one of the two modes is on at a time).
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject, Signal
from vtkmodules.vtkRenderingCore import vtkCellPicker

from . import landmark_glyphs

ROLES = ("source", "target")
GRAB_PIXELS = 12.0  # a press this close to a landmark (on screen) grabs it


class LandmarkController(QObject):
    selection_changed = Signal(object)  # (role, label) or None
    said = Signal(str)  # what happened, for the status bar

    def __init__(self, inputs, landmarks, parent=None):
        super().__init__(parent)
        self.inputs, self.landmarks = inputs, landmarks
        self.enabled = False
        self.visible = True  # the Landmarks layer
        self.selected: tuple[str, str] | None = None
        self._drag: tuple[str, str, np.ndarray] | None = None  # role, label, where it is now
        self._tags = {}
        iren = inputs.view.iren.interactor
        for event, handler in (
            ("LeftButtonPressEvent", self._press),
            ("MouseMoveEvent", self._move),
            ("LeftButtonReleaseEvent", self._release),
            ("KeyPressEvent", self._key),
        ):
            self._tags[event] = iren.AddObserver(event, handler, 10.0)
        landmarks.changed.connect(self._changed)

    # ---- state ----------------------------------------------------------------------------------
    def set_enabled(self, on: bool) -> None:
        self.enabled = on
        if not on:
            self._drag = None

    def select(self, selection: tuple[str, str] | None) -> None:
        if selection is not None and selection[1] not in self.landmarks.points[selection[0]]:
            selection = None
        if selection != self.selected:
            self.selected = selection
            self.selection_changed.emit(selection)
        self.redraw()

    def delete_selected(self) -> bool:
        if self.selected is None:
            return False
        role, label = self.selected
        self.landmarks.delete(role, label)  # _changed drops the selection
        self.said.emit(f"Deleted {role} landmark {label}")
        return True

    def redraw(self) -> None:
        shown = self.visible
        points = {role: self.landmarks.array(role) if shown else np.zeros((0, 3)) for role in ROLES}
        labels = {role: self.landmarks.labels(role) if shown else [] for role in ROLES}
        if self._drag is not None and shown:
            role, label, where = self._drag
            points[role][labels[role].index(label)] = where
        landmark_glyphs.draw_inputs(self.inputs, points, labels, self.selected)

    def _changed(self, _role: str) -> None:
        if self.selected is not None and self.selected[1] not in self.landmarks.points[self.selected[0]]:
            self.selected = None
            self.selection_changed.emit(None)
        self.redraw()

    # ---- picking --------------------------------------------------------------------------------
    def role_at(self, x: int, y: int) -> str | None:
        """The input view under display position (x, y) (VTK's, y up)."""
        renderer = self.inputs.view.iren.interactor.FindPokedRenderer(x, y)
        for column, role in enumerate(ROLES):
            if renderer is self.inputs.view.renderers[column]:
                return role
        return None

    def surface_point(self, role: str, x: int, y: int) -> np.ndarray | None:
        actor = self.inputs.actors.get(role)
        if actor is None:
            return None
        picker = vtkCellPicker()
        picker.SetTolerance(0.0005)
        picker.PickFromListOn()  # the mesh only: a landmark's glyph or label in front of it does not hide it
        picker.AddPickList(actor)
        picker.Pick(x, y, 0, self.inputs.view.renderers[ROLES.index(role)])
        return np.array(picker.GetPickPosition()) if picker.GetActor() is actor else None

    def display_position(self, role: str, point) -> np.ndarray:
        """Where ``point`` (world) is drawn in ``role``'s view, in VTK display pixels (y up)."""
        renderer = self.inputs.view.renderers[ROLES.index(role)]
        renderer.SetWorldPoint(*[float(c) for c in point], 1.0)
        renderer.WorldToDisplay()
        return np.array(renderer.GetDisplayPoint()[:2])

    def landmark_at(self, role: str, x: int, y: int) -> str | None:
        """The landmark of ``role`` drawn within GRAB_PIXELS of (x, y), nearest first."""
        best, best_d = None, GRAB_PIXELS
        for label, point in self.landmarks.points[role].items():
            d = float(np.linalg.norm(self.display_position(role, point) - (x, y)))
            if d <= best_d:
                best, best_d = label, d
        return best

    # ---- events ---------------------------------------------------------------------------------
    def _abort(self, interactor, event: str) -> None:
        interactor.GetCommand(self._tags[event]).SetAbortFlag(1)

    def _press(self, interactor, event) -> None:
        if not self.enabled:
            return
        x, y = interactor.GetEventPosition()
        role = self.role_at(x, y)
        if role is None or role not in self.inputs.actors:
            return
        label = self.landmark_at(role, x, y)
        if label is not None:
            self.select((role, label))
            self._drag = (role, label, self.landmarks.points[role][label].copy())
            self._abort(interactor, event)
            return
        point = self.surface_point(role, x, y)
        if point is None:  # off the mesh: the camera turns
            self.said.emit(f"No {role} surface under the pointer: press on the mesh to place a landmark")
            return
        label = self.landmarks.add(role, point)
        self.select((role, label))
        other = "target" if role == "source" else "source"
        partner = "" if label in self.landmarks.points[other] else f"; place {label} on the {other} next"
        self.said.emit(f"Placed {role} landmark {label}{partner}")
        self._abort(interactor, event)

    def _move(self, interactor, event) -> None:
        if self._drag is None:
            return
        role, label, _ = self._drag
        x, y = interactor.GetEventPosition()
        point = self.surface_point(role, x, y)
        if point is not None:
            self._drag = (role, label, point)
            self.redraw()
        self._abort(interactor, event)

    def _release(self, interactor, event) -> None:
        if self._drag is None:
            return
        role, label, where = self._drag
        self._drag = None
        if not np.array_equal(where, self.landmarks.points[role][label]):
            self.landmarks.move(role, label, where)
            self.said.emit(f"Moved {role} landmark {label}")
        self._abort(interactor, event)

    def _key(self, interactor, event) -> None:
        if self.enabled and interactor.GetKeySym() in ("Delete", "BackSpace") and self.delete_selected():
            self._abort(interactor, event)
