"""The command line's pre-alignment, landmarks and inspection: options for ``shapeviewer register`` and the
steps around its run (``cli.run_registration`` calls them; every one is Qt-free).

Before the run, :func:`prepare_alignment` reads and checks the landmark files and computes the rigid or
similarity alignment; after it, :func:`inspect_registration` measures the surface distances both ways and
each landmark's error, for result.json (:attr:`Inspection.json`) and as point data of deformed.vtp and
target.vtp (:func:`write_distance_maps`). Errors are ``InputError`` (one line, exit status 2).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

# point data of deformed.vtp (each vertex to the target surface) and target.vtp (each to the deformed source)
from .core.surface_distance import DISTANCE_TO_SOURCE, DISTANCE_TO_TARGET

MAX_LANDMARK_WEIGHT = 1e6


def _landmark_weight(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got '{text}'") from None
    if not (0.0 <= value <= MAX_LANDMARK_WEIGHT):  # NaN fails too
        raise argparse.ArgumentTypeError(f"expected a number in [0, {MAX_LANDMARK_WEIGHT:g}], got {text}")
    return value


_landmark_weight.__name__ = "landmark weight"


def add_alignment_options(parser: argparse.ArgumentParser) -> None:
    """``--align rigid|similarity|none``, ``--landmarks SRC TGT``, ``--landmark-weight W`` (the register command)."""
    from .core.alignment import ALIGNMENTS

    g = parser.add_argument_group("pre-alignment and landmarks")
    g.add_argument(
        "--align",
        choices=ALIGNMENTS,
        default="none",
        help="move SOURCE onto TARGET first by a rigid or similarity (rigid + uniform scale) transform: from the "
        "landmarks when given (closed-form Procrustes; 1 or 2 pairs only choose ICP's start), else by ICP on the "
        "surfaces; frames are then in "
        "TARGET's frame and result.json holds the 4x4 matrix; with similarity, the scales of --kernel and "
        "--fidelity-scale are in TARGET's units, as the source is scaled onto it (default: none)",
    )
    g.add_argument(
        "--landmarks",
        nargs=2,
        type=Path,
        metavar=("SRC", "TGT"),
        help="paired landmarks on SOURCE and TARGET: CSV (label,x,y,z) or 3D Slicer markups (.mrk.json; LPS "
        "files are converted to RAS by negating x and y); paired by label when both hold the same labels, "
        "else by order; each must lie on its surface",
    )
    g.add_argument(
        "--landmark-weight",
        type=_landmark_weight,
        default=None,
        metavar="W",
        help="add W x the landmark mismatch (relative to its initial value) to the data term; 1 weighs it as "
        "much as the surface mismatch (default 0: the landmarks drive --align and their errors are reported)",
    )


def landmark_inputs(args) -> list[Path]:
    """The landmark files, so that the output-path check refuses to write over them."""
    return list(getattr(args, "landmarks", None) or [])


@dataclass
class AlignmentPlan:
    """What the run needs: the transform (None: none), the paired landmarks (original frames), the weight."""

    alignment: object | None = None  # core.alignment.RigidTransform
    source_landmarks: object | None = None  # io.landmarks.Landmarks, the source's own frame
    target_landmarks: object | None = None
    landmark_weight: float = 0.0
    files: list[str] = field(default_factory=list)

    def registration_kwargs(self) -> dict:
        """Keyword arguments for ``Registration(source, target, settings, mask, **kwargs)``."""
        return {
            "alignment": self.alignment,
            "source_landmarks": None if self.source_landmarks is None else self.source_landmarks.points,
            "target_landmarks": None if self.target_landmarks is None else self.target_landmarks.points,
        }

    def notes(self) -> list[str]:
        """Lines for stderr before the run."""
        lines = []
        if self.source_landmarks is not None:
            use = f"weight {self.landmark_weight:g} in the data term" if self.landmark_weight else "reported only"
            lines.append(f"{len(self.source_landmarks)} landmark pairs ({use})")
        if self.alignment is not None:
            how = "from the landmarks" if self.alignment.method == "landmarks" else "by ICP on the surfaces"
            if self.alignment.method != "landmarks" and self.source_landmarks is not None:
                n = len(self.source_landmarks)  # too few to fit: they chose ICP's start
                how += f", started from the pose that brings the {n} landmark pair{'s' * (n > 1)} closest"
            lines.append(f"aligned the source {how}: {self.alignment.describe()}")
        return lines


def prepare_alignment(args, source, target) -> AlignmentPlan:
    """Read, pair and check the landmarks, then compute the alignment; ``source``/``target``: io.meshes.Mesh."""
    from .core.alignment import compute_alignment
    from .core.errors import InputError
    from .io.landmarks import check_on_surface, pair_landmarks, read_landmarks

    kind = getattr(args, "align", "none") or "none"
    paths = getattr(args, "landmarks", None)
    weight = getattr(args, "landmark_weight", None)
    if weight is not None and not paths:
        raise InputError("--landmark-weight needs --landmarks SRC TGT")
    plan = AlignmentPlan(landmark_weight=weight or 0.0)
    if paths:
        src, tgt = pair_landmarks(read_landmarks(paths[0]), read_landmarks(paths[1]))
        check_on_surface(src, source.vertices, source.faces, "source")
        check_on_surface(tgt, target.vertices, target.faces, "target")
        plan.source_landmarks, plan.target_landmarks = src, tgt
        plan.files = [str(p) for p in paths]
    plan.alignment = compute_alignment(
        kind,
        source.vertices,
        target.vertices,
        None if plan.source_landmarks is None else plan.source_landmarks.points,
        None if plan.target_landmarks is None else plan.target_landmarks.points,
    )
    return plan


def settings_with_landmarks(settings, plan: AlignmentPlan):
    """``settings`` with the plan's landmark weight (a copy)."""
    import dataclasses

    return dataclasses.replace(settings, landmark_weight=plan.landmark_weight)


