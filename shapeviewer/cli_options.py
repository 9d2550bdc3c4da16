"""The command line's option definitions: value parsers with their ranges, and the option groups that
'register', 'shoot' and 'batch' share (one definition each, so the commands cannot drift apart)."""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130

# Limits a run can finish within (beyond: hours, or memory for the whole geodesic's graph).
MAX_STEPS = 1000
MAX_SINKHORN_ITERATIONS = 1000
MAX_ITERATIONS = 10000
MAX_LEVELS = 8
MAX_CONTROL_POINTS = 10**6
MAX_REGULARIZATION = 1e6
SINKHORN_TOLERANCE = (1e-12, 1.0)
MAX_MOMENTUM = 1e30  # beyond, squared norms overflow; what the geodesic does is checked after shooting
MAX_TRAVEL = 1e3  # a geodesic that carries vertices farther than this x the shape's size has diverged


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        words = " ".join(["shapeviewer", *self.prog.split()[1:], "--help"])
        sys.stderr.write(f"shapeviewer: error: {message} (see '{words}')\n")
        raise SystemExit(EXIT_BAD_INPUT)


def _whole(text: str, low: int = 1, high: int | None = None, why: str = "") -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got '{text}'") from None
    if value < low:
        raise argparse.ArgumentTypeError(f"expected a number >= {low}, got {value}")
    if high is not None and value > high:
        raise argparse.ArgumentTypeError(f"{value} is above the limit of {high}{why}")
    return value


def _real(text: str, low: float = 0.0, high: float = math.inf, low_open: bool = True) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got '{text}'") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text}")
    if value < low or (low_open and value == low) or value > high:
        bound = (
            f"{'(' if low_open else '['}{low:g}, {high:g}]"
            if math.isfinite(high)
            else f"{'>' if low_open else '>='} {low:g}"
        )
        raise argparse.ArgumentTypeError(f"expected a number {'in ' if math.isfinite(high) else ''}{bound}, got {text}")
    return value


def _ranged(kind, name: str, **limits):
    def parse(text: str):
        return kind(text, **limits)

    parse.__name__ = name  # argparse names the type in its messages
    return parse


def _positive_float(text: str) -> float:
    return _real(text)


def _non_negative_float(text: str) -> float:
    return _real(text, low_open=False)


def _out_path(text: str) -> Path:
    if not text.strip():
        raise argparse.ArgumentTypeError("the output path is empty")
    return Path(text)


def _control_points(text: str) -> int | str:
    return text if text in ("auto", "all") else _whole(text, high=MAX_CONTROL_POINTS)


def _levels(text: str) -> int | None:
    return None if text == "auto" else _whole(text, high=MAX_LEVELS)


def _fraction(text: str) -> float:
    value = _non_negative_float(text)
    if value >= 1:
        raise argparse.ArgumentTypeError(f"expected a fraction in [0, 1), got {text}")
    return value


CANNOT_FINISH = " (a run that long cannot finish)"
STEPS = _ranged(_whole, "steps", high=MAX_STEPS, why=CANNOT_FINISH)
SINKHORN_ITERATIONS = _ranged(_whole, "iterations", high=MAX_SINKHORN_ITERATIONS, why=CANNOT_FINISH)
ITERATIONS = _ranged(_whole, "iterations", high=MAX_ITERATIONS, why=CANNOT_FINISH)
TOLERANCE = _ranged(_real, "tolerance", low=SINKHORN_TOLERANCE[0], high=SINKHORN_TOLERANCE[1], low_open=False)
REGULARIZATION = _ranged(_real, "regularization", high=MAX_REGULARIZATION, low_open=False)


