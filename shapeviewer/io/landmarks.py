"""Landmark files: CSV (``label,x,y,z``) and 3D Slicer markups JSON (``.mrk.json``; its older ``.fcsv`` too,
read only), with one-line errors.

CSV: a header row ``label,x,y,z`` (any case; optional), then one landmark per row, either ``label,x,y,z``
or ``x,y,z`` (labels are then 1, 2, ...); blank lines and lines starting with ``#`` are skipped.

Slicer markups (schema markups-schema-v1.0.3.json): ``{"markups": [{"coordinateSystem": "LPS"|"RAS",
"controlPoints": [{"label": ..., "position": [x, y, z]}, ...]}]}``. The two frames differ by the sign of x
and y (LPS = (-R, -A, S)), so a file in the other frame than asked is converted by negating x and y. Points
are returned in RAS by default (what Slicer shows); a mesh saved by Slicer (LPS since Slicer 4.11) wants
``frame="LPS"``. A landmark off the surface gets a hint when its mirrored x, y would lie on it.

Source and target landmarks pair by label when both files hold the same set of distinct labels, otherwise
by their order in the files.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..core.errors import InputError
from .atomic import write_bytes

MAX_FILE_BYTES = 50 * 2**20
MAX_LANDMARKS = 100_000
FRAMES = ("RAS", "LPS")
SLICER_SCHEMA = (
    "https://raw.githubusercontent.com/slicer/slicer/master/Modules/Loadable/Markups/Resources/Schema/"
    "markups-schema-v1.0.3.json#"
)
SURFACE_TOLERANCE = 0.05  # a landmark farther than this x the shape's size from its surface is refused
_LPS_RAS = np.array([-1.0, -1.0, 1.0])


class LandmarkError(InputError):
    """A landmark file or set that cannot be used; the message names the file (or set) and the problem."""


@dataclass
class Landmarks:
    """K labelled points (K, 3) in ``frame`` (RAS or LPS; for CSV files, whatever frame the file used)."""

    labels: list[str]
    points: np.ndarray
    frame: str = "RAS"
    name: str = ""  # the file, for messages
    file_frame: str = field(default="", compare=False)  # the frame the file declared ('' for CSV)

    def __post_init__(self):
        self.points = np.asarray(self.points, dtype=np.float64).reshape(-1, 3)
        self.labels = [str(label) for label in self.labels]
        if len(self.labels) != len(self.points):
            raise LandmarkError(f"{self.where}: {len(self.labels)} labels for {len(self.points)} points")
        bad = np.nonzero(~np.isfinite(self.points).all(1))[0]
        if len(bad):
            raise LandmarkError(f"{self.where}: landmark '{self.labels[bad[0]]}' has a non-finite coordinate")

    @property
    def where(self) -> str:
        return self.name or "landmarks"

    def __len__(self) -> int:
        return len(self.points)

    def in_frame(self, frame: str) -> Landmarks:
        """The same landmarks in RAS or LPS (x and y negated when the frame changes)."""
        _check_frame(frame)
        if frame == self.frame:
            return self
        return Landmarks(list(self.labels), self.points * _LPS_RAS, frame, self.name, self.file_frame)


def _check_frame(frame: str) -> None:
    if frame not in FRAMES:
        raise LandmarkError(f"unknown coordinate frame '{frame}' (choose from RAS, LPS)")


def _text(path: Path) -> str:
    if not path.exists():
        raise LandmarkError(f"landmark file {path}: no such file")
    if path.is_dir():
        raise LandmarkError(f"landmark file {path}: is a folder")
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise LandmarkError(f"landmark file {path}: larger than {MAX_FILE_BYTES // 2**20} MiB")
        data = path.read_bytes()
    except OSError as exc:
        raise LandmarkError(f"landmark file {path}: cannot be read ({exc.strerror or exc})") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise LandmarkError(f"landmark file {path}: not a text file (UTF-8)") from None


def is_slicer_markups(path: str | os.PathLike) -> bool:
    return str(path).lower().endswith(".json")


def read_landmarks(path: str | os.PathLike, frame: str = "RAS") -> Landmarks:
    """A CSV or a Slicer ``.mrk.json`` file; markups are converted to ``frame`` (CSV is taken as it is)."""
    path = Path(path)
    _check_frame(frame)
    text = _text(path)
    if is_slicer_markups(path):
        return _parse_slicer(path, text).in_frame(frame)
    if path.suffix.lower() == ".fcsv":
        return _parse_fcsv(path, text).in_frame(frame)
    labels, points = _parse_csv(path, text)
    return Landmarks(labels, points, frame, str(path))


def _number(path: Path, row: int, value: str, label: str) -> float:
    try:
        x = float(value)
    except ValueError:
        raise LandmarkError(f"landmark file {path}, line {row}: '{value.strip()[:30]}' is not a number") from None
    if not math.isfinite(x):
        raise LandmarkError(f"landmark file {path}, line {row}: landmark '{label}' has a non-finite coordinate")
    return x


def _parse_csv(path: Path, text: str) -> tuple[list[str], np.ndarray]:
    labels, points = [], []
    try:
        rows = list(csv.reader(io.StringIO(text)))
    except csv.Error as exc:
        raise LandmarkError(f"landmark file {path}: not a CSV file ({exc})") from None
    header_seen = False
    for number, row in enumerate(rows, start=1):
        cells = [c.strip() for c in row]
        if not cells or not any(cells) or cells[0].startswith("#"):
            continue
        if not header_seen and not labels and [c.lower() for c in cells[-3:]] == ["x", "y", "z"]:
            header_seen = True
            continue
        if len(cells) not in (3, 4):
            raise LandmarkError(
                f"landmark file {path}, line {number}: {len(cells)} fields; expected label,x,y,z or x,y,z"
            )
        label = cells[0] if len(cells) == 4 else str(len(labels) + 1)
        if len(cells) == 4 and not label:
            label = str(len(labels) + 1)
        points.append([_number(path, number, c, label) for c in cells[-3:]])
        labels.append(label)
        if len(labels) > MAX_LANDMARKS:
            raise LandmarkError(f"landmark file {path}: more than {MAX_LANDMARKS} landmarks")
    if not labels:
        raise LandmarkError(f"landmark file {path}: no landmarks (expected rows label,x,y,z)")
    return labels, np.array(points, dtype=np.float64)


FCSV_COLUMNS = ["id", "x", "y", "z", "ow", "ox", "oy", "oz", "vis", "sel", "lock", "label", "desc", "associatedNodeID"]
FCSV_FRAMES = {"RAS": "RAS", "LPS": "LPS", "0": "RAS", "1": "LPS"}  # Slicer 4 wrote 0 for RAS, 1 for LPS


def _parse_fcsv(path: Path, text: str) -> Landmarks:
    """Slicer's older markups CSV: '# CoordinateSystem = LPS' (or 0/1) and '# columns = id,x,y,z,...,label,...'."""
    system, columns, rows = "LPS", FCSV_COLUMNS, []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if line.startswith("#"):
            key, _, value = line[1:].partition("=")
            if key.strip().lower() == "coordinatesystem":
                if value.strip() not in FCSV_FRAMES:
                    raise LandmarkError(
                        f"landmark file {path}: CoordinateSystem '{value.strip()}' is neither LPS nor RAS"
                    )
                system = FCSV_FRAMES[value.strip()]
            elif key.strip().lower() == "columns":
                columns = [c.strip() for c in value.split(",")]
        elif line.strip():
            rows.append((lineno, line))
    if not {"x", "y", "z"} <= set(columns):
        raise LandmarkError(f"landmark file {path}: its '# columns' line names no x, y, z")
    at = {name: columns.index(name) for name in ("x", "y", "z", "label") if name in columns}
    labels, points = [], []
    for number, (lineno, line) in enumerate(rows, start=1):
        cells = next(csv.reader([line]))
        if len(cells) <= max(at.values()):
            raise LandmarkError(f"landmark file {path}, line {lineno}: {len(cells)} fields, fewer than its columns")
        label = (cells[at["label"]].strip() if "label" in at else "") or str(number)
        labels.append(label)
        points.append([_number(path, lineno, cells[at[c]], label) for c in "xyz"])
    if not labels:
        raise LandmarkError(f"landmark file {path}: no landmarks")
    return Landmarks(labels, np.array(points), system, str(path), system)


