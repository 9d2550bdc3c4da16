"""A 'shapeviewer batch' folder read back for the app: its jobs, the pairwise distance matrix, the PCA modes,
and a mode's geodesic from ``batch modes`` output in DIR/modes/ (mode_K_minus/, mode_K_plus/) as one sweep
from the minus side through the template to the plus side."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..batch.inputs import BatchInputError, Job, pairwise_jobs, template_jobs
from ..io.meshes import Mesh
from ..io.results import ResultReadError, read_result_dir
from .history import LossHistory
from .result_folders import OpenedResult, result_momenta
from .sessions import saved_report
from .state import Result

MODES_FOLDER = "modes"  # where the app looks for 'shapeviewer batch modes DIR --out DIR/modes'
DONE = "done"


@dataclass
class BatchJob:
    """A row of summary.csv, with the job's result folder inside the folder opened."""

    name: str
    source: str
    target: str
    status: str
    distance: float | None
    fidelity_drop: float | None
    message: str
    folder: Path
    row: int = -1
    col: int = -1
    warning: str = ""  # a finished job whose result is not credible (summary.csv's warning column)


@dataclass
class BatchMode:
    number: int  # 1-based
    ratio: float  # share of the variance
    sd: float
    minus: Path
    plus: Path

    @property
    def shot(self) -> bool:
        return (self.minus / "result.json").is_file() and (self.plus / "result.json").is_file()


@dataclass
class BatchFolder:
    folder: Path
    kind: str  # template | pairwise
    names: list[str]  # the shapes (pairwise) or the subjects (template)
    jobs: list[BatchJob]
    distances: np.ndarray | None  # pairwise (n, n), NaN where a pair did not finish
    modes: list[BatchMode]  # template, when the batch has a PCA
    settings: object | None  # the batch's RegistrationSettings (None: not readable, see settings_problem)
    settings_problem: str = ""

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for job in self.jobs:
            out[job.status] = out.get(job.status, 0) + 1
        return out


def _float(text) -> float | None:
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _jobs(folder: Path, info: dict) -> list[Job]:
    """The batch's jobs, their result folders under ``folder`` (where it is now, not where it ran)."""
    shapes = [Path(s) for s in info.get("shapes") or []]
    if info["kind"] == "pairwise":
        return pairwise_jobs(shapes, folder)
    if info["kind"] == "template" and info.get("template"):
        return template_jobs(Path(info["template"]), shapes, folder)
    raise BatchInputError(f"{folder}/batch.json: unknown batch kind {info['kind']!r}")


def _rows(folder: Path, jobs: list[Job]) -> list[BatchJob]:
    from ..batch.statistics import read_summary
    from ..batch.worker import finished_record

    summary = folder / "summary.csv"
    try:
        rows = {r.get("job"): r for r in read_summary(summary)} if summary.is_file() else {}
    except (OSError, ValueError) as exc:
        raise BatchInputError(f"{summary} is unreadable: {exc}") from None
    out = []
    for job in jobs:
        row = rows.get(job.name)
        if row is None:  # summary.csv not written yet (a batch still running) or from an older run
            record = finished_record(job)
            row = record.row() if record is not None else {"status": "not run", "message": "no result yet"}
        out.append(BatchJob(job.name, job.source.name, job.target.name, str(row.get("status") or "not run"),
                            _float(row.get("distance")), _float(row.get("fidelity_drop")),
                            str(row.get("message") or ""), job.out, job.row, job.col,
                            str(row.get("warning") or "")))  # fmt: skip
    return out


def _distances(folder: Path, n: int, jobs: list[BatchJob]) -> np.ndarray:
    """distances.npy when it is there and whole, else the matrix of the summary's distances."""
    path = folder / "distances.npy"
    if path.is_file():
        try:
            d = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise BatchInputError(f"{path} is unreadable: {exc}") from None
        if d.shape == (n, n):
            return np.asarray(d, dtype=np.float64)
    d = np.full((n, n), np.nan)
    np.fill_diagonal(d, 0.0)
    for job in jobs:
        if job.status == DONE and job.distance is not None:
            d[job.row, job.col] = d[job.col, job.row] = job.distance
    return d