@dataclass
class Inspection:
    """After a run: point data per result mesh and the numbers for result.json."""

    point_data: dict[str, dict[str, np.ndarray]]
    json: dict


def inspect_registration(reg, final, target, plan: AlignmentPlan | None = None) -> Inspection:
    """Surface distances between the deformed source (``final.trajectory[-1]``, in the target's frame) and the
    target, both ways; each landmark's error. ``reg``: the Registration, ``target``: io.meshes.Mesh."""
    from .core.surface_distance import surface_distances

    deformed = final.trajectory[-1]
    faces = np.asarray(reg.model.faces.cpu().numpy())
    dist = surface_distances(deformed, faces, target.vertices, target.faces)
    info: dict = {"surface_distance": dist.to_json()}
    if reg.alignment is not None:
        info["alignment"] = reg.alignment.to_json()
    errors = reg.landmark_errors(final)
    if errors is not None and plan is not None and plan.source_landmarks is not None:
        marks = final.landmark_trajectory
        initial = np.linalg.norm(marks[0] - plan.target_landmarks.points, axis=1)
        before = np.linalg.norm(plan.source_landmarks.points - plan.target_landmarks.points, axis=1)
        info["landmarks"] = {
            "files": plan.files,
            "count": len(errors),
            "weight": plan.landmark_weight,
            "rms": float(np.sqrt((errors**2).mean())),
            "max": float(errors.max()),
            "rms_at_start": float(np.sqrt((initial**2).mean())),
            "rms_before_alignment": float(np.sqrt((before**2).mean())),
            "pairs": [
                {"label": label, "error": float(e), "error_at_start": float(e0), "deformed": p.tolist()}
                for label, e, e0, p in zip(plan.source_landmarks.labels, errors, initial, marks[-1], strict=True)
            ],
        }
    point_data = {
        "deformed.vtp": {  # as the app's export of the deformed mesh
            "displacement": np.linalg.norm(deformed - final.trajectory[0], axis=1),
            DISTANCE_TO_TARGET: dist.to_target,
        },
        "target.vtp": {DISTANCE_TO_SOURCE: dist.to_source},
    }
    return Inspection(point_data, info)


def summary_line(inspection: Inspection) -> str:
    """One line for stderr: the distances users cite."""
    d = inspection.json["surface_distance"]
    s = d["source_to_target"]
    line = (
        f"surface distance to the target: mean {s['mean']:.4g}, RMS {s['rms']:.4g}, 95% {s['p95']:.4g}; "
        f"Hausdorff {d['hausdorff']:.4g}"
    )
    if "landmarks" in inspection.json:
        lm = inspection.json["landmarks"]
        line += f"; landmark RMS error {lm['rms']:.4g} (from {lm['rms_at_start']:.4g})"
    return line


def write_distance_maps(out: str | os.PathLike, inspection: Inspection, meshes: dict) -> None:
    """Rewrite the result folder's meshes with their distance maps as point data (each file replaced whole).

    ``meshes``: name -> (vertices, faces), as given to ``write_result_dir``. The new file is written next to
    the folder under a work name that ``io.output_paths.clean_stale_partials`` removes if the run is killed.
    """
    from .io.atomic import remove_quietly
    from .io.meshes import write_mesh
    from .io.output_paths import partial_prefix

    out = Path(out)
    for name, data in inspection.point_data.items():
        if name not in meshes:
            continue
        vertices, faces = meshes[name]
        fd, tmp = tempfile.mkstemp(prefix=partial_prefix(out), suffix=Path(name).suffix, dir=out.parent)
        os.close(fd)
        try:
            mask = os.umask(0o022)
            os.umask(mask)
            os.chmod(tmp, 0o666 & ~mask)  # mkstemp makes it private; results get the usual mode
            write_mesh(tmp, vertices, faces, data)
            os.replace(tmp, out / name)
        except BaseException:
            with contextlib.suppress(OSError):
                remove_quietly(Path(tmp))
            raise
