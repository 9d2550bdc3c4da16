"""Command line: ``shapeviewer shoot|register|demo|movie|batch``; a thin layer over core, io and batch.

Exit status: 0 success, 2 bad input (one line on stderr), 130 interrupted (results so far written).
Every option is checked against its range, and every output path, before any work starts. This
module imports only the standard library at first, so that Ctrl-C during start-up is caught by main().
"""

from __future__ import annotations

import argparse
import math
import os
import signal
import sys
import time
import warnings
from pathlib import Path

from . import __version__

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
MAX_MASK_WEIGHT = 1e12
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
    p.add_argument("--out", type=_out_path, required=True, help=out_help)


def _registration_options(p: argparse.ArgumentParser, defaults) -> None:
    """The options of 'register' beyond the model's, shared with 'batch template|pairwise'."""
    from .core.pyramid import COARSEST_VERTICES, LEVEL_FACTOR, SINGLE_LEVEL_MAX
    from .core.registration import PATIENCE

    p.add_argument("--fidelity", choices=("varifold", "currents", "landmarks"), default="varifold")
    p.add_argument("--fidelity-scale", type=_positive_float, help="default: 0.1 x the bounding-box diagonal")
    gamma_help = "gamma, relative: translating the shape by its size costs gamma x the initial mismatch"
    p.add_argument("--regularization", type=REGULARIZATION, default=defaults.regularization, help=gamma_help)
    p.add_argument(
        "--iterations", type=ITERATIONS, default=defaults.iterations,
        help=f"L-BFGS iterations at most, per level (default {defaults.iterations})",
    )  # fmt: skip
    p.add_argument(
        "--levels", type=_levels, default=defaults.levels,
        help=f"coarse-to-fine levels: 'auto' (the default: one level up to {SINGLE_LEVEL_MAX} vertices, else "
        f"decimations by {LEVEL_FACTOR} down to about {COARSEST_VERTICES}), or a count (1: the full meshes only)",
    )  # fmt: skip
    p.add_argument(
        "--tolerance", type=_fraction, default=defaults.tolerance,
        help=f"a level ends when {PATIENCE} iterations lower the loss by less than this fraction of the initial "
        f"mismatch (default {defaults.tolerance:g}; 0: only at --iterations)",
    )  # fmt: skip


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
    for p in (template, pairwise):
        _model_options(p, defaults, out_help="batch folder: jobs/NAME/ per registration (as 'register' writes "
                                             "it), summary.csv and the statistics; rerun to resume")  # fmt: skip
        _registration_options(p, defaults)
        _cluster_options(p)
    template.add_argument(
        "--modes", type=_ranged(_whole, "modes", high=1000), default=5, help="PCA modes to keep (default 5)"
    )
    modes = kinds.add_parser(
        "modes", help="shoot each PCA mode of a 'batch template' folder at +-SD standard deviations: frames, movies"
    )
    modes.add_argument("batch", type=Path, help="a folder written by 'shapeviewer batch template'")
    modes.add_argument("--out", type=_out_path, required=True, help="folder of mode_K_plus|minus/ results and movies")
    modes.add_argument("--modes", type=_ranged(_whole, "modes", high=1000), help="how many modes (default: all kept)")
    modes.add_argument(
        "--sd", type=_ranged(_real, "sd", high=10.0), default=2.0, help="standard deviations to shoot (default 2)"
    )
    modes.add_argument("--movie", choices=("mp4", "gif", "none"), default="mp4", help="movie format (default mp4)")
    modes.add_argument("--size", default="640x480", help="movie WIDTHxHEIGHT in pixels (default 640x480)")
    modes.add_argument("--fps", type=_ranged(_whole, "fps", high=120), default=20, help="frames per second")


