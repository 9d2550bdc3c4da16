"""The result folder written by ``shapeviewer shoot|register`` and read by later tools."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .meshes import write_mesh


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
    tmp.write_text(json.dumps(data, indent=2, default=jsonable) + "\n")
    os.replace(tmp, path)


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
) -> Path:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    write_frames(out, trajectory, faces)
    np.save(out / "momenta.npy", np.asarray(momenta, dtype=np.float64))
    np.save(out / "mu.npy", np.asarray(mu, dtype=np.float64))
    if lam is not None:
        np.save(out / "lambda.npy", np.asarray(lam, dtype=np.float64))
    write_json(out / "result.json", result)
    return out


class ResultReadError(ValueError):
    """A result folder that cannot be read back; the message names the folder and the problem."""


@dataclass
class ResultDir:
    trajectory: np.ndarray  # (T+1, N, 3)
    faces: np.ndarray  # (M, 3)
    target: tuple[np.ndarray, np.ndarray] | None  # (vertices, faces) when the folder holds target.vtp
    info: dict  # result.json


def read_result_dir(folder: str | os.PathLike) -> ResultDir:
    """Read back what ``write_result_dir`` wrote (frames, result.json, target.vtp if any)."""
    from .meshes import MeshReadError, read_mesh

    folder = Path(folder)
    if not folder.is_dir():
        raise ResultReadError(f"result folder {folder} does not exist")
    frames = sorted((folder / "frames").glob("frame_*.vtp"))
    if not frames:
        raise ResultReadError(f"{folder} holds no frames/frame_*.vtp: is it a 'shapeviewer register|shoot' result?")
    try:
        meshes = [read_mesh(f) for f in frames]
        target = read_mesh(folder / "target.vtp") if (folder / "target.vtp").exists() else None
    except MeshReadError as exc:
        raise ResultReadError(f"{folder}: {exc}") from None
    counts = {m.n_vertices for m in meshes}
    if len(counts) != 1:
        raise ResultReadError(f"{folder}: the frames disagree on the number of vertices ({sorted(counts)})")
    try:
        info = json.loads((folder / "result.json").read_text()) if (folder / "result.json").exists() else {}
    except (OSError, ValueError) as exc:
        raise ResultReadError(f"{folder}/result.json is unreadable: {exc}") from None
    trajectory = np.stack([m.vertices for m in meshes])
    return ResultDir(trajectory, meshes[0].faces, None if target is None else (target.vertices, target.faces), info)
