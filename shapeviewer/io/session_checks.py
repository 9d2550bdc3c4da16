"""Checks of a session's content (parsed JSON and arrays): each returns the clean value or raises SessionProblem."""

from __future__ import annotations

import math

import numpy as np


class SessionProblem(ValueError):
    """What is wrong with a session, without the file name (the reader adds it)."""


def is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_dict(value, what: str) -> dict:
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise SessionProblem(f"{what} is not a dictionary with text keys (found {type(value).__name__})")
    return value


def check_keys(value: dict, allowed, what: str) -> dict:
    unknown = sorted(set(value) - set(allowed))
    if unknown:
        raise SessionProblem(f"{what} has unknown keys: {', '.join(unknown)}")
    return value


def check_text(value, what: str, optional: bool = False) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise SessionProblem(f"{what} is not text (found {type(value).__name__})")
    return value


def float_array(arr: np.ndarray, what: str) -> np.ndarray:
    if arr.dtype.kind != "f":
        raise SessionProblem(f"{what} has dtype {arr.dtype}, expected floating point numbers")
    arr = arr.astype(arr.dtype.newbyteorder("="), copy=False)
    if not np.isfinite(arr).all():
        raise SessionProblem(f"{what} holds non-finite values (NaN or Inf)")
    return arr


def index_array(arr: np.ndarray, upper: int, what: str) -> np.ndarray:
    """Integer indices in [0, upper) as int64; float dtypes (fractional indices) are refused."""
    if arr.dtype.kind not in "iu":
        raise SessionProblem(f"{what} has dtype {arr.dtype}, expected integer indices")
    if arr.size and (arr.min() < 0 or arr.max() >= upper):
        raise SessionProblem(f"{what} holds indices outside 0..{upper - 1}")
    return arr.astype(np.int64)


def check_mesh(arrays: dict, role: str) -> tuple[np.ndarray, np.ndarray]:
    v, f = arrays[f"{role}_vertices"], arrays[f"{role}_faces"]
    if v.ndim != 2 or v.shape[1] != 3 or not len(v) or f.ndim != 2 or f.shape[1] != 3 or not len(f):
        raise SessionProblem(f"the stored {role} mesh is malformed ({v.shape} vertices, {f.shape} faces)")
    vertices = float_array(v, f"the {role} vertices").astype(np.float64)
    return vertices, index_array(f, len(v), f"the {role} faces")


def check_mask(mask: np.ndarray | None, n_vertices: int) -> np.ndarray | None:
    """Weights >= 0, one per source vertex (all zero is a painting state, kept)."""
    if mask is None:
        return None
    if mask.shape != (n_vertices,):
        raise SessionProblem(f"the mask has {mask.shape} values for {n_vertices} vertices")
    mask = float_array(mask, "the mask").astype(np.float64)
    if (mask < 0).any():
        count = int((mask < 0).sum())
        raise SessionProblem(f"the mask holds {count} negative weight{'s' if count > 1 else ''}")
    return mask


def check_geodesic(traj: np.ndarray | None, n_vertices: int) -> np.ndarray:
    if traj is None:
        raise SessionProblem("the result has no stored geodesic")
    if traj.ndim != 3 or traj.shape[1:] != (n_vertices, 3) or not len(traj):
        raise SessionProblem(f"the stored geodesic {traj.shape} does not fit the source mesh ({n_vertices}, 3)")
    return float_array(traj, "the geodesic")


def check_momenta(momenta: np.ndarray | None, control: np.ndarray | None, n_vertices: int) -> np.ndarray:
    """(n, 3): one momentum per control point, or (sessions without control_index) up to one per vertex."""
    if momenta is None:
        raise SessionProblem("the result has no stored momenta")
    n = len(control) if control is not None else None
    fits = momenta.ndim == 2 and momenta.shape[1] == 3 and 1 <= len(momenta) <= n_vertices
    if not fits or n is not None and len(momenta) != n:
        expected = f"({n}, 3)" if n is not None else f"(n, 3) with 1 <= n <= {n_vertices}"
        raise SessionProblem(f"the stored momenta have shape {momenta.shape}, expected {expected}")
    return float_array(momenta, "the momenta")