def build_parser() -> argparse.ArgumentParser:
    from .core.registration import RegistrationSettings

    defaults = RegistrationSettings()  # written once in core

    parser = _Parser(
        prog="shapeviewer",
        description="Diffeomorphic registration of surface meshes (LDDMM and normalized kernel cometrics).",
    )
    parser.add_argument("--version", action="version", version=f"shapeviewer {__version__}")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)
    shoot = sub.add_parser("shoot", help="shoot a geodesic from SOURCE with given momenta")
    shoot.add_argument("source", type=Path, help="the mesh to deform (PLY, OBJ, STL, VTK, VTP, OFF)")
    shoot.add_argument("--momenta", type=Path, required=True, help="(n, 3) .npy momenta on the control points")
    _model_options(shoot, defaults)
    reg = sub.add_parser("register", help="register SOURCE onto TARGET")
    reg.add_argument("source", type=Path, help="the mesh to deform (PLY, OBJ, STL, VTK, VTP, OFF)")
    reg.add_argument("target", type=Path, help="the mesh to match")
    _model_options(reg, defaults)
    _registration_options(reg, defaults)
    from .cli_inspect import add_alignment_options

    add_alignment_options(reg)  # register only: landmark files belong to one pair
    movie = sub.add_parser("movie", help="render a result folder's geodesic to an MP4 or GIF (no display needed)")
    movie.add_argument("result", type=Path, help="a folder written by 'shapeviewer register' or 'shoot'")
    movie.add_argument("--out", type=_out_path, required=True, help="movie file: .mp4 (H.264) or .gif")
    movie.add_argument("--size", default="1280x720", help="WIDTHxHEIGHT in pixels (default 1280x720)")
    movie.add_argument(
        "--fps", type=_ranged(_whole, "fps", high=120), default=30, help="frames per second (default 30)"
    )
    movie.add_argument(
        "--frames-per-step",
        type=_ranged(_whole, "frames", high=100),
        default=4,
        help="movie frames per time step of the geodesic, interpolated (default 4)",
    )
    movie.add_argument("--pingpong", action="store_true", help="play forward then back")
    movie.add_argument("--no-target", action="store_true", help="leave out the translucent target")
    movie.add_argument("--no-displacement", action="store_true", help="plain colour instead of displacement")
    gui = sub.add_parser(
        "gui", help="open the desktop app on SOURCE and TARGET, or on a saved SESSION.svsession (no files: what "
        "was open last, the demo pair the first time)"
    )  # fmt: skip
    gui.add_argument("source", type=Path, nargs="?", help="the mesh to deform, or a saved SESSION.svsession")
    gui.add_argument("target", type=Path, nargs="?", help="the mesh to match")
    demo = sub.add_parser("demo", help="register the bundled demo pair from the command line")
    demo.add_argument("--out", type=_out_path, default=Path("shapeviewer-demo"), help="result folder")
    demo.add_argument("--iterations", type=ITERATIONS, default=20)
    _batch_parsers(sub, defaults)
    return parser


def _model_settings(args):
    from .core.model import ModelSettings
    from .core.sinkhorn import SinkhornSettings

    return ModelSettings(
        kernel=args.kernel,
        cometric=args.cometric,
        sinkhorn=SinkhornSettings(iterations=args.sinkhorn_iters, tol=args.sinkhorn_tol),
        steps=args.steps,
        integrator=args.integrator,
        control_points=args.control_points,
        backend=args.backend,
        device=args.device,
        dtype=args.dtype,
    )


class BadInput(ValueError):
    """A CLI input refused by the checks here; the message is the whole line."""


def _check_backend(args) -> None:
    """KeOps on a CPU compiles C++: without a compiler, say so in one line (keops) or use torch (auto)."""
    import shutil

    if args.backend not in ("keops", "auto") or args.device == "cuda":
        return
    cxx = os.environ.get("CXX")
    if (cxx and shutil.which(cxx)) or shutil.which("g++"):
        return
    missing = f"CXX={cxx!r} is not found and no g++ is on PATH" if cxx else "no g++ on PATH and CXX is not set"
    if args.backend == "keops":
        raise BadInput(
            f"--backend keops needs a C++ compiler ({missing}): install g++ or set CXX, or use --backend torch"
        )
    args.backend = "torch"
    print(f"shapeviewer: note: no C++ compiler for KeOps ({missing}); using the dense torch backend", file=sys.stderr)


def _check_relative(value: float, size: float, what: str) -> None:
    from .core.model import relative_scale_problem

    problem = relative_scale_problem(value, size, what)
    if problem:
        raise BadInput(problem)