def _model_options(p: argparse.ArgumentParser, defaults, out_help: str = "result folder (created if missing)") -> None:
    from .core.backends import BACKENDS
    from .core.cometrics import COMETRICS
    from .core.model import AUTO_ALL_CONTROL_POINTS, AUTO_CONTROL_POINTS, DEVICES, DTYPES
    from .core.shooting import INTEGRATORS

    model_defaults = defaults.model
    g = p.add_argument_group("deformation model")
    g.add_argument("--mask", type=Path, help="(N,) .npy of non-negative vertex weights of SOURCE (mu = area * weight)")
    g.add_argument(
        "--kernel",
        help="kernel string, e.g. 'cauchy(0.3)' or '1 + cauchy(0.25) + cauchy(0.05)' "
        "(default: cauchy at 0.15 x the source's bounding-box diagonal)",
    )
    g.add_argument("--cometric", choices=COMETRICS, default=model_defaults.cometric)
    s = g.add_mutually_exclusive_group()
    s.add_argument(
        "--sinkhorn-iters", type=SINKHORN_ITERATIONS,
        help=f"fixed Sinkhorn iterations from lambda=1 (the talk; at most {MAX_SINKHORN_ITERATIONS})",
    )  # fmt: skip
    s.add_argument("--sinkhorn-tol", type=TOLERANCE, default=1e-6, help="converge lambda to this residual")
    g.add_argument(
        "--steps", type=STEPS, default=model_defaults.steps, help=f"time steps T (default {model_defaults.steps})"
    )
    g.add_argument("--integrator", choices=INTEGRATORS, default=model_defaults.integrator)
    g.add_argument(
        "--control-points",
        type=_control_points,
        default=model_defaults.control_points,
        help=f"momenta on N farthest-point samples of the weighted vertices, 'all', or 'auto' (the default: all up "
        f"to {AUTO_ALL_CONTROL_POINTS} vertices, else {AUTO_CONTROL_POINTS})",
    )
    g.add_argument("--backend", choices=BACKENDS, default=model_defaults.backend)
    g.add_argument("--device", choices=DEVICES, default=model_defaults.device)
    g.add_argument("--dtype", choices=tuple(DTYPES), default=model_defaults.dtype)
    _output_options(p, out_help)


def _output_options(p: argparse.ArgumentParser, out_help: str):
    """The 'output' group, --out first; the caller may add more (a movie's format...)."""
    g = p.add_argument_group("output")
    g.add_argument("--out", type=_out_path, required=True, help=out_help)
    return g


def _registration_options(p: argparse.ArgumentParser, defaults) -> None:
    """The options of 'register' beyond the model's, shared with 'batch template|pairwise'."""
    from .core.pyramid import COARSEST_VERTICES, LEVEL_FACTOR, SINGLE_LEVEL_MAX
    from .core.stopping import PATIENCE

    g = p.add_argument_group("fitting (the loss and when to stop)")
    g.add_argument("--fidelity", choices=("varifold", "currents", "landmarks"), default="varifold")
    g.add_argument("--fidelity-scale", type=_positive_float, help="default: 0.1 x the bounding-box diagonal")
    gamma_help = "gamma, relative: translating the shape by its size costs gamma x the initial mismatch"
    g.add_argument("--regularization", type=REGULARIZATION, default=defaults.regularization, help=gamma_help)
    g.add_argument(
        "--iterations", type=ITERATIONS, default=defaults.iterations,
        help=f"L-BFGS iterations at most, per level (default {defaults.iterations})",
    )  # fmt: skip
    g.add_argument(
        "--levels", type=_levels, default=defaults.levels,
        help=f"coarse-to-fine levels: 'auto' (the default: one level up to {SINGLE_LEVEL_MAX} vertices, else "
        f"decimations by {LEVEL_FACTOR} down to about {COARSEST_VERTICES}), or a count (1: the full meshes only)",
    )  # fmt: skip
    g.add_argument(
        "--tolerance", type=_fraction, default=defaults.tolerance,
        help=f"a level ends when {PATIENCE} iterations lower the loss by less than this fraction of its drop so "
        f"far (default {defaults.tolerance:g}; 0: only at --iterations)",
    )  # fmt: skip


BATCH_ALIGN_HELP = {
    "pairwise": "move each pair's SOURCE (the earlier shape) onto its TARGET first by a rigid or similarity "
    "(rigid + uniform scale) transform found by ICP on the surfaces, as 'register --align' does; result.json "
    "holds the 4x4 matrix (default: none)",
    "template": "move each SUBJECT onto TEMPLATE first by a rigid or similarity (rigid + uniform scale) transform "
    "found by ICP on the surfaces; the template stays where it is, so that every job's momenta live at the "
    "same template for the PCA; the job's target.vtp is the moved subject and result.json holds the 4x4 matrix "
    "as 'target_alignment' (default: none)",
}


def _batch_alignment_option(p: argparse.ArgumentParser, kind: str) -> None:
    """``--align none|rigid|similarity`` of 'batch template|pairwise' ('register' has it with its landmarks)."""
    from .core.alignment import ALIGNMENTS

    g = p.add_argument_group("pre-alignment")
    g.add_argument("--align", choices=ALIGNMENTS, default="none", help=BATCH_ALIGN_HELP[kind])


