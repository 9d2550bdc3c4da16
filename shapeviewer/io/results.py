"""The result folder written by ``shapeviewer shoot|register`` and read by later tools."""

from __future__ import annotations

import json
import os
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
    tmp.write_text(json.dumps(data, indent=2, default=_jsonable) + "\n")
    os.replace(tmp, path)


def _jsonable(value):
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