def _check_options_against(args, source) -> None:
    """Scales that make sense for this source: kernel and fidelity scales relative to its size."""
    from .core.kernels import parse_kernel

    lo, hi = source.vertices.min(0), source.vertices.max(0)
    size = float(sum((high - low) ** 2 for low, high in zip(lo, hi, strict=True)) ** 0.5)
    if args.kernel is not None:
        for term in parse_kernel(args.kernel).terms:
            _check_relative(term.sigma, size, f"kernel scale {term.profile}({term.sigma:g})")
    if getattr(args, "fidelity_scale", None) is not None:
        _check_relative(args.fidelity_scale, size, "--fidelity-scale")


def _load_mask(args, n_vertices: int):
    from .io.masks import load_mask

    if args.mask is None:
        return None
    mask = load_mask(args.mask, n_vertices)
    if mask.max() > MAX_MASK_WEIGHT:
        raise BadInput(f"mask {args.mask}: weights reach {mask.max():.3g}, above {MAX_MASK_WEIGHT:g}; rescale them")
    return mask


def _inputs(args, *paths) -> list[Path]:
    from .cli_inspect import landmark_inputs

    named = (*paths, getattr(args, "mask", None), getattr(args, "momenta", None), *landmark_inputs(args))
    return [p for p in named if p is not None]


def _prepare(args, *mesh_paths):
    """Every check that needs no registration: kernel text, backend, output path, meshes, mask."""
    from .core.kernels import parse_kernel
    from .io.meshes import read_mesh
    from .io.output_paths import check_output_folder

    if args.kernel is not None:
        parse_kernel(args.kernel)  # '' included: an empty kernel is an error, not the default
    _check_backend(args)
    check_output_folder(args.out, _inputs(args, *mesh_paths))
    meshes = [read_mesh(p) for p in mesh_paths]
    _check_options_against(args, meshes[0])
    return meshes, _load_mask(args, meshes[0].n_vertices)


def _summary(model, p0_tensor, seconds: float) -> dict:
    import torch

    from .core.model import geodesic_distance

    with torch.enable_grad():
        h = float(model.hamiltonian(p0_tensor).detach())
    info = {"hamiltonian": h, "distance": geodesic_distance(h)}
    info.update(model.describe())
    info["seconds"] = seconds
    return info


def _mu_and_lambda(model):
    return model.mu.detach().cpu().numpy(), model.lam()


def _check_geodesic(frames, source) -> None:
    import numpy as np

    size = float(np.linalg.norm(source.vertices.max(0) - source.vertices.min(0)))
    travel = np.abs(frames - source.vertices[None]).max() if np.isfinite(frames).all() else math.inf
    if travel > MAX_TRAVEL * size:
        raise BadInput(
            f"the momenta are too large: the geodesic carries vertices {travel:.3g} away, over {MAX_TRAVEL:g} x "
            f"the shape's size ({size:.3g})"
        )


def cmd_shoot(args) -> int:
    import numpy as np

    from .core.model import DeformationModel
    from .io.arrays import load_array

    start = time.perf_counter()
    (source,), mask = _prepare(args, args.source)
    momenta = load_array(args.momenta, "momenta", shape=(None, 3), max_entries=3 * source.n_vertices)
    if np.abs(momenta).max(initial=0.0) > MAX_MOMENTUM:
        raise BadInput(f"momenta file {args.momenta}: values reach {np.abs(momenta).max():.3g}, above {MAX_MOMENTUM:g}")
    model = DeformationModel(source.vertices, source.faces, mask, _model_settings(args))
    p0 = model.momenta_tensor(momenta)
    traj = model.shoot(p0, create_graph=False)
    frames = np.stack([model.to_user(x) for x in traj.points])
    _check_geodesic(frames, source)
    result = _summary(model, p0, time.perf_counter() - start)
    mu, lam = _mu_and_lambda(model)
    _write(args.out, frames, source.faces, p0.cpu().numpy(), mu, lam, result)
    print(f"shot {len(frames) - 1} steps; distance {result['distance']:.6g}; wrote {args.out}", file=sys.stderr)
    return 0


def _write(out, *parts, meshes=None) -> Path:
    from .io.results import write_result_dir

    try:
        return write_result_dir(out, *parts, meshes=meshes)
    except OSError as exc:
        raise BadInput(f"cannot write results to {out}: {exc.strerror or exc}") from None


