"""pyvista scenes shared by the desktop views and off-screen rendering: no Qt here.

Colours mean one thing everywhere: orange is the source (and its deformation), blue the target.
Frames are applied by overwriting the points of one PolyData in place, never by rebuilding actors.
"""

from __future__ import annotations

import numpy as np
import pyvista as pv

from ..io.meshes import to_polydata
from .stand_in import VertexSubsetStandIn, set_point_values, set_points

SOURCE_COLOR = "#e8833a"
TARGET_COLOR = "#3f7fd8"
DISPLACEMENT = "displacement"
# The translucent target overlay is drawn from at most this many points (a decimated copy beyond):
# it is only a reference, and translucency is what costs most in software rendering.
OVERLAY_MAX_POINTS = 15_000
# While playing, larger meshes are drawn from fewer vertices (exact again when paused): in software
# OpenGL the cost of a frame is mostly per triangle, and 30 fps leaves about 33 ms for everything.
PLAYBACK_MAX_POINTS = 6_000  # the source's stand-in: a subset of its vertices
PLAYBACK_OVERLAY_MAX_POINTS = 3_000  # the translucent target's


def polydata(vertices: np.ndarray, faces: np.ndarray) -> pv.PolyData:
    """(N, 3) vertices and (M, 3) triangles -> PolyData (vertices copied)."""
    return to_polydata(np.array(vertices, dtype=np.float64), faces)


DISPLACEMENT_FLOOR = 1e-4  # of the source's size: the smallest displacement range coloured


def add_colour_legend(plotter, title: str, mapper, fmt: str, x: float = 0.8) -> None:
    """A vertical scalar bar at the right of the plotter's current renderer."""
    plotter.add_scalar_bar(
        title=title,
        mapper=mapper,
        n_labels=3,
        fmt=fmt,
        vertical=True,
        position_x=x,
        position_y=0.15,
        height=0.6,
        width=0.06,
        render=False,  # the caller schedules one paint; a render here would stall the GUI thread
    )


def overlay_mesh(mesh: pv.PolyData, max_points: int = OVERLAY_MAX_POINTS) -> pv.PolyData:
    """``mesh`` itself when small, else a decimated copy with about ``max_points`` points."""
    if mesh.n_points <= max_points:
        return mesh
    return mesh.decimate(1 - max_points / mesh.n_points).clean()


def set_style(actor, wireframe: bool) -> None:
    prop = actor.GetProperty()
    prop.SetRepresentationToWireframe() if wireframe else prop.SetRepresentationToSurface()


