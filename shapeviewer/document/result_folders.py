"""Result folders read back for the app: what 'shapeviewer register' or a batch job wrote, as a document result.

The source is the geodesic's first frame (after ``--align`` it is already in the target's frame), the target
is ``target.vtp``; the result is restored through ``Document.restore`` as a reopened session's is.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..io.arrays import ArrayReadError, load_array
from ..io.meshes import Mesh
from ..io.results import ResultReadError, frame_name, read_result_dir
from .history import LossHistory
from .sessions import saved_report
from .state import Result


@dataclass
class OpenedResult:
    """Everything the window needs to show a computed geodesic; ``label`` names it in the title."""

    meshes: dict[str, Mesh]
    paths: dict[str, Path]
    result: Result
    history: LossHistory
    label: str
    description: str  # for the status line and the log: 'the result folder ...'


def _number(folder: Path, info: dict, key: str, default: float = 0.0) -> float:
    return _finite(folder, key, info.get(key, default))


def _finite(folder: Path, key: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ResultReadError(f"{folder}/result.json: '{key}' is {value!r}, not a finite number")
    return float(value)


def _text(info: dict, key: str, default: str) -> str:
    value = info.get(key)
    return value if isinstance(value, str) and value else default


def _history(folder: Path, info: dict, fidelity_rel: float, loss_final: float) -> LossHistory:
    """The losses result.json keeps; the mismatch and the deformation cost are known for the final state only."""
    losses = info.get("loss_history") or []
    if not isinstance(losses, list):
        raise ResultReadError(f"{folder}/result.json: 'loss_history' is not a list")
    losses = [_finite(folder, "loss_history", v) for v in losses]
    if not losses:
        return LossHistory()
    nan = [math.nan] * (len(losses) - 1)
    series = {"loss": losses, "fidelity": [*nan, fidelity_rel], "energy": [*nan, loss_final - fidelity_rel]}
    return LossHistory(list(range(len(losses))), series)


def result_momenta(folder: Path) -> np.ndarray:
    try:
        return load_array(folder / "momenta.npy", "momenta", shape=(None, 3))
    except ArrayReadError as exc:
        raise ResultReadError(f"{folder}: {exc}") from None


def read_result_folder(folder: str | Path, label: str | None = None, description: str | None = None) -> OpenedResult:
    """A register result folder as the window shows it; ResultReadError names the folder and what is wrong."""
    folder = Path(folder)
    read = read_result_dir(folder)
    if read.target is None:
        raise ResultReadError(
            f"{folder} holds no target.vtp: only a registration's result folder ('shapeviewer register', a batch "
            "job) can be opened, it names the target"
        )
    info = read.info
    momenta = result_momenta(folder)
    loss, fidelity = _number(folder, info, "loss_final"), _number(folder, info, "fidelity_final")
    initial = _number(folder, info, "fidelity_initial")
    iterations = int(_number(folder, info, "iterations"))
    report = saved_report(read.trajectory, momenta, _text(info, "status", "finished"), iterations, loss, fidelity,
                          _number(folder, info, "hamiltonian"), info,
                          _text(info, "message", f"opened from {folder}"))  # fmt: skip
    history = _history(folder, info, fidelity / initial if initial > 0 else 1.0, loss)
    paths = {
        "source": Path(_text(info, "source_file", str(folder / "frames" / frame_name(0, len(read.trajectory) - 1)))),
        "target": Path(_text(info, "target_file", str(folder / "target.vtp"))),
    }
    meshes = {
        "source": Mesh(read.trajectory[0].copy(), read.faces, paths["source"].name),
        "target": Mesh(*read.target, paths["target"].name),
    }
    return OpenedResult(meshes, paths, Result(report, None, info), history, label or folder.name,
                        description or f"the result folder {folder}")  # fmt: skip
