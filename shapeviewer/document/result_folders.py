"""Result folders read back for the app: what 'shapeviewer register' or a batch job wrote, as a document result.

The source is the geodesic's first frame (after ``--align`` it is already in the target's frame), the target
is ``target.vtp``; the result is restored through ``Document.restore`` as a reopened session's is. The run's
mask (``mask.npy``) and settings (result.json's 'settings', or what older folders recorded) come back with it,
so that the next Run registers the same problem.
"""

from __future__ import annotations

import copy
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..core.errors import InputError
from ..core.kernels import KernelSpecError, parse_kernel
from ..core.registration import RegistrationSettings
from ..io.arrays import ArrayReadError, load_array
from ..io.masks import load_mask
from ..io.meshes import Mesh
from ..io.results import MASK_FILE, ResultReadError, frame_name, read_result_dir
from ..io.session_checks import SessionProblem
from ..io.session_settings import settings_from_dict
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
    mask: np.ndarray | None = None  # the source's weights the run used; None: the folder keeps none (older)
    settings: RegistrationSettings | None = None  # the run's, as far as the folder records them
    notes: list[str] = field(default_factory=list)  # what could not be brought back, for the log
    settings_notes: list[str] = field(default_factory=list)  # the same, about ``settings``
    settings_recorded: bool = False  # result.json holds the settings as given (newer folders)


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


def result_mask(folder: Path, info: dict, n_vertices: int) -> np.ndarray | None:
    """The weights the run used (result.json's 'mask' names the file); None when the folder predates them."""
    name = info.get("mask", MASK_FILE if (folder / MASK_FILE).exists() else None)
    if name is None:
        return None
    if not isinstance(name, str) or Path(name).name != name or not name.endswith(".npy"):
        raise ResultReadError(f"{folder}/result.json: 'mask' is {name!r}, not a .npy file of the folder")
    if not (folder / name).is_file():
        raise ResultReadError(f"{folder}: result.json names the mask {name}, but the folder does not hold it")
    try:
        return load_mask(folder / name, n_vertices)
    except InputError as exc:  # ArrayReadError included
        raise ResultReadError(f"{folder}: {exc}") from None


# ---- the run's settings ------------------------------------------------------------------------------
OLD_FOLDER_NOTE = (
    "the folder predates recorded settings: the panel shows what the run reported (its kernel, control points, "
    "backend...), not Max iterations (it ran {iterations})"
)


def _described_settings(info: dict) -> dict:
    """Older folders: the settings that ``Registration.describe()`` wrote, in ``asdict`` form."""
    model = {key: info[key] for key in ("kernel", "cometric", "steps", "integrator", "backend", "dtype") if key in info}
    if isinstance(info.get("device"), str):
        model["device"] = info["device"].split(":")[0]  # 'cuda:0' ran on the device the panel calls 'cuda'
    if isinstance(info.get("control_points"), int):
        model["control_points"] = info["control_points"]
    sinkhorn = info.get("sinkhorn")
    if isinstance(sinkhorn, dict):
        model["sinkhorn"] = {k: sinkhorn[k] for k in ("iterations", "tol") if sinkhorn.get(k) is not None}
    data = {key: info[key] for key in ("fidelity", "fidelity_scale", "regularization", "tolerance",
                                       "landmark_weight") if key in info}  # fmt: skip
    if isinstance(info.get("levels"), list) and info["levels"]:
        data["levels"] = len(info["levels"])
    return {"model": model, **data}


def _recorded_settings(info: dict) -> tuple[dict, list[str]]:
    """The run's settings in ``asdict`` form, with what 'auto' defaults resolved to (the kernel, the fidelity
    scale) where the run left them to the source's size."""
    asked = info.get("settings")
    if isinstance(asked, dict):
        data, notes = copy.deepcopy(asked), []
    else:
        data, notes = _described_settings(info), [OLD_FOLDER_NOTE.format(iterations=info.get("iterations", "?"))]
    model = data.get("model")
    if isinstance(model, dict) and model.get("kernel") is None and isinstance(info.get("kernel"), str):
        model["kernel"] = info["kernel"]
    if data.get("fidelity_scale") is None and data.get("fidelity") != "landmarks" and "fidelity_scale" in info:
        data["fidelity_scale"] = info["fidelity_scale"]
    return data, notes