def _parse_slicer(path: Path, text: str) -> Landmarks:
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise LandmarkError(f"landmark file {path}: not valid JSON ({exc})") from None
    markups = data.get("markups") if isinstance(data, dict) else None
    if not isinstance(markups, list) or not markups:
        raise LandmarkError(f"landmark file {path}: no 'markups' list: not a 3D Slicer markups file")
    with_points = [m for m in markups if isinstance(m, dict) and m.get("controlPoints")]
    if len(with_points) != 1:
        found = "none holds" if not with_points else f"{len(with_points)} hold"
        raise LandmarkError(f"landmark file {path}: expected one markup with control points, {found} any")
    markup = with_points[0]
    system = markup.get("coordinateSystem", "LPS")  # the schema's default
    if system not in FRAMES:
        raise LandmarkError(f"landmark file {path}: coordinateSystem '{system}' is neither LPS nor RAS")
    controls = markup["controlPoints"]
    if not isinstance(controls, list):
        raise LandmarkError(f"landmark file {path}: 'controlPoints' is not a list")
    if len(controls) > MAX_LANDMARKS:
        raise LandmarkError(f"landmark file {path}: more than {MAX_LANDMARKS} landmarks")
    labels, points = [], []
    for k, cp in enumerate(controls, start=1):
        if not isinstance(cp, dict):
            raise LandmarkError(f"landmark file {path}: control point {k} is not an object")
        label = str(cp.get("label") or cp.get("id") or k)
        pos = cp.get("position")
        if cp.get("positionStatus") in ("undefined", "missing") or pos is None:
            raise LandmarkError(f"landmark file {path}: landmark '{label}' has no position (not placed)")
        if not (isinstance(pos, list) and len(pos) == 3) or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in pos
        ):
            raise LandmarkError(f"landmark file {path}: landmark '{label}' has position {pos!r:.60}, not 3 numbers")
        if not all(math.isfinite(v) for v in pos):
            raise LandmarkError(f"landmark file {path}: landmark '{label}' has a non-finite coordinate")
        labels.append(label)
        points.append([float(v) for v in pos])
    return Landmarks(labels, np.array(points), system, str(path), system)


