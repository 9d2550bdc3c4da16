"""The result folder written by ``shapeviewer shoot|register`` and read by later tools."""

from __future__ import annotations

import io
import json
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .atomic import commit_folder, partial_sibling, remove_quietly, write_bytes
from .meshes import write_mesh

MASK_FILE = "mask.npy"  # the source's weights of a registration (all ones without --mask)
CONTROL_POINTS_FILE = "control_points.npy"  # the source vertex of each row of momenta.npy


def frame_name(index: int, last: int) -> str:
    return f"frame_{index:0{max(3, len(str(last)))}d}.vtp"


def write_frames(out: Path, trajectory: np.ndarray, faces: np.ndarray) -> None:
    """DIR/frames/frame_000.vtp ... frame_T.vtp from a (T+1, N, 3) trajectory."""
    frames = out / "frames"
    frames.mkdir(parents=True, exist_ok=True)
    last = len(trajectory) - 1
    for old in frames.glob("frame_*.vtp"):
        old.unlink()
    for i, points in enumerate(trajectory):
        disp = np.linalg.norm(points - trajectory[0], axis=1)
        write_mesh(frames / frame_name(i, last), points, faces, {"displacement": disp})


def write_json(path: Path, data: dict) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    write_bytes(tmp, (json.dumps(data, indent=2, default=jsonable) + "\n").encode("utf-8"))
    os.replace(tmp, path)


def save_array(path: Path, array: np.ndarray, dtype=np.float64) -> None:
    """``np.save`` through one checked, synced write."""
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(array, dtype=dtype))
    write_bytes(path, buffer.getvalue())


def jsonable(value):
    """``json.dumps(default=...)`` for numpy scalars and arrays."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def write_result_dir(
    out: str | os.PathLike,
    trajectory: np.ndarray,
    faces: np.ndarray,
    momenta: np.ndarray,
    mu: np.ndarray,
    lam: np.ndarray | None,
    result: dict,
    meshes: dict[str, tuple[np.ndarray, np.ndarray]] | None = None,
    mask: np.ndarray | None = None,
    control_index: np.ndarray | None = None,
) -> Path:
    """Write the result folder aside and rename it into place once complete (an earlier one is replaced).

    ``meshes``: further files, name -> (vertices, faces), e.g. deformed.vtp and target.vtp. ``mask``: the
    source's weights the run used, written as MASK_FILE and named in result.json under 'mask'.
    ``control_index``: the source vertices that are the control points, one per row of ``momenta``, written as
    CONTROL_POINTS_FILE (all vertices when None and there are as many momenta as vertices). A failure
    (a full disk...) raises OSError and leaves neither a half folder nor a damaged earlier result.
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = partial_sibling(out)
    try:
        write_frames(partial, trajectory, faces)
        save_array(partial / "momenta.npy", momenta)
        save_array(partial / "mu.npy", mu)
        if lam is not None:
            save_array(partial / "lambda.npy", lam)
        if control_index is None and len(momenta) == len(trajectory[0]):
            control_index = np.arange(len(momenta))
        if control_index is not None:
            save_array(partial / CONTROL_POINTS_FILE, control_index, np.int64)
        if mask is not None:
            save_array(partial / MASK_FILE, mask)
            result = {**result, "mask": MASK_FILE}
        for name, (vertices, mesh_faces) in (meshes or {}).items():
            write_mesh(partial / name, vertices, mesh_faces)
        write_json(partial / "result.json", result)
        commit_folder(partial, out)
    except BaseException:
        remove_quietly(partial)
        raise
    return out


class ResultReadError(ValueError):
    """A result folder that cannot be read back; the message names the folder and the problem."""


@dataclass
class ResultDir:
    trajectory: np.ndarray  # (T+1, N, 3)
    faces: np.ndarray  # (M, 3)
    target: tuple[np.ndarray, np.ndarray] | None  # (vertices, faces) when the folder holds target.vtp
    info: dict  # result.json


FRAME = re.compile(r"^frame_(\d+)\.vtp$")


def _frame_files(folder: Path) -> list[Path]:
    """frames/frame_0..T.vtp, all present, none extra, padded as ``frame_name`` pads them."""
    names = sorted(p.name for p in (folder / "frames").iterdir()) if (folder / "frames").is_dir() else []
    if not names:
        raise ResultReadError(f"{folder} holds no frames/frame_*.vtp: is it a 'shapeviewer register|shoot' result?")
    bad = [n for n in names if not FRAME.match(n)]
    if bad:
        raise ResultReadError(f"{folder}/frames holds a file that is not a frame: {bad[0]}")
    last = max(int(FRAME.match(n).group(1)) for n in names)  # the highest frame says how many there were
    expected = [frame_name(i, last) for i in range(last + 1)]
    if names != expected:
        missing = sorted(set(expected) - set(names))
        extra = sorted(set(names) - set(expected))
        what = f"missing {missing[0]}" if missing else f"unexpected {extra[0]}"
        raise ResultReadError(
            f"{folder}/frames is incomplete or mixed ({what}; expected {expected[0]}..{expected[-1]})"
        )
    if last < 1:
        raise ResultReadError(f"{folder}/frames holds a single frame: a geodesic needs at least two")
    return [folder / "frames" / n for n in names]


def _result_info(folder: Path, n_frames: int) -> dict:
    path = folder / "result.json"
    if not path.exists():
        return {}
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ResultReadError(f"{folder}/result.json is unreadable: {exc}") from None
    if not isinstance(info, dict):
        raise ResultReadError(f"{folder}/result.json holds a {type(info).__name__}, not an object")
    for key in ("distance", "hamiltonian"):
        value = info.get(key, 0.0)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ResultReadError(f"{folder}/result.json: '{key}' is {value!r}, not a finite number")
    steps = info.get("steps")
    if isinstance(steps, int) and not isinstance(steps, bool) and steps + 1 != n_frames:
        raise ResultReadError(f"{folder}: result.json says {steps} steps, but frames/ holds {n_frames} frames")
    return info


def read_result_dir(folder: str | os.PathLike) -> ResultDir:
    """Read back what ``write_result_dir`` wrote (frames, result.json, target.vtp if any), checked whole."""
    from .meshes import MeshReadError, read_mesh

    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise ResultReadError(f"{folder} is a file, not a result folder")
    if not folder.is_dir():
        raise ResultReadError(f"result folder {folder} does not exist")
    frames = _frame_files(folder)
    info = _result_info(folder, len(frames))
    try:
        meshes = [read_mesh(f) for f in frames]
        target = read_mesh(folder / "target.vtp") if (folder / "target.vtp").exists() else None
    except MeshReadError as exc:
        raise ResultReadError(f"{folder}: {exc}") from None
    first = meshes[0]
    for path, mesh in zip(frames, meshes, strict=True):
        if mesh.n_vertices != first.n_vertices or not np.array_equal(mesh.faces, first.faces):
            raise ResultReadError(f"{folder}: {path.name} has other vertices or faces than {frames[0].name}")
    trajectory = np.stack([m.vertices for m in meshes])
    return ResultDir(trajectory, first.faces, None if target is None else (target.vertices, target.faces), info)