def _problem(data: dict, where: str) -> str:
    """Why ``data`` (one setting over the defaults) is not a usable setting, or ''."""
    try:
        settings = settings_from_dict(data)
        if where == "model.kernel":
            parse_kernel(settings.model.kernel)
    except (SessionProblem, KernelSpecError, InputError, TypeError, ValueError) as exc:
        return str(exc)
    return ""


def _usable(data: dict, notes: list[str]) -> dict:
    """The settings of ``data`` that are valid one by one; each one left out is said in ``notes``."""
    kept: dict = {}
    for key, value in data.items():
        if key == "model" and isinstance(value, dict):
            kept["model"] = {k: v for k, v in value.items() if _keep({"model": {k: v}}, f"model.{k}", v, notes)}
        elif _keep({key: value}, key, value, notes):
            kept[key] = value
    return kept


def _keep(data: dict, where: str, value, notes: list[str]) -> bool:
    problem = _problem(data, where)
    if problem:
        notes.append(f"result.json's setting {where} = {value!r:.60} is not used ({problem})")
    return not problem


def run_settings(info: dict) -> tuple[RegistrationSettings, list[str]]:
    """The settings the run used as the parameters panel takes them; what cannot be used is said in the
    notes and left at its default."""
    data, notes = _recorded_settings(info)
    if not isinstance(data, dict):
        return RegistrationSettings(), [*notes, "result.json's 'settings' is not an object"]
    try:
        return settings_from_dict(_usable(data, notes)), notes
    except SessionProblem as exc:  # each setting is valid, not together
        return RegistrationSettings(), [*notes, f"result.json's settings are not used ({exc})"]


def _flat(settings: RegistrationSettings, n_vertices: int, prefix: str = "") -> dict:
    out = {}
    for key, value in (asdict(settings) if prefix == "" else settings).items():
        if isinstance(value, dict):
            out.update(_flat(value, n_vertices, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    if prefix == "":
        cp = out["model.control_points"]
        out["model.control_points"] = n_vertices if cp in ("all", None) else cp  # the panel shows 'all' as N
        if out["model.kernel"] is not None:
            out["model.kernel"] = _kernel_text(out["model.kernel"])
    return out


def _kernel_text(spec: str) -> str:
    try:
        return str(parse_kernel(spec))
    except (KernelSpecError, ValueError):
        return spec


def _same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, (int, float)) and not isinstance(b, bool):
        return math.isclose(a, b, rel_tol=1e-3, abs_tol=1e-12)
    return a == b


def settings_differences(wanted: RegistrationSettings, shown: RegistrationSettings, n_vertices: int) -> list[str]:
    """'name: the run used X, the panel shows Y' for each setting the panel could not show as the run had it
    (a setting left to None takes the panel's default)."""
    a, b = _flat(wanted, n_vertices), _flat(shown, n_vertices)
    return [
        f"{key.removeprefix('model.')}: the run used {a[key]!r}, the panel shows {b[key]!r}"
        for key in a
        if a[key] is not None and not _same(a[key], b[key])
    ]


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
    mask = result_mask(folder, info, read.trajectory.shape[1])
    notes = [] if mask is not None else [
        f"the folder holds no {MASK_FILE} (written before masks were kept): the source's weights are uniform; "
        "load the run's mask in the Mask tab if it had one"]  # fmt: skip
    settings, settings_notes = run_settings(info)
    return OpenedResult(meshes, paths, Result(report, None, info), history, label or folder.name,
                        description or f"the result folder {folder}", mask, settings, notes, settings_notes,
                        isinstance(info.get("settings"), dict))  # fmt: skip