def check_control_index(index: np.ndarray | None, n_vertices: int) -> np.ndarray | None:
    if index is None:
        return None
    if index.ndim != 1 or not len(index):
        raise SessionProblem(f"the control point indices have shape {index.shape}, expected (n,)")
    index = index_array(index, n_vertices, "the control point indices")
    if len(np.unique(index)) != len(index):
        raise SessionProblem("the control point indices repeat a vertex")
    return index


def check_frame(frame, n_frames: int) -> int:
    if not is_int(frame) or not 0 <= frame < max(n_frames, 1):
        raise SessionProblem(f"the playback frame {frame!r} is not a frame of the geodesic (0..{max(n_frames - 1, 0)})")
    return frame


def check_camera(camera) -> list[tuple[float, float, float]] | None:
    """Position, focal point and view-up (pyvista's ``camera_position``): finite, not degenerate."""
    if camera is None:
        return None
    ok = isinstance(camera, (list, tuple)) and len(camera) == 3
    ok = ok and all(isinstance(v, (list, tuple)) and len(v) == 3 and all(map(is_number, v)) for v in camera)
    if not ok or not all(math.isfinite(x) for v in camera for x in v):
        raise SessionProblem(f"the camera {camera!r:.80} is not three finite 3-vectors")
    position, focal, up = (tuple(float(x) for x in v) for v in camera)
    if position == focal or up == (0.0, 0.0, 0.0):
        raise SessionProblem("the camera is degenerate (its position is its focal point, or view-up is zero)")
    return [position, focal, up]


def check_history(history) -> dict:
    """Loss curves: {name: [numbers]}, and where levels begin: 'levels': [[iteration, level, vertices], ...]."""
    check_dict(history, "the result's history")
    for name, values in history.items():
        if name == "levels":
            if not isinstance(values, list) or not all(map(_is_level_start, values)):
                raise SessionProblem("the result's history 'levels' is not a list of [iteration, level, vertices]")
        elif not isinstance(values, list) or not all(map(is_number, values)):
            raise SessionProblem(f"the result's history '{name}' is not a list of numbers")
    return history


def _is_level_start(value) -> bool:
    return (
        isinstance(value, list)
        and len(value) == 3
        and all(isinstance(x, int) and not isinstance(x, bool) for x in value)
    )


def check_levels(levels) -> list | None:
    if levels is None:
        return None
    if not isinstance(levels, list):
        raise SessionProblem(f"the result's levels are not a list (found {type(levels).__name__})")
    return [check_dict(level, "a level of the result") for level in levels]


def check_landmarks(data) -> dict | None:
    """{"source"|"target": {label: [x, y, z]}} with finite coordinates, or None."""
    if data is None:
        return None
    check_keys(check_dict(data, "the landmarks"), ("source", "target"), "the landmarks")
    out = {}
    for role in ("source", "target"):
        points = check_dict(data.get(role, {}), f"the {role} landmarks")
        for label, p in points.items():
            if not (isinstance(p, list) and len(p) == 3 and all(is_number(x) and math.isfinite(x) for x in p)):
                raise SessionProblem(f"{role} landmark {label!r:.40} is not three finite numbers")
        out[role] = {label: [float(x) for x in p] for label, p in points.items()}
    return out


def check_alignment(data) -> dict | None:
    """A pre-alignment as RigidTransform.to_json() wrote it (its 4x4 matrix a similarity), or None."""
    if data is None:
        return None
    from ..core.alignment import RigidTransform
    from ..core.errors import InputError

    try:
        RigidTransform.from_json(check_dict(data, "the alignment"))
    except InputError as exc:
        raise SessionProblem(str(exc)) from None
    return data


def check_landmark_trajectory(traj: np.ndarray | None, n_frames: int) -> np.ndarray | None:
    if traj is None:
        return None
    traj = float_array(traj, "the landmark trajectory")
    if traj.ndim != 3 or traj.shape[0] != n_frames or traj.shape[2] != 3:
        raise SessionProblem(f"the landmark trajectory has shape {traj.shape}, expected ({n_frames}, K, 3)")
    return traj
