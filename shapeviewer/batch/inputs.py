"""The shapes of a batch (files, folders or glob patterns) and its jobs, one per registration."""

from __future__ import annotations

import glob
import re
from dataclasses import dataclass
from pathlib import Path

from ..io.meshes import READABLE_SUFFIXES as MESH_SUFFIXES  # the formats read_mesh takes

JOBS_FOLDER = "jobs"


class BatchInputError(ValueError):
    """Shapes or a batch folder that cannot make a batch; the message is the whole line."""


@dataclass(frozen=True)
class Job:
    """One registration: ``source`` onto ``target``, written to ``out`` (a 'register' result folder)."""

    name: str
    source: Path
    target: Path
    out: Path
    row: int = -1  # pairwise: the indices of source and target among the shapes
    col: int = -1
    aligned: str = "source"  # which mesh --align moves onto the other: 'source' (as register) or 'target'


def _is_pattern(text: str) -> bool:
    return any(c in text for c in "*?[")


def expand_shapes(items: list[str | Path], repeated: list[Path] | None = None) -> list[Path]:
    """Meshes named, those in a folder (sorted, by suffix), or matched by a glob pattern; in that order,
    each once (``repeated`` gets those met again). A pattern or folder that gives no mesh is an error, so is
    a missing file."""
    shapes: list[Path] = []
    for item in items:
        text = str(item)
        path = Path(text)
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in MESH_SUFFIXES)
            if not found:
                raise BatchInputError(f"folder {path} holds no mesh ({', '.join(MESH_SUFFIXES)})")
        elif _is_pattern(text) and not path.exists():
            found = sorted(Path(p) for p in glob.glob(text) if Path(p).is_file())
            if not found:
                raise BatchInputError(f"pattern '{text}' matches no file")
        elif path.is_file():
            found = [path]
        else:
            raise BatchInputError(f"{path}: no such file, folder or pattern")
        for p in (p.absolute() for p in found):
            if p.resolve() not in {s.resolve() for s in shapes}:
                shapes.append(p)
            elif repeated is not None:
                repeated.append(p)
    return shapes


def shape_names(shapes: list[Path]) -> list[str]:
    """Short unique names: the file stems (made safe for folder names), numbered where two coincide."""
    stems = [re.sub(r"[^A-Za-z0-9._+-]", "_", p.stem) or "shape" for p in shapes]
    names, seen = [], {}
    for stem in stems:
        count = seen.get(stem, 0) + 1
        seen[stem] = count
        names.append(stem if stems.count(stem) == 1 else f"{stem}-{count}")
    return names


def template_jobs(template: Path, subjects: list[Path], out: Path) -> list[Job]:
    """The template registered onto each subject (the template itself left out). --align moves the subject
    (the target) onto the template, so that every job's momenta live at the same, unmoved template."""
    subjects = [s for s in subjects if s.resolve() != template.resolve()]
    if not subjects:
        raise BatchInputError("no subject besides the template: name at least one other mesh")
    return [
        Job(name, template, s, out / JOBS_FOLDER / name, col=i, aligned="target")
        for i, (name, s) in enumerate(zip(shape_names(subjects), subjects, strict=True))
    ]


def pairwise_jobs(shapes: list[Path], out: Path) -> list[Job]:
    """Each unordered pair once, the earlier shape onto the later one: n (n - 1) / 2 jobs."""
    if len(shapes) < 2:
        raise BatchInputError(f"pairwise needs at least two shapes, got {len(shapes)}")
    names = shape_names(shapes)
    return [
        Job(f"{names[i]}__{names[j]}", shapes[i], shapes[j], out / JOBS_FOLDER / f"{names[i]}__{names[j]}", i, j)
        for i in range(len(shapes))
        for j in range(i + 1, len(shapes))
    ]
