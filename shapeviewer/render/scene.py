"""pyvista scenes shared by the desktop views and off-screen rendering: no Qt here.

Colours mean one thing everywhere: orange is the source (and its deformation), blue the target.
Frames are applied by overwriting the points of one PolyData in place, never by rebuilding actors.
The deformed source is coloured plain, by displacement or by its distance to the target; the target
may be coloured by its distance to the deformed source (both distances share one scale).
"""

from __future__ import annotations

import numpy as np
import pyvista as pv

from ..core.pyramid import quadric_decimation
from ..io.meshes import to_polydata
from .stand_in import VertexSubsetStandIn, set_point_values, set_points

SOURCE_COLOR = "#e8833a"
TARGET_COLOR = "#3f7fd8"
DISPLACEMENT = "displacement"
DISTANCE = "distance to target"  # point array of the deformed source (and its scalar bar's title)
TARGET_DISTANCE = "distance to source"  # point array of the target overlay
DISTANCE_BAR = "distance (mesh units)"  # one scalar bar for both directions: one colour map, one range
COLOURINGS = ("plain", "displacement", "distance")  # of the deformed source
COLOUR_MAPS = {"displacement": "viridis", "distance": "inferno"}  # defaults, per quantity
TARGET_OPACITY = 0.3
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
    """A vertical scalar bar at the right of the plotter's current renderer (replacing one of that title:
    pyvista returns None for a title it already has, and keeps the old bar's mapper)."""
    if plotter.render_window is None:  # closed with its window: a late update has nothing to draw on
        return
    if title in plotter.scalar_bars:
        plotter.remove_scalar_bar(title, render=False)
    bar = plotter.add_scalar_bar(
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
    bar.SetVerticalTitleSeparation(title_clearance(bar, plotter.render_window.GetDPI()))


def title_clearance(bar, dpi: int) -> int:
    """Pixels between a vertical bar's title and its top: the top label is centred on the bar's end, so
    half of it stands above the bar; without room it runs into the title."""
    label_pixels = bar.GetLabelTextProperty().GetFontSize() * dpi / 72
    return round(0.75 * label_pixels)


def overlay_mesh(mesh: pv.PolyData, max_points: int = OVERLAY_MAX_POINTS) -> pv.PolyData:
    """``mesh`` itself when small, else a decimated copy with about ``max_points`` points (fast-simplification's
    quadric decimation: 0.8 s for a 200k-vertex scan, where VTK's took 2-4 s of the GUI thread on opening it)."""
    if mesh.n_points <= max_points:
        return mesh
    return to_polydata(*quadric_decimation(np.asarray(mesh.points), mesh.regular_faces, max_points)).clean()


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
        self.mesh.point_data[DISTANCE] = np.zeros(len(self.rest))
        self.target_vertices = np.array(target_vertices, dtype=np.float64)
        self.target = overlay_mesh(polydata(target_vertices, target_faces))
        self.target.point_data[TARGET_DISTANCE] = np.zeros(self.target.n_points)
        # one translucent surface needs no order-independent transparency (two extra full-screen passes)
        plotter.renderer.SetUseOIT(False)
        self.target_actor = plotter.add_mesh(
            self.target,
            scalars=TARGET_DISTANCE,
            cmap=COLOUR_MAPS["distance"],
            show_scalar_bar=False,
            color=TARGET_COLOR,
            opacity=TARGET_OPACITY,
            name="target",
            label="target",
            reset_camera=False,
        )
        self.target_actor.mapper.scalar_visibility = False
        self.actor = plotter.add_mesh(
            self.mesh,
            scalars=DISPLACEMENT,
            cmap=COLOUR_MAPS["displacement"],
            clim=(0, 1),
            name="deformed",
            label="deformed source",
            show_scalar_bar=False,
            color=SOURCE_COLOR,
            smooth_shading=False,
        )
        self.actor.mapper.scalar_visibility = False
        self.arrows_actor = None
        self.momenta_opacity = 1.0
        self.colouring = "plain"  # what the deformed source is coloured by (COLOURINGS)
        self.target_by_distance = False
        self.distance_map_shown = True  # off: no distance colours, whatever the colouring chosen
        self.colour_maps = dict(COLOUR_MAPS)
        self.distances: tuple[int, np.ndarray, np.ndarray] | None = None  # (frame, to target, to source)
        self._overlay_index: dict[int, np.ndarray] = {}  # overlay mesh id -> its points' target vertices
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
                cmap=self.colour_maps["displacement"],
                color=SOURCE_COLOR,
                name="deformed-lod",
                show_scalar_bar=False,
                smooth_shading=False,
                reset_camera=False,
            )
            self.proxy_actor.SetVisibility(self.fast and self.actor.GetVisibility())
            self._sync_proxy_style()
        if self.target_fast is None and self.target.n_points > self.overlay_lod_threshold:
            self.target_fast = overlay_mesh(self.target, self.overlay_lod_threshold)
            self.target_fast.point_data[TARGET_DISTANCE] = np.zeros(self.target_fast.n_points)
            if self.distances is not None:
                self._set_target_values(self.distances[2])

    def set_fast(self, fast: bool) -> None:
        """While playing, draw stand-ins of a large source and target (exact when paused)."""
        if fast:
            self.prepare_playback()
        visible = self.actor.GetVisibility() or (self.proxy_actor is not None and self.proxy_actor.GetVisibility())
        self.fast = fast and self.proxy is not None and self.mesh.n_points > self.lod_threshold
        if self.proxy_actor is not None:
            self.proxy_actor.SetVisibility(self.fast and visible)
        self.actor.SetVisibility(not self.fast and visible)
        coarse_target = fast and self.target_fast is not None and self.target.n_points > self.overlay_lod_threshold
        self.target_actor.mapper.SetInputData(self.target_fast if coarse_target else self.target)
        self.show_frame(self.frame)

    def _sync_proxy_style(self) -> None:
        if self.proxy_actor is None:
            return
        mapper, proxy = self.actor.mapper, self.proxy_actor.mapper
        proxy.scalar_visibility = mapper.scalar_visibility
        proxy.array_name = mapper.array_name
        proxy.lookup_table.cmap = self.colour_maps[self._source_quantity() or "displacement"]
        proxy.scalar_range = mapper.scalar_range
        self.proxy_actor.GetProperty().SetRepresentation(self.actor.GetProperty().GetRepresentation())
        self.proxy_actor.GetProperty().SetOpacity(self.actor.GetProperty().GetOpacity())

    @property
    def n_frames(self) -> int:
        return len(self.trajectory)

    def set_trajectory(self, trajectory: np.ndarray) -> None:
        """A new (T+1, N, 3) geodesic; keeps the current frame index where it still exists."""
        if trajectory.shape[1:] != self.rest.shape:
            raise ValueError(f"trajectory has shape {trajectory.shape}, expected (T+1, {len(self.rest)}, 3)")
        self.trajectory = trajectory
        self.distances = None  # they were of another geodesic
        moved = np.linalg.norm(trajectory - self.rest[None], axis=2)
        # a floor: rounding noise of an unmoved mesh (1e-7) must not fill the whole colour scale
        self.displacement_range = max(float(moved.max()), DISPLACEMENT_FLOOR * self.size)
        self.show_frame(min(self.frame, self.n_frames - 1))
        self.apply_colouring()

    def show_frame(self, index: int) -> None:
        was_ready = self.distances_shown
        self.frame = int(np.clip(index, 0, self.n_frames - 1))
        self.show_points(self.trajectory[self.frame])
        if self.distances_shown != was_ready:  # the distances are of another frame: plain until new ones come
            self.apply_colouring()

    def show_points(self, points: np.ndarray) -> None:
        """Any (N, 3) positions of the source (e.g. between two frames), displacement included."""
        if self.fast:
            self.proxy.show_points(points, DISPLACEMENT)
            return
        set_points(self.mesh, points)
        set_point_values(self.mesh, DISPLACEMENT, np.linalg.norm(points - self.rest, axis=1))

    # ---- colouring -----------------------------------------------------------------------------
    @property
    def by_displacement(self) -> bool:
        return self.colouring == "displacement"

    @property
    def distances_shown(self) -> bool:
        """Whether distances of the frame shown are known (and the distance map is not hidden)."""
        return self.distance_map_shown and self.distances is not None and self.distances[0] == self.frame

    def _source_quantity(self) -> str | None:
        """What the deformed source's colours show now: 'displacement', 'distance' or None (plain)."""
        if self.colouring == "displacement" and self.n_frames > 1:
            return "displacement"
        if self.colouring == "distance" and self.distances_shown:
            return "distance"
        return None

    @property
    def target_coloured(self) -> bool:
        """Whether the target shows its distance to the deformed source now."""
        return self.target_by_distance and self.distances_shown

    @property
    def distance_range(self) -> float:
        """Top of the distance colours: the largest distance on the meshes coloured by it (one scale for both
        when both are), so that a mesh coloured alone spans the whole colour map."""
        if self.distances is None:
            return DISPLACEMENT_FLOOR * self.size
        _, to_target, to_source = self.distances
        source_on, target_on = self._source_quantity() == "distance", self.target_coloured
        shown = [d for d, on in ((to_target, source_on), (to_source, target_on)) if on or not (source_on or target_on)]
        return max(max(float(d.max(initial=0.0)) for d in shown), DISPLACEMENT_FLOOR * self.size)

    @property
    def colour_meaning(self) -> str | None:
        """What the deformed source's colours mean, for a legend: 'displacement', 'distance to target' or None."""
        return {"displacement": DISPLACEMENT, "distance": DISTANCE}.get(self._source_quantity())

    def color_by_displacement(self, enabled: bool) -> None:
        """Colour by |x(t) - x(0)| (only once there is a deformation to colour), or plain."""
        self.set_colouring("displacement" if enabled else "plain")

    def set_colouring(self, colouring: str) -> None:
        """'plain', 'displacement' (once there is a deformation) or 'distance' (once it is known for the frame)."""
        if colouring not in COLOURINGS:
            raise ValueError(f"unknown colouring {colouring!r}, expected one of {', '.join(COLOURINGS)}")
        self.colouring = colouring
        self.apply_colouring()

    def colour_target(self, enabled: bool) -> None:
        """Colour the target by its distance to the deformed source (once it is known for the frame)."""
        self.target_by_distance = enabled
        self.apply_colouring()

    def show_distance_map(self, shown: bool) -> None:
        """Hide or show the distance colours (of the source and the target) without changing the choices."""
        self.distance_map_shown = shown
        self.apply_colouring()

    def set_colour_map(self, quantity: str, cmap: str) -> None:
        """The colour map of 'displacement' or 'distance' (the latter for the source and the target)."""
        if quantity not in COLOUR_MAPS:
            raise ValueError(f"unknown coloured quantity {quantity!r}, expected one of {', '.join(COLOUR_MAPS)}")
        self.colour_maps[quantity] = cmap
        self.apply_colouring()

    def set_distances(self, frame: int, to_target: np.ndarray, to_source: np.ndarray) -> None:
        """Per-vertex distances at ``frame``: deformed source -> target (N,), target -> deformed source (M,)."""
        to_target, to_source = np.asarray(to_target, float), np.asarray(to_source, float)
        if to_target.shape != (len(self.rest),) or to_source.shape != (len(self.target_vertices),):
            raise ValueError(
                f"distances of shapes {to_target.shape} and {to_source.shape} do not match the meshes "
                f"({len(self.rest)} and {len(self.target_vertices)} vertices)"
            )
        self.distances = (int(frame), to_target, to_source)
        set_point_values(self.mesh, DISTANCE, to_target)
        if self.proxy is not None:
            self.proxy.show_values(DISTANCE, to_target)
        self._set_target_values(to_source)
        self.apply_colouring()

    def clear_distances(self) -> None:
        self.distances = None
        self.apply_colouring()

    def _set_target_values(self, values: np.ndarray) -> None:
        """Per full-target-vertex values onto the overlay (and its playback stand-in): nearest vertex each."""
        from scipy.spatial import cKDTree

        for mesh in (self.target, self.target_fast):
            if mesh is None:
                continue
            index = self._overlay_index.get(id(mesh))
            if index is None:
                if mesh.n_points == len(self.target_vertices):
                    index = np.arange(mesh.n_points)
                else:
                    index = cKDTree(self.target_vertices).query(np.asarray(mesh.points))[1]
                self._overlay_index[id(mesh)] = index
            set_point_values(mesh, TARGET_DISTANCE, values[index])

    def apply_colouring(self) -> None:
        """Mappers, colour maps, ranges and scalar bars after any change of colouring or values."""
        quantity = self._source_quantity()
        mapper = self.actor.mapper
        mapper.scalar_visibility = quantity is not None
        by_distance = quantity == "distance"
        mapper.array_name = DISTANCE if by_distance else DISPLACEMENT
        mapper.lookup_table.cmap = self.colour_maps["distance" if by_distance else "displacement"]
        mapper.scalar_range = (0.0, self.distance_range if by_distance else self.displacement_range)
        target_on = self.target_coloured
        self.target_actor.mapper.scalar_visibility = target_on
        if target_on:
            self.target_actor.mapper.lookup_table.cmap = self.colour_maps["distance"]
            self.target_actor.mapper.scalar_range = (0.0, self.distance_range)
        self._legend(DISPLACEMENT, quantity == "displacement", mapper)
        by_distance = quantity == "distance" or target_on
        self._legend(DISTANCE_BAR, by_distance, mapper if quantity == "distance" else self.target_actor.mapper)
        self._sync_proxy_style()

    def _legend(self, title: str, shown: bool, mapper) -> None:
        bars = self.plotter.scalar_bars
        if title in bars and (not shown or bars[title].GetLookupTable() is not mapper.GetLookupTable()):
            self.plotter.remove_scalar_bar(title, render=False)
        if shown and title not in bars:
            add_colour_legend(self.plotter, title, mapper, "%.3g")

    # ---- what is drawn -----------------------------------------------------------------------
    def show_target(self, visible: bool) -> None:
        self.target_actor.SetVisibility(visible)

    def show_deformed(self, visible: bool) -> None:
        self.actor.SetVisibility(visible and not self.fast)
        if self.proxy_actor is not None:
            self.proxy_actor.SetVisibility(visible and self.fast)

    def set_opacity(self, part: str, opacity: float) -> None:
        """Opacity in [0, 1] of 'deformed', 'target' or 'momenta'."""
        opacity = float(np.clip(opacity, 0.0, 1.0))
        if part == "deformed":
            self.actor.GetProperty().SetOpacity(opacity)
            self._sync_proxy_style()
        elif part == "target":
            self.target_actor.GetProperty().SetOpacity(opacity)
        elif part == "momenta":
            self.momenta_opacity = opacity
            if self.arrows_actor is not None:
                self.arrows_actor.GetProperty().SetOpacity(opacity)
        else:
            raise ValueError(f"unknown part {part!r}: expected deformed, target or momenta")

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
        self.arrows_actor = self.plotter.add_mesh(
            glyphs, color="#c0392b", opacity=self.momenta_opacity, name="momenta", reset_camera=False
        )