def _modes(folder: Path) -> list[BatchMode]:
    from ..batch.statistics import PCA_FOLDER, read_pca

    if not (folder / PCA_FOLDER / "pca.json").is_file():
        return []
    try:
        pca, _info = read_pca(folder / PCA_FOLDER)
    except (OSError, ValueError, KeyError) as exc:
        raise BatchInputError(f"{folder / PCA_FOLDER} is unreadable: {exc}") from None
    shots = folder / MODES_FOLDER
    return [
        BatchMode(
            k + 1, float(pca.ratio[k]), float(pca.sd[k]), shots / f"mode_{k + 1}_minus", shots / f"mode_{k + 1}_plus"
        )
        for k in range(len(pca.variance))
    ]


def _settings(info: dict):
    """The batch's registration settings, so that Run in the window redoes a job; (settings, problem)."""
    from ..batch.command import options_namespace
    from ..cli_register import registration_settings
    from ..core.errors import InputError

    try:
        settings = registration_settings(options_namespace(info["options"]))
        settings.validate()
    except (AttributeError, TypeError, ValueError, InputError) as exc:  # a batch.json of another version
        return None, f"its registration options are not this version's ({type(exc).__name__}: {exc})"
    return settings, ""


def read_batch_folder(folder: str | Path) -> BatchFolder:
    """What a batch wrote, read and checked; BatchInputError names the folder and the problem."""
    from ..batch.command import read_batch_file

    folder = Path(folder)
    if not folder.is_dir():
        raise BatchInputError(f"{folder} is not a folder")
    info = read_batch_file(folder)
    jobs = _rows(folder, _jobs(folder, info))
    names = [str(n) for n in info.get("names") or []]
    if info["kind"] == "pairwise":
        shapes = info.get("shapes") or []
        names = names if len(names) == len(shapes) else [Path(s).stem for s in shapes]
        distances, modes = _distances(folder, len(names), jobs), []
    else:
        names, distances, modes = [j.name for j in jobs], None, _modes(folder)
    settings, problem = _settings(info)
    return BatchFolder(folder, info["kind"], names, jobs, distances, modes, settings, problem)


def mode_sweep(batch: BatchFolder, mode: BatchMode) -> OpenedResult:
    """Mode k from its minus side through the template to its plus side, as one playback (as its movie).

    Its momenta are the plus side's, at the template (the middle frame)."""
    minus, plus = read_result_dir(mode.minus), read_result_dir(mode.plus)
    if minus.trajectory.shape[1:] != plus.trajectory.shape[1:] or not np.array_equal(minus.faces, plus.faces):
        raise ResultReadError(f"{mode.minus} and {mode.plus} are not shot from one template")
    trajectory = np.concatenate([minus.trajectory[::-1], plus.trajectory[1:]])
    sd = abs(_float(plus.info.get("sd")) or 2.0)
    info = dict(plus.info)
    info.update(sweep=f"-{sd:g} sd .. template (frame {len(minus.trajectory) - 1}) .. +{sd:g} sd")
    energy = _float(plus.info.get("hamiltonian")) or 0.0
    report = saved_report(trajectory, result_momenta(mode.plus), "finished", 0, 0.0, 0.0, energy, info,
                          f"mode {mode.number} of {batch.folder}")  # fmt: skip
    names = {"source": f"mode {mode.number} -{sd:g} sd", "target": f"mode {mode.number} +{sd:g} sd"}
    meshes = {
        "source": Mesh(trajectory[0].copy(), minus.faces, names["source"]),
        "target": Mesh(trajectory[-1].copy(), minus.faces, names["target"]),
    }
    paths = {"source": mode.minus, "target": mode.plus}
    return OpenedResult(meshes, paths, Result(report, None, info), LossHistory(),
                        f"mode {mode.number} — {batch.folder.name}",
                        f"mode {mode.number} of the batch {batch.folder}")  # fmt: skip