def landmark_bytes(landmarks: Landmarks, path: str | os.PathLike, frame: str | None = None) -> bytes:
    """The file's bytes: CSV (label,x,y,z), or Slicer markups JSON in ``frame`` (default: the landmarks')."""
    if is_slicer_markups(path):
        marks = landmarks.in_frame(frame or landmarks.frame)
        controls = [
            {"id": str(i + 1), "label": label, "position": [float(v) for v in p], "positionStatus": "defined"}
            for i, (label, p) in enumerate(zip(marks.labels, marks.points, strict=True))
        ]
        doc = {
            "@schema": SLICER_SCHEMA,
            "markups": [
                {
                    "type": "Fiducial",
                    "coordinateSystem": marks.frame,
                    "coordinateUnits": "mm",
                    "controlPoints": controls,
                }
            ],
        }
        return (json.dumps(doc, indent=2) + "\n").encode("utf-8")
    marks = landmarks.in_frame(frame) if frame else landmarks
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["label", "x", "y", "z"])
    for label, p in zip(marks.labels, marks.points, strict=True):
        writer.writerow([label, *(repr(float(v)) for v in p)])
    return out.getvalue().encode("utf-8")


def write_landmarks(path: str | os.PathLike, landmarks: Landmarks, frame: str | None = None) -> Path:
    """Write CSV or (``.json``/``.mrk.json``) Slicer markups; one synced write, OSError on failure."""
    path = Path(path)
    write_bytes(path, landmark_bytes(landmarks, path, frame))
    return path


def pair_landmarks(source: Landmarks, target: Landmarks) -> tuple[Landmarks, Landmarks]:
    """The two sets in matching order (by label when both hold the same distinct labels, else by position)."""
    if len(source) != len(target):
        raise LandmarkError(
            f"{len(source)} source landmarks ({source.where}) and {len(target)} target landmarks ({target.where}): "
            "they pair one to one, so their numbers must match"
        )
    same = set(source.labels) == set(target.labels) and len(set(source.labels)) == len(source)
    if same and source.labels != target.labels:
        index = {label: i for i, label in enumerate(target.labels)}
        order = [index[label] for label in source.labels]
        target = Landmarks(list(source.labels), target.points[order], target.frame, target.name, target.file_frame)
    return source, target


def check_on_surface(
    landmarks: Landmarks, vertices, faces, what: str = "source", tolerance: float = SURFACE_TOLERANCE
) -> np.ndarray:
    """(K,) distances of the landmarks to the surface; LandmarkError naming the first one farther than
    ``tolerance`` x the mesh's bounding-box diagonal (with a hint when the other frame, LPS/RAS, fits)."""
    from ..core.surface_distance import SurfaceIndex

    v = np.asarray(vertices, dtype=np.float64)
    size = float(np.linalg.norm(v.max(0) - v.min(0)))
    index = SurfaceIndex(v, faces)
    dist = index.query(landmarks.points)[0]
    far = np.nonzero(dist > tolerance * size)[0]
    if len(far):
        k = far[0]
        hint = ""
        if np.all(index.query(landmarks.points * _LPS_RAS)[0] <= tolerance * size):
            other = "LPS" if landmarks.frame == "RAS" else "RAS"
            hint = (
                f"; with x and y negated they all lie on it: are the landmarks in {other} rather than "
                f"{landmarks.frame}?"
            )
        more = f"; {len(far)} landmarks lie beyond that limit" if len(far) > 1 else ""
        raise LandmarkError(
            f"{what} landmark '{landmarks.labels[k]}' ({landmarks.where}) lies {dist[k]:.4g} from the {what} surface, "
            f"{100 * dist[k] / size:.1f}% of its size (at most {100 * tolerance:g}% accepted){more}{hint}"
        )
    return dist
