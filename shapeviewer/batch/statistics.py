"""What a batch gives beyond its registrations: the summary table, the distance matrix and its heat-map
(pairwise), the PCA of the initial momenta at the template (template).

Every file is written aside and renamed into place, so a reader never sees half of one.
"""

from __future__ import annotations

import csv
import io
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .inputs import Job
from .worker import DONE, JobRecord

SUMMARY_COLUMNS = ("job", "source", "target", "status", "fidelity_drop", "distance", "seconds", "worker", "message",
                   "warning")  # fmt: skip
PCA_FOLDER = "pca"


def _write_atomically(path: Path, data: bytes) -> None:
    from ..io.atomic import write_bytes

    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write_bytes(tmp, data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _csv_bytes(header, rows) -> bytes:
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return text.getvalue().encode("utf-8")


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def write_summary(path: Path, records: list[JobRecord]) -> Path:
    """summary.csv: one row per job (columns SUMMARY_COLUMNS)."""
    rows = [[_cell(r.row()[c]) for c in SUMMARY_COLUMNS] for r in records]
    _write_atomically(path, _csv_bytes(SUMMARY_COLUMNS, rows))
    return path


def read_summary(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


# -- pairwise ---------------------------------------------------------------------------------------------


def distance_matrix(n: int, jobs: list[Job], records: list[JobRecord]) -> np.ndarray:
    """(n, n) symmetric geodesic distances, 0 on the diagonal, NaN where the pair's job did not finish.

    Each pair is registered once, the earlier shape onto the later: d(i, j) is that geodesic's length.
    """
    d = np.full((n, n), np.nan)
    np.fill_diagonal(d, 0.0)
    for job, record in zip(jobs, records, strict=True):
        if record.status == DONE and record.distance is not None:
            d[job.row, job.col] = d[job.col, job.row] = record.distance
    return d


def write_distances(out: Path, names: list[str], d: np.ndarray) -> list[Path]:
    """distances.npy, distances.csv (with the shapes' names) and distances.png (a heat-map)."""
    buffer = io.BytesIO()
    np.save(buffer, d)
    _write_atomically(out / "distances.npy", buffer.getvalue())
    rows = [
        [name, *(_cell(float(v)) if np.isfinite(v) else "" for v in row)] for name, row in zip(names, d, strict=True)
    ]
    _write_atomically(out / "distances.csv", _csv_bytes(["shape", *names], rows))
    _write_atomically(out / "distances.png", heat_map_png(d, names))
    return [out / "distances.npy", out / "distances.csv", out / "distances.png"]


def heat_map_png(d: np.ndarray, names: list[str], title: str = "geodesic distance") -> bytes:
    """A PNG of the matrix with the names on both axes (missing pairs grey), drawn with matplotlib's Agg."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    n = len(names)
    side = min(4.0 + 0.28 * n, 40.0)
    fig = Figure(figsize=(side + 1.5, side), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    from matplotlib import colormaps

    cmap = colormaps["viridis"].with_extremes(bad="0.8")
    image = ax.imshow(np.ma.masked_invalid(d), cmap=cmap, interpolation="nearest")
    labels = n <= 200
    ax.set_xticks(range(n) if labels else [])
    ax.set_yticks(range(n) if labels else [])
    if labels:
        size = max(4, min(10, 400 // max(n, 1)))
        ax.set_xticklabels(names, rotation=90, fontsize=size)
        ax.set_yticklabels(names, fontsize=size)
    ax.set_title(title)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


# -- template: PCA of the initial momenta ---------------------------------------------------------------


@dataclass
class MomentumPCA:
    """PCA of the (n, 3) initial momenta at the template's n control points, flattened to 3n vectors.

    mean: (n, 3); modes: (k, n, 3), unit Euclidean norm, by decreasing variance; variance: (k,) the
    variance along each mode (its standard deviation: sqrt); ratio: (k,) its share of the total;
    scores: (s, k) each subject's coordinates on the modes; subjects: (s,) their job names.
    """

    mean: np.ndarray
    modes: np.ndarray
    variance: np.ndarray
    ratio: np.ndarray
    scores: np.ndarray
    subjects: list[str]

    @property
    def sd(self) -> np.ndarray:
        return np.sqrt(self.variance)


def momentum_pca(momenta: np.ndarray, subjects: list[str], keep: int) -> MomentumPCA:
    """``momenta``: (s, n, 3), s >= 2 subjects' initial momenta on the same control points."""
    s, n, _ = momenta.shape
    if s < 2:
        raise ValueError(f"a PCA needs at least two registered subjects, got {s}")
    x = momenta.reshape(s, 3 * n)
    mean = x.mean(0)
    u, sv, vt = np.linalg.svd(x - mean, full_matrices=False)
    variance = sv**2 / (s - 1)
    total = variance.sum()
    k = min(keep, s - 1, len(sv))
    ratio = variance / total if total > 0 else np.zeros_like(variance)
    signs = np.sign(vt[:k].sum(1) + (vt[:k].sum(1) == 0))  # a fixed orientation for each mode
    return MomentumPCA(mean.reshape(n, 3), (vt[:k] * signs[:, None]).reshape(k, n, 3), variance[:k], ratio[:k],
                       (u[:, :k] * sv[:k]) * signs, subjects)  # fmt: skip


def template_pca(jobs: list[Job], records: list[JobRecord], keep: int) -> MomentumPCA:
    """The PCA of the momenta of every finished job (read from their result folders)."""
    done = [job for job, r in zip(jobs, records, strict=True) if r.status == DONE]
    momenta = [np.load(job.out / "momenta.npy") for job in done]
    shapes = {m.shape for m in momenta}
    if len(shapes) > 1:
        raise ValueError(f"the subjects' momenta have different shapes {sorted(shapes)}: not one tangent space")
    return momentum_pca(np.stack(momenta) if momenta else np.zeros((0, 0, 3)), [j.name for j in done], keep)


def write_pca(out: Path, pca: MomentumPCA, template: Path) -> Path:
    """pca/: mean_momenta.npy (n, 3), modes.npy (k, n, 3), explained_variance.npy (k,), scores.csv, pca.json."""
    folder = out / PCA_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    for name, array in (("mean_momenta", pca.mean), ("modes", pca.modes), ("explained_variance", pca.variance)):
        buffer = io.BytesIO()
        np.save(buffer, np.asarray(array, dtype=np.float64))
        _write_atomically(folder / f"{name}.npy", buffer.getvalue())
    header = ["subject", *(f"mode_{i + 1}" for i in range(len(pca.variance)))]
    rows = [[name, *(_cell(float(v)) for v in row)] for name, row in zip(pca.subjects, pca.scores, strict=True)]
    _write_atomically(folder / "scores.csv", _csv_bytes(header, rows))
    info = {
        "template": str(template),
        "subjects": pca.subjects,
        "control_points": int(pca.mean.shape[0]),
        "explained_variance": pca.variance.tolist(),
        "explained_variance_ratio": pca.ratio.tolist(),
        "standard_deviation": pca.sd.tolist(),
        "inner_product": "Euclidean on the momenta (flattened (n, 3) arrays)",
    }
    _write_atomically(folder / "pca.json", (json.dumps(info, indent=2) + "\n").encode("utf-8"))
    return folder


def read_pca(folder: Path) -> tuple[MomentumPCA, dict]:
    info = json.loads((folder / "pca.json").read_text(encoding="utf-8"))
    mean = np.load(folder / "mean_momenta.npy")
    modes = np.load(folder / "modes.npy")
    variance = np.load(folder / "explained_variance.npy")
    pca = MomentumPCA(mean, modes, variance, np.asarray(info["explained_variance_ratio"]),
                      np.zeros((0, len(variance))), list(info["subjects"]))  # fmt: skip
    return pca, info
