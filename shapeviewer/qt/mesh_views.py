"""The 3D views: source | target side by side with one shared camera, and the result view.

Each is a pyvistaqt ``QtInteractor`` held by composition. Only the GUI thread calls into them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyvista as pv
from PySide6.QtCore import QEvent, QObject, Signal
from PySide6.QtWidgets import QWidget
from pyvistaqt import QtInteractor
from vtkmodules.vtkRenderingCore import vtkCellPicker

from ..render.scene import SOURCE_COLOR, TARGET_COLOR, DeformationScene, add_colour_legend, polydata, set_style
from ..render.stand_in import set_point_values
from .camera_sync import CameraSync
from .opengl_info import multi_samples

BACKGROUND = "#f4f4f6"
SOURCE_VALUES = "shown values"
TITLE_FONT_MAX = 13  # points: what long titles get in a ~900-pixel view
DISPLACEMENT_SWATCH = "#21918c"  # the middle of viridis, the displacement colour map
DISTANCE_SWATCH = "#bc3754"  # the middle of inferno, the distance colour map
UNDEFORMED_SOURCE = "source (not deformed yet)"  # the result view's legend before any geodesic


class _FileDropFilter(QObject):
    """Accepts dropped local files on a view and reports them with the drop's horizontal position (0..1)."""

    def __init__(self, widget, on_drop):
        super().__init__(widget)
        self.widget, self.on_drop = widget, on_drop
        widget.installEventFilter(self)

    def eventFilter(self, obj, event):  # noqa: N802 (Qt name)
        kind = event.type()
        if kind in (QEvent.Type.DragEnter, QEvent.Type.DragMove):
            urls = event.mimeData().urls() if event.mimeData().hasUrls() else []
            if any(u.isLocalFile() for u in urls):
                event.acceptProposedAction()
            else:
                event.ignore()
            return True
        if kind == QEvent.Type.Drop:
            paths = [Path(u.toLocalFile()) for u in event.mimeData().urls() if u.isLocalFile()]
            fraction = event.position().x() / max(self.widget.width(), 1)
            event.acceptProposedAction()
            if paths:
                self.on_drop(paths, fraction)
            return True
        return False


def schedule_paint(view: QtInteractor) -> None:
    """Ask Qt to repaint ``view``: its paintGL renders the scene once, merged with other updates.

    (``view.render()`` renders now and then again in the paint it triggers: twice the cost.)
    """
    QWidget.update(view)


def release_view(view: QtInteractor) -> None:
    """Close ``view`` and drop its GL context's QSurface wrapper. QSurface is no QObject, so shiboken never
    learns that the surface died, and a C++ object made later at its address (a status bar, a plot's child)
    would come back under that stale wrapper ("'QSurface' object has no attribute 'addWidget'")."""
    view.close()
    forget = getattr(view, "_forget_context", None)  # pyvistaqt 0.13's; without it, nothing is kept
    if forget is not None:
        forget()


def _interactor(parent, **kwargs) -> QtInteractor:
    view = QtInteractor(parent, auto_update=False, multi_samples=multi_samples(), **kwargs)
    view.set_background(BACKGROUND)
    return view


