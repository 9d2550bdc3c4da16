"""Landmarks drawn as labelled points: on the input meshes, and along the geodesic in the result view."""

from __future__ import annotations

import numpy as np
import pyvista as pv

from .mesh_views import schedule_paint

COLORS = {"source": "#b3470c", "target": "#0b5a8c"}  # darker than the meshes, so the points stand out
SELECTED_COLOR = "#ffd400"
POINT_SIZE = 14.0


def draw(plotter, name: str, points: np.ndarray, labels: list[str], color: str, subplot=(0, 0)) -> None:
    """Labelled points as one named pair of actors (replaced on each call; removed when there are none)."""
    plotter.subplot(*subplot)
    if len(points) == 0:
        for part in ("points", "labels"):
            plotter.remove_actor(f"{name}-{part}", reset_camera=False, render=False)
        return
    plotter.add_point_labels(
        np.asarray(points, dtype=float),
        [str(lb) for lb in labels],
        name=name,
        font_size=13,
        text_color="white",
        shape_color=color,
        shape_opacity=0.85,
        point_color=color,
        point_size=POINT_SIZE,
        render_points_as_spheres=True,
        always_visible=True,  # a label names its point even when the mesh hides it
        reset_camera=False,
        render=False,
    )


def draw_inputs(inputs, points: dict[str, np.ndarray], labels: dict[str, list[str]], selected=None) -> None:
    """The landmarks of both input meshes; ``selected`` = (role, label) is drawn highlighted."""
    for column, role in enumerate(("source", "target")):
        pts, lbs = points[role], labels[role]
        chosen = selected is not None and selected[0] == role and selected[1] in lbs
        keep = [i for i, lb in enumerate(lbs) if not (chosen and lb == selected[1])]
        draw(inputs.view, f"landmarks-{role}", pts[keep], [lbs[i] for i in keep], COLORS[role], (0, column))
        if chosen:
            i = lbs.index(selected[1])
            draw(inputs.view, f"landmark-selected-{role}", pts[i : i + 1], [lbs[i]], SELECTED_COLOR, (0, column))
        else:
            draw(inputs.view, f"landmark-selected-{role}", np.zeros((0, 3)), [], SELECTED_COLOR, (0, column))
    schedule_paint(inputs.view)


def draw_result(view, moving: np.ndarray | None, target: np.ndarray | None, labels: list[str]) -> None:
    """The source landmarks where the flow has carried them at the frame shown (labelled), their targets
    (unlabelled points, so two labels do not cover each other) and a line from each to its target."""
    empty = np.zeros((0, 3))
    moving = empty if moving is None else np.asarray(moving, dtype=float)
    target = empty if target is None else np.asarray(target, dtype=float)
    draw(view, "landmarks-deformed", moving, labels, COLORS["source"])
    view.remove_actor("landmarks-goal-labels", reset_camera=False, render=False)
    for name in ("landmarks-goal-points", "landmarks-gap"):
        view.remove_actor(name, reset_camera=False, render=False)
    if len(target):
        view.add_mesh(pv.PolyData(target), color=COLORS["target"], point_size=POINT_SIZE,
                      render_points_as_spheres=True, name="landmarks-goal-points", reset_camera=False,
                      pickable=False)  # fmt: skip
    if len(moving) and len(moving) == len(target):
        k = len(moving)
        lines = np.column_stack([np.full(k, 2), np.arange(k), np.arange(k, 2 * k)]).ravel()
        gaps = pv.PolyData(np.vstack([moving, target]), lines=lines)
        view.add_mesh(gaps, color=COLORS["target"], line_width=2, name="landmarks-gap", reset_camera=False,
                      pickable=False)  # fmt: skip
    schedule_paint(view)