class _Interrupt:
    """First Ctrl-C asks the registration to stop cleanly; a second one aborts."""

    def __init__(self):
        self.requested = False

    def __call__(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        print(
            "\ninterrupt: stopping after the current step and writing results (Ctrl-C again to abort)", file=sys.stderr
        )


def registration_settings(args):
    """The core's settings from the parsed model and registration options."""
    from .core.registration import RegistrationSettings

    return RegistrationSettings(
        model=_model_settings(args),
        fidelity=args.fidelity,
        fidelity_scale=args.fidelity_scale,
        regularization=args.regularization,
        iterations=args.iterations,
        levels=args.levels,
        tolerance=args.tolerance,
    )


def _stderr(message: str) -> None:
    print(message, file=sys.stderr)


def register_to_folder(source_path, target_path, args, say=_stderr, should_stop=None, keep_cancelled=True,
                       extra=None, before_run=None):  # fmt: skip
    """Register, then write the result folder ``args.out`` atomically; ``(folder or None, result dict)``.

    ``say`` (None: silent) hears the set-up and one line per iteration; ``should_stop()`` ends the run
    cleanly; ``before_run()`` is called once the set-up is done. A cancelled run is written only with
    ``keep_cancelled``; ``extra`` adds keys to result.json. The one path of 'register' and of every job
    of 'batch'.
    """
    from .cli_inspect import (
        inspect_registration,
        prepare_alignment,
        settings_with_landmarks,
        summary_line,
        write_distance_maps,
    )
    from .core.registration import Registration

    say = say or (lambda message: None)
    start = time.perf_counter()
    (source, target), mask = _prepare(args, source_path, target_path)
    _raise_deferred_interrupt()
    plan = prepare_alignment(args, source, target)
    settings = settings_with_landmarks(registration_settings(args), plan)
    reg = Registration((source.vertices, source.faces), (target.vertices, target.faces), settings, mask,
                       **plan.registration_kwargs())  # fmt: skip
    for line in plan.notes():
        say(line)
    d = reg.describe()
    say(
        f"registering {source.name} ({source.n_vertices} vertices) -> {target.name}: {d['cometric']} "
        f"{d['kernel']}, {d['control_points']} control points, {d['backend']} on {d['device']} ({d['dtype']})"
    )
    if d["passive_vertices"]:
        say(f"{d['passive_vertices']} vertices of weight 0 follow the flow passively")
    if len(reg.plans) > 1:
        sizes = ", ".join(
            f"{p.source.n_vertices}" + ("" if p.run else " (skipped: resolved by a coarser level)") for p in reg.plans
        )
        say(f"coarse to fine over {len(reg.to_run)} of {len(reg.plans)} levels: {sizes} vertices")
    if d["backend"] == "keops":
        say("note: KeOps compiles each formula on first use (seconds each); later runs reuse its cache")
    history = []
    if before_run is not None:
        before_run()
    for rep in reg.run(should_stop=should_stop):
        if not rep.done:
            history.append(rep.loss)
            level = f"level {rep.level}/{rep.levels} ({rep.level_vertices} vertices)  " if rep.levels > 1 else ""
            say(
                f"{level}iter {rep.iteration:4d}  loss {rep.loss:.6g}  fidelity {rep.fidelity:.6g} "
                f"(-{100 * rep.fidelity_drop:.1f}%)  energy {rep.energy:.6g}  {rep.elapsed:6.1f} s"
            )
        final = rep
    p0 = reg.model.momenta_tensor(final.momenta)
    result = _summary(reg.model, p0, time.perf_counter() - start)
    result.update(reg.describe())
    result.update(
        fidelity_initial=final.fidelity_initial,
        fidelity_final=final.fidelity,
        fidelity_drop=final.fidelity_drop,
        iterations=final.iteration,
        source_file=str(source_path),
        target_file=str(target_path),
        loss_history=history,
        loss_final=final.loss,
        status=final.status,
        message=final.message,
        seconds=time.perf_counter() - start,
    )
    result.update(extra or {})
    if final.status == "cancelled" and not keep_cancelled:
        return None, result
    inspection = inspect_registration(reg, final, target, plan)
    result.update(inspection.json)
    mu, lam = _mu_and_lambda(reg.model)
    meshes = {"deformed.vtp": (final.trajectory[-1], source.faces), "target.vtp": (target.vertices, target.faces)}
    out = _write(args.out, final.trajectory, source.faces, final.momenta, mu, lam, result, meshes=meshes)
    if out is not None:
        write_distance_maps(out, inspection, meshes)
    say(summary_line(inspection))
    return out, result


def run_registration(source_path, target_path, args) -> int:
    interrupt = _Interrupt()
    previous = []

    def arm() -> None:  # from here, Ctrl-C stops the run and keeps what it has
        _raise_deferred_interrupt()
        previous.append(signal.signal(signal.SIGINT, interrupt))

    try:
        out, result = register_to_folder(
            source_path, target_path, args, should_stop=lambda: interrupt.requested, before_run=arm
        )
    except Exception:
        if interrupt.requested:  # stopped before the first evaluation: nothing to write
            raise KeyboardInterrupt from None
        raise
    finally:
        if previous:
            signal.signal(signal.SIGINT, previous[0])
    print(
        f"{result['status']}: {result['message']}; fidelity -{100 * result['fidelity_drop']:.1f}%, distance "
        f"{result['distance']:.6g}, {result['seconds']:.1f} s; wrote {out}",
        file=sys.stderr,
    )
    if result["status"] == "failed":
        return 1
    return EXIT_INTERRUPTED if result["status"] == "cancelled" else 0


def cmd_demo(args) -> int:
    from .io.demo import demo_paths

    src, tgt = demo_paths()
    defaults = build_parser().parse_args(["register", str(src), str(tgt), "--out", str(args.out)])
    defaults.iterations = args.iterations
    return run_registration(src, tgt, defaults)


def cmd_movie(args) -> int:
    from .io.output_paths import check_output_file
    from .io.results import read_result_dir
    from .render.movie import MovieSettings, parse_size, write_movie

    settings = MovieSettings(
        size=parse_size(args.size),
        fps=args.fps,
        frames_per_step=args.frames_per_step,
        pingpong=args.pingpong,
        show_target=not args.no_target,
    )
    settings.validate(args.out)
    check_output_file(args.out, [args.result])
    result = read_result_dir(args.result)
    info = result.info
    settings.color_by_displacement = not args.no_displacement
    settings.caption = f"{info.get('cometric', '')} {info.get('kernel', '')}".strip()[:200]
    if "distance" in info:
        settings.caption += f"   geodesic distance {info['distance']:.4g}"
    if result.target is None and not args.no_target:
        print(
            "shapeviewer: note: the result folder holds no target.vtp; the movie shows the source only", file=sys.stderr
        )

    def progress(done: int, total: int) -> bool:
        if done == total or done % 10 == 0:
            print(f"\rframe {done}/{total}", end="", file=sys.stderr, flush=True)
        return True

    out = write_movie(args.out, result.trajectory, result.faces, result.target, settings, progress=progress)
    print(f"\nwrote {out}", file=sys.stderr)
    return 0


SESSION_SUFFIX = ".svsession"
LIST_ARGUMENTS = ("subjects", "shapes")  # the positional lists of 'batch'; any other list is argparse's '--opt=--'


def cmd_gui(source: Path | None, target: Path | None) -> int:
    session = source if source is not None and target is None and source.suffix == SESSION_SUFFIX else None
    if session is not None:
        if not session.is_file():
            _error(f"{session}: no such session file")
            return EXIT_BAD_INPUT
        source = None
    elif (source is None) != (target is None):
        print(
            "shapeviewer: error: 'shapeviewer gui' takes both SOURCE and TARGET, a SESSION.svsession, or nothing",
            file=sys.stderr,
        )
        return EXIT_BAD_INPUT
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        print(
            "shapeviewer: error: no display (DISPLAY is not set): the desktop app needs one; "
            "'shapeviewer register' and 'shapeviewer movie' work without",
            file=sys.stderr,
        )
        return EXIT_BAD_INPUT
    from .qt.app import run_gui

    return run_gui(source, target, session)


def _short_warning(message, category, filename, lineno, line=None):
    return f"shapeviewer: warning: {message}\n"


def _error(message: str, kind: str = "error") -> None:
    line = " ".join(str(message).split())  # one line, whatever the message held
    print(f"shapeviewer: {kind}: {line}", file=sys.stderr)


def input_error_message(exc: BaseException) -> str | None:
    """The one line to show for an error of the input (a mesh, an option, a path...), None for a bug."""
    from .core.backends import BackendError
    from .core.kernels import KernelSpecError
    from .core.model import InputError
    from .io.meshes import MeshReadError
    from .io.output_paths import OutputPathError
    from .io.results import ResultReadError

    if isinstance(exc, KernelSpecError):
        return exc.short
    if isinstance(exc, (InputError, MeshReadError, BackendError, ResultReadError, OutputPathError, BadInput)):
        return str(exc)
    if type(exc).__name__ == "MovieError":  # render/ is imported only by the commands that make movies
        return str(exc)
    if isinstance(exc, MemoryError):
        return "out of memory: the input is too large for this machine"
    if isinstance(exc, OSError):
        return f"{exc.filename + ': ' if exc.filename else ''}{exc.strerror or exc}"
    return None


def cmd_batch(args) -> int:
    from .batch.command import run_batch_command

    return run_batch_command(args)


def _run(args) -> int:
    commands = {
        "shoot": cmd_shoot,
        "register": lambda a: run_registration(a.source, a.target, a),
        "movie": cmd_movie,
        "batch": cmd_batch,
    }
    if args.command not in ("register", "demo"):  # they act on a deferred Ctrl-C themselves; batch: its jobs
        signal.signal(signal.SIGINT, signal.default_int_handler)
    _raise_deferred_interrupt()
    try:
        return commands.get(args.command, cmd_demo)(args)
    except Exception as exc:
        message = input_error_message(exc)
        if message is None:
            raise
        _error(message)
    return EXIT_BAD_INPUT


_DEFERRED_INTERRUPTS: list[int] = []


def _defer_interrupt(signum, _frame) -> None:
    """Ctrl-C during start-up is noted, not raised: a KeyboardInterrupt inside a C++ extension's import or
    call (pybind11) aborts the process; the note is acted on at the next safe point."""
    _DEFERRED_INTERRUPTS.append(signum)


def _raise_deferred_interrupt() -> None:
    if _DEFERRED_INTERRUPTS:
        _DEFERRED_INTERRUPTS.clear()
        raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    """Run the command line; Ctrl-C at any point before the first iteration exits 130 with one line."""
    previous_handler = signal.signal(signal.SIGINT, _defer_interrupt)
    try:
        return _main(argv)
    finally:
        signal.signal(signal.SIGINT, previous_handler)
        _DEFERRED_INTERRUPTS.clear()


def _main(argv: list[str] | None) -> int:
    try:
        warnings.formatwarning = _short_warning
        words = sys.argv[1:] if argv is None else argv
        if len(words) == 1 and words[0].endswith(SESSION_SUFFIX) and not words[0].startswith("-"):
            return cmd_gui(Path(words[0]), None)  # 'shapeviewer FILE.svsession', as a file manager calls it
        parser = build_parser()
        args = parser.parse_args(argv)
        for name, value in vars(args).items():
            if isinstance(value, list) and name not in LIST_ARGUMENTS:  # '--opt=--' gives a list, never type-checked
                parser.error(f"argument --{name.replace('_', '-')}: expected one value, got '--'")
        if args.command in (None, "gui"):
            return cmd_gui(getattr(args, "source", None), getattr(args, "target", None))
        if args.command == "batch" and args.batch_command is None:
            _error("'shapeviewer batch' needs one of: template, pairwise, modes (see 'shapeviewer batch --help')")
            return EXIT_BAD_INPUT
        return _run(args)
    except KeyboardInterrupt:
        _error("stopped before any result was written", "interrupted")
        if argv is None:  # the real command: CPython may still end it by SIGINT if a library saw the interrupt
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(EXIT_INTERRUPTED)
        return EXIT_INTERRUPTED
    except Exception as exc:  # noqa: BLE001  a bug: still one line, the traceback on request
        if os.environ.get("SHAPEVIEWER_TRACEBACK"):
            raise
        _error(
            f"{type(exc).__name__}: {exc} (a bug: rerun with SHAPEVIEWER_TRACEBACK=1 and report it)", "internal error"
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