def _cluster_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("where the jobs run (Dask distributed)")
    w = g.add_mutually_exclusive_group()
    w.add_argument(
        "--scheduler", metavar="ADDRESS",
        help="an existing cluster's scheduler, e.g. tcp://10.0.0.5:8786 (started with 'dask scheduler' and "
        "'dask worker'); the meshes and --out must be reachable from every worker at the same paths",
    )  # fmt: skip
    w.add_argument(
        "--workers", type=_ranged(_whole, "workers", high=4096),
        help="worker processes of the local cluster, one thread each (default: one per CPU core)",
    )  # fmt: skip
    w.add_argument("--gpu", action="store_true", help="a local cluster of one worker per GPU (needs dask-cuda, CUDA)")
    g.add_argument(
        "--keops-cache", type=Path,
        help="KeOps cache folder of every worker (KEOPS_CACHE_FOLDER; default: KeOps' own, ~/.cache/keops*); formulas "
        "compile there once per machine, before the first job",
    )  # fmt: skip


def _batch_parsers(sub, defaults) -> None:
    batch = sub.add_parser(
        "batch", help="register a population on a Dask cluster: every subject to a template, or every pair"
    )
    kinds = batch.add_subparsers(dest="batch_command", parser_class=_Parser, metavar="{template,pairwise,modes}")
    shapes_help = "meshes, folders of meshes or glob patterns ('shapes/*.ply')"
    template = kinds.add_parser(
        "template", help="register TEMPLATE onto every SUBJECT, then a PCA of the initial momenta at the template"
    )
    template.add_argument(
        "template", type=Path, help="the source of every job; --mask weights its vertices, the PCA lives on it"
    )
    template.add_argument("subjects", nargs="+", metavar="SUBJECT", help=shapes_help)
    pairwise = kinds.add_parser("pairwise", help="register every pair of SHAPEs: a geodesic distance matrix")
    pairwise.add_argument("shapes", nargs="+", metavar="SHAPE", help=shapes_help)
    for kind, p in (("template", template), ("pairwise", pairwise)):
        _model_options(p, defaults, out_help="batch folder: jobs/NAME/ per registration (as 'register' writes "
                                             "it), summary.csv and the statistics; rerun to resume")  # fmt: skip
        _registration_options(p, defaults)
        _batch_alignment_option(p, kind)
        _cluster_options(p)
    template.add_argument(
        "--modes", type=_ranged(_whole, "modes", high=1000), default=5, help="PCA modes to keep (default 5)"
    )
    modes = kinds.add_parser(
        "modes", help="shoot each PCA mode of a 'batch template' folder at +-SD standard deviations: frames, movies"
    )
    modes.add_argument("batch", type=Path, help="a folder written by 'shapeviewer batch template'")
    modes.add_argument("--modes", type=_ranged(_whole, "modes", high=1000), help="how many modes (default: all kept)")
    modes.add_argument(
        "--sd", type=_ranged(_real, "sd", high=10.0), default=2.0, help="standard deviations to shoot (default 2)"
    )
    output = _output_options(modes, "folder of mode_K_plus|minus/ results and movies")
    output.add_argument("--movie", choices=("mp4", "gif", "none"), default="mp4", help="movie format (default mp4)")
    output.add_argument("--size", default="640x480", help="movie WIDTHxHEIGHT in pixels (default 640x480)")
    output.add_argument("--fps", type=_ranged(_whole, "fps", high=120), default=20, help="frames per second")


def registration_flags(settings) -> list[str]:
    """The 'register' / 'batch' options that give back ``settings`` (a RegistrationSettings) once parsed and
    turned into settings by cli_register.registration_settings; the landmark weight has no option (batches
    have no landmarks). '--flag=value' keeps a kernel string that starts with '-' one argument."""
    m = settings.model
    flags = [f"--kernel={m.kernel}"] if m.kernel is not None else []
    flags += [f"--cometric={m.cometric}"]
    if m.sinkhorn.iterations is not None:
        flags.append(f"--sinkhorn-iters={m.sinkhorn.iterations}")
    else:
        flags.append(f"--sinkhorn-tol={m.sinkhorn.tol!r}")
    cp = "all" if m.control_points is None else m.control_points
    flags += [f"--steps={m.steps}", f"--integrator={m.integrator}", f"--control-points={cp}",
              f"--backend={m.backend}", f"--device={m.device}", f"--dtype={m.dtype}",
              f"--fidelity={settings.fidelity}"]  # fmt: skip
    if settings.fidelity_scale is not None:
        flags.append(f"--fidelity-scale={float(settings.fidelity_scale)!r}")
    levels = "auto" if settings.levels is None else settings.levels
    flags += [f"--regularization={float(settings.regularization)!r}", f"--iterations={settings.iterations}",
              f"--levels={levels}", f"--tolerance={float(settings.tolerance)!r}"]  # fmt: skip
    return flags