class DeformationScene:
    """The deformed source (frame by frame) over a translucent target, in the plotter's current renderer.

    trajectory: (T+1, N, 3) positions of the source's vertices; frame 0 is the source itself.
    """

    def __init__(self, plotter, source_vertices, source_faces, target_vertices, target_faces):
        self.plotter = plotter
        self.rest = np.array(source_vertices, dtype=np.float64)
        self.size = max(float(np.linalg.norm(np.ptp(self.rest, axis=0))), 1e-12)
        self.trajectory = self.rest[None].copy()
        self.frame = 0
        self.displacement_range = 1e-12
        self.mesh = polydata(self.rest, source_faces)
        self.mesh.point_data[DISPLACEMENT] = np.zeros(len(self.rest))
        self.target = overlay_mesh(polydata(target_vertices, target_faces))
        # one translucent surface needs no order-independent transparency (two extra full-screen passes)
        plotter.renderer.SetUseOIT(False)
        self.target_actor = plotter.add_mesh(
            self.target, color=TARGET_COLOR, opacity=0.3, name="target", label="target", reset_camera=False
        )
        self.actor = plotter.add_mesh(
            self.mesh,
            scalars=DISPLACEMENT,
            cmap="viridis",
            clim=(0, 1),
            name="deformed",
            label="deformed source",
            show_scalar_bar=False,
            color=SOURCE_COLOR,
            smooth_shading=False,
        )
        self.actor.mapper.scalar_visibility = False
        self.arrows_actor = None
        self.by_displacement = False
        self.proxy, self.proxy_actor, self.fast = None, None, False
        self.lod_threshold = PLAYBACK_MAX_POINTS  # above this many vertices, playback draws a stand-in
        self.overlay_lod_threshold = PLAYBACK_OVERLAY_MAX_POINTS
        self.target_fast: pv.PolyData | None = None

    def prepare_playback(self) -> None:
        """Build the lighter stand-ins that playback draws (once; call it where a wait is expected)."""
        if self.proxy is None and self.mesh.n_points > self.lod_threshold:
            self.proxy = VertexSubsetStandIn(self.mesh, self.rest, self.lod_threshold)
            self.proxy_actor = self.plotter.add_mesh(
                self.proxy.mesh,
                scalars=DISPLACEMENT,
                cmap="viridis",
                color=SOURCE_COLOR,
                name="deformed-lod",
                show_scalar_bar=False,
                smooth_shading=False,
                reset_camera=False,
            )
            self.proxy_actor.SetVisibility(self.fast)
            self._sync_proxy_style()
        if self.target_fast is None and self.target.n_points > self.overlay_lod_threshold:
            self.target_fast = overlay_mesh(self.target, self.overlay_lod_threshold)

    def set_fast(self, fast: bool) -> None:
        """While playing, draw stand-ins of a large source and target (exact when paused)."""
        if fast:
            self.prepare_playback()
        self.fast = fast and self.proxy is not None and self.mesh.n_points > self.lod_threshold
        if self.proxy_actor is not None:
            self.proxy_actor.SetVisibility(self.fast)
        self.actor.SetVisibility(not self.fast)
        coarse_target = fast and self.target_fast is not None and self.target.n_points > self.overlay_lod_threshold
        self.target_actor.mapper.SetInputData(self.target_fast if coarse_target else self.target)
        self.show_frame(self.frame)

    def _sync_proxy_style(self) -> None:
        if self.proxy_actor is None:
            return
        self.proxy_actor.mapper.scalar_visibility = self.actor.mapper.scalar_visibility
        self.proxy_actor.mapper.scalar_range = self.actor.mapper.scalar_range
        self.proxy_actor.GetProperty().SetRepresentation(self.actor.GetProperty().GetRepresentation())

    @property
    def n_frames(self) -> int:
        return len(self.trajectory)

    def set_trajectory(self, trajectory: np.ndarray) -> None:
        """A new (T+1, N, 3) geodesic; keeps the current frame index where it still exists."""
        if trajectory.shape[1:] != self.rest.shape:
            raise ValueError(f"trajectory has shape {trajectory.shape}, expected (T+1, {len(self.rest)}, 3)")
        self.trajectory = trajectory
        moved = np.linalg.norm(trajectory - self.rest[None], axis=2)
        # a floor: rounding noise of an unmoved mesh (1e-7) must not fill the whole colour scale
        self.displacement_range = max(float(moved.max()), DISPLACEMENT_FLOOR * self.size)
        self.actor.mapper.scalar_range = (0.0, self.displacement_range)
        self.color_by_displacement(self.by_displacement)
        self._sync_proxy_style()
        self.show_frame(min(self.frame, self.n_frames - 1))

    def show_frame(self, index: int) -> None:
        self.frame = int(np.clip(index, 0, self.n_frames - 1))
        self.show_points(self.trajectory[self.frame])

    def show_points(self, points: np.ndarray) -> None:
        """Any (N, 3) positions of the source (e.g. between two frames), displacement included."""
        if self.fast:
            self.proxy.show_points(points, DISPLACEMENT)
            return
        set_points(self.mesh, points)
        set_point_values(self.mesh, DISPLACEMENT, np.linalg.norm(points - self.rest, axis=1))

    def color_by_displacement(self, enabled: bool) -> None:
        """Colour by |x(t) - x(0)| (only once there is a deformation to colour)."""
        self.by_displacement = enabled
        enabled = enabled and self.n_frames > 1
        self.actor.mapper.scalar_visibility = enabled
        if enabled and DISPLACEMENT not in self.plotter.scalar_bars:
            add_colour_legend(self.plotter, DISPLACEMENT, self.actor.mapper, "%.3g")
        elif not enabled and DISPLACEMENT in self.plotter.scalar_bars:
            self.plotter.remove_scalar_bar(DISPLACEMENT, render=False)
        self._sync_proxy_style()

    def show_target(self, visible: bool) -> None:
        self.target_actor.SetVisibility(visible)

    def set_wireframe(self, wireframe: bool) -> None:
        set_style(self.actor, wireframe)
        set_style(self.target_actor, wireframe)
        self._sync_proxy_style()

    def show_momenta(self, points: np.ndarray | None, momenta: np.ndarray | None) -> None:
        """Arrows of the initial momenta p0 at their control points (None hides them)."""
        if self.arrows_actor is not None:
            self.plotter.remove_actor(self.arrows_actor, render=False)
            self.arrows_actor = None
        if points is None or momenta is None or len(points) == 0:
            return
        lengths = np.linalg.norm(momenta, axis=1)
        mean = float(lengths.mean()) if lengths.size else 0.0
        if mean <= 0:
            return
        size = float(np.linalg.norm(np.ptp(self.rest, axis=0)))
        cloud = pv.PolyData(np.asarray(points, dtype=np.float64))
        cloud["p0"] = np.asarray(momenta, dtype=np.float64) * (0.05 * size / mean)
        glyphs = cloud.glyph(orient="p0", scale="p0", factor=1.0, geom=pv.Arrow())
        self.arrows_actor = self.plotter.add_mesh(glyphs, color="#c0392b", name="momenta", reset_camera=False)