class InputViews(QObject):
    """Source (left) and target (right) in one interactor with linked cameras."""

    files_dropped = Signal(list, str)  # paths, "source" | "target"

    def __init__(self, parent=None):
        super().__init__(parent)
        self.view = _interactor(parent, shape=(1, 2), border=False)
        self.cameras = CameraSync(self.view.renderers)  # turn together, each centred on its own mesh
        self.meshes: dict[str, pv.PolyData] = {}
        self.actors: dict[str, object] = {}
        self.kernel_sphere = None
        self.values_title: str | None = None  # the source's colour legend, when it is coloured by values
        self.kernel_center: np.ndarray | None = None
        self._drop = _FileDropFilter(self.view, self._dropped)
        self.kernel_radius: float | None = None
        # K over the source moves the kernel-scale sphere to the surface point under the mouse
        self.view.iren.interactor.AddObserver("KeyPressEvent", self._key_pressed)

    def _dropped(self, paths, fraction):
        self.files_dropped.emit(paths, "source" if fraction < 0.5 else "target")

    def set_mesh(self, role: str, vertices: np.ndarray, faces: np.ndarray, title: str) -> None:
        column = 0 if role == "source" else 1
        color = SOURCE_COLOR if role == "source" else TARGET_COLOR
        self.view.subplot(0, column)
        mesh = polydata(vertices, faces)
        self.meshes[role] = mesh
        self.cameras.set_size(column, float(np.linalg.norm(np.ptp(np.asarray(vertices), axis=0))))
        if role == "source":  # painted weights (or the Sinkhorn scaling) are shown through this array
            mesh.point_data[SOURCE_VALUES] = np.ones(mesh.n_points)
            self.actors[role] = self.view.add_mesh(
                mesh,
                scalars=SOURCE_VALUES,
                cmap="plasma",
                clim=(0, 1),
                color=color,
                name=role,
                show_scalar_bar=False,
                reset_camera=False,
            )
            self.actors[role].mapper.scalar_visibility = False
            if self.values_title in self.view.scalar_bars:  # the old source's legend goes with it
                self.view.remove_scalar_bar(self.values_title, render=False)
            self.values_title = None
        else:
            self.actors[role] = self.view.add_mesh(mesh, color=color, name=role, reset_camera=False)
        self.view.add_text(title, font_size=9, color=color, name=f"{role}-title", position="upper_left")
        if role == "source":
            self.kernel_center = None
            if self.kernel_sphere is not None:
                self.view.remove_actor(self.kernel_sphere, render=False)
                self.kernel_sphere = None

    def show_source_values(self, values: np.ndarray | None, title: str = "weight", top: float = 1.0) -> None:
        """Colour the source by per-vertex ``values`` (in place) with a legend, or plain orange (None)."""
        mesh, actor = self.meshes.get("source"), self.actors.get("source")
        if mesh is None:
            return
        bars = self.view.scalar_bars
        if values is None:
            actor.mapper.scalar_visibility = False
            if self.values_title in bars:
                self.view.remove_scalar_bar(self.values_title, render=False)
            self.values_title = None
        else:
            set_point_values(mesh, SOURCE_VALUES, values)
            actor.mapper.scalar_range = (0.0, max(float(top), 1e-12))
            actor.mapper.scalar_visibility = True
            if self.values_title != title:
                if self.values_title in bars:
                    self.view.remove_scalar_bar(self.values_title, render=False)
                self.view.subplot(0, 0)
                add_colour_legend(self.view, title, actor.mapper, "%.2g", x=0.07)  # at the source, title not clipped
                self.values_title = title
        schedule_paint(self.view)

    def reset_camera(self) -> None:
        """Each view fitted to its own mesh, both looking the same way."""
        with self.cameras.paused():
            for column, role in enumerate(("source", "target")):
                if role in self.meshes:
                    self.view.subplot(0, column)
                    self.view.reset_camera(bounds=self.meshes[role].bounds)
        self.cameras.follow(0)
        schedule_paint(self.view)

    def standard_view(self, method: str, zoom: float) -> None:
        """A pyvista standard view (``view_isometric``, ``view_xy``...) in both, each fitted to its mesh."""
        with self.cameras.paused():
            for column in range(len(self.view.renderers)):
                self.view.subplot(0, column)
                getattr(self.view, method)(render=False)
                self.cameras.camera(column).Zoom(zoom)
        self.cameras.follow(0)
        schedule_paint(self.view)

    def set_wireframe(self, wireframe: bool) -> None:
        for actor in self.actors.values():
            set_style(actor, wireframe)
        schedule_paint(self.view)

    def pick_source(self, x: int, y: int, actor=None) -> np.ndarray | None:
        """The surface point of the source (or of ``actor`` drawn in its place) at display (x, y), or None."""
        actor = actor or self.actors.get("source")
        if actor is None:
            return None
        picker = vtkCellPicker()
        picker.SetTolerance(0.0005)
        picker.Pick(x, y, 0, self.view.renderers[0])
        return np.array(picker.GetPickPosition()) if picker.GetActor() is actor else None

    def nearest_source_vertex(self, point: np.ndarray) -> int:
        points = np.asarray(self.meshes["source"].points)
        return int(np.argmin(((points - point) ** 2).sum(1)))

    def _key_pressed(self, interactor, _event) -> None:
        if interactor.GetKeySym() not in ("k", "K"):
            return
        point = self.pick_source(*interactor.GetEventPosition())
        if point is not None:
            self.move_kernel_sphere(point)

    def move_kernel_sphere(self, point: np.ndarray) -> None:
        """Centre the kernel-scale sphere on the source vertex nearest ``point``."""
        self.kernel_center = np.asarray(self.meshes["source"].points)[self.nearest_source_vertex(point)]
        if self.kernel_radius is not None:
            self.show_kernel_scale(self.kernel_radius)

    def show_kernel_scale(self, radius: float | None) -> None:
        """A translucent sphere of the kernel's radius on the source (None hides it)."""
        self.kernel_radius = radius
        if self.kernel_sphere is not None:
            self.view.remove_actor(self.kernel_sphere, render=False)
            self.kernel_sphere = None
        source = self.meshes.get("source")
        if radius is None or source is None:
            schedule_paint(self.view)
            return
        if self.kernel_center is None:  # first shown: at the vertex nearest the centroid
            points = np.asarray(source.points)
            self.kernel_center = points[self.nearest_source_vertex(points.mean(0))]
        self.view.subplot(0, 0)
        sphere = pv.Sphere(radius=radius, center=self.kernel_center, theta_resolution=32, phi_resolution=32)
        self.kernel_sphere = self.view.add_mesh(
            sphere, color="#7b1fa2", opacity=0.35, name="kernel-scale", reset_camera=False
        )
        schedule_paint(self.view)


class ResultView(QObject):
    """The deformed source over the translucent target; frames are set in place."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.view = _interactor(parent)
        self.scene: DeformationScene | None = None
        self.set_title("Result: press Run")

    def set_meshes(self, source_vertices, source_faces, target_vertices, target_faces) -> None:
        self.view.clear_actors()
        self.view.remove_legend(render=False)
        self.scene = DeformationScene(self.view, source_vertices, source_faces, target_vertices, target_faces)
        self.scene.prepare_playback()  # while loading, so that Play starts at once on large meshes
        self.show_legend(by_displacement=False)
        self.set_title("Result: press Run")

    def source_entry(self, meaning: str | None) -> str:
        """The legend's name for the orange mesh, with what its colour means; plain before any geodesic, it is
        the source at rest."""
        deformed = self.scene is not None and self.scene.n_frames > 1
        if meaning:
            return f"{'deformed source' if deformed else 'source'}: colour = {meaning}"
        return "deformed source" if deformed else UNDEFORMED_SOURCE

    def show_legend(self, by_displacement: bool | str) -> None:
        """The swatch of the deformed source is its colour, or says what the colour is (True: the displacement;
        a string: that quantity, e.g. 'distance to target')."""
        meaning = "displacement" if by_displacement is True else by_displacement
        swatch = (DISPLACEMENT_SWATCH if meaning == "displacement" else DISTANCE_SWATCH) if meaning else SOURCE_COLOR
        self.view.remove_legend(render=False)
        labels = [[self.source_entry(meaning), swatch], ["target", TARGET_COLOR]]
        self.view.add_legend(labels, bcolor=None, size=(0.3, 0.1), loc="lower left", face="rectangle")

    def set_title(self, text: str) -> None:
        """One size for every title: a corner annotation grows a short text to its largest font otherwise."""
        actor = self.view.add_text(text, font_size=8, name="result-title", position="upper_left")
        actor.SetMaximumFontSize(TITLE_FONT_MAX)

    @property
    def displayed_points(self) -> np.ndarray | None:
        return None if self.scene is None else np.array(self.scene.mesh.points)
