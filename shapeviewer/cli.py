"""Command line: ``shapeviewer shoot|register|demo``; a thin layer over core and io.

Exit status: 0 success, 2 bad input (one line on stderr), 130 interrupted (results so far written).
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

import numpy as np

from . import __version__
from .core.backends import BACKENDS
from .core.cometrics import COMETRICS
from .core.model import AUTO_ALL_CONTROL_POINTS, AUTO_CONTROL_POINTS, DEVICES, DTYPES, ModelSettings
from .core.pyramid import COARSEST_VERTICES, LEVEL_FACTOR, SINGLE_LEVEL_MAX
from .core.registration import PATIENCE, RegistrationSettings
from .core.shooting import INTEGRATORS

MODEL, REGISTRATION = ModelSettings(), RegistrationSettings()  # the defaults, written once in core

EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        sys.stderr.write(f"shapeviewer: error: {message} (see 'shapeviewer {self.prog.split()[-1]} --help')\n")
        raise SystemExit(EXIT_BAD_INPUT)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got '{text}'") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1, got {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got '{text}'") from None
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"expected a positive finite number, got {text}")
    return value


def _non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got '{text}'") from None
    if not (value >= 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"expected a finite number >= 0, got {text}")
    return value


def _control_points(text: str) -> int | str:
    return text if text in ("auto", "all") else _positive_int(text)


def _levels(text: str) -> int | None:
    return None if text == "auto" else _positive_int(text)


def _fraction(text: str) -> float:
    value = _non_negative_float(text)
    if value >= 1:
        raise argparse.ArgumentTypeError(f"expected a fraction in [0, 1), got {text}")
    return value


def _model_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("deformation model")
    g.add_argument("--mask", type=Path, help="(N,) .npy of non-negative vertex weights of SOURCE (mu = area * weight)")
    g.add_argument(
        "--kernel",
        help="kernel string, e.g. 'cauchy(0.3)' or '1 + cauchy(0.25) + cauchy(0.05)' "
        "(default: cauchy at 0.15 x the source's bounding-box diagonal)",
    )
    g.add_argument("--cometric", choices=COMETRICS, default=MODEL.cometric)
    s = g.add_mutually_exclusive_group()
    s.add_argument("--sinkhorn-iters", type=_positive_int, help="fixed Sinkhorn iterations from lambda=1 (the talk)")
    s.add_argument("--sinkhorn-tol", type=_positive_float, default=1e-6, help="converge lambda to this residual")
    g.add_argument("--steps", type=_positive_int, default=MODEL.steps, help=f"time steps T (default {MODEL.steps})")
    g.add_argument("--integrator", choices=INTEGRATORS, default=MODEL.integrator)
    g.add_argument(
        "--control-points",
        type=_control_points,
        default=MODEL.control_points,
        help=f"momenta on N farthest-point samples of the weighted vertices, 'all', or 'auto' (the default: all up "
        f"to {AUTO_ALL_CONTROL_POINTS} vertices, else {AUTO_CONTROL_POINTS})",
    )
    g.add_argument("--backend", choices=BACKENDS, default=MODEL.backend)
    g.add_argument("--device", choices=DEVICES, default=MODEL.device)
    g.add_argument("--dtype", choices=tuple(DTYPES), default=MODEL.dtype)
    p.add_argument("--out", type=Path, required=True, help="result folder (created if missing)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="shapeviewer",
        description="Diffeomorphic registration of surface meshes (LDDMM and normalized kernel cometrics).",
    )
    parser.add_argument("--version", action="version", version=f"shapeviewer {__version__}")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)
    shoot = sub.add_parser("shoot", help="shoot a geodesic from SOURCE with given momenta")
    shoot.add_argument("source", type=Path)
    shoot.add_argument("--momenta", type=Path, required=True, help="(n, 3) .npy momenta on the control points")
    _model_options(shoot)
    reg = sub.add_parser("register", help="register SOURCE onto TARGET")
    reg.add_argument("source", type=Path)
    reg.add_argument("target", type=Path)
    _model_options(reg)
    reg.add_argument("--fidelity", choices=("varifold", "currents", "landmarks"), default="varifold")
    reg.add_argument("--fidelity-scale", type=_positive_float, help="default: 0.1 x the bounding-box diagonal")
    gamma_help = "gamma, relative: translating the shape by its size costs gamma x the initial mismatch"
    reg.add_argument("--regularization", type=_non_negative_float, default=REGISTRATION.regularization, help=gamma_help)
    reg.add_argument(
        "--iterations", type=_positive_int, default=REGISTRATION.iterations,
        help=f"L-BFGS iterations at most, per level (default {REGISTRATION.iterations})",
    )  # fmt: skip
    reg.add_argument(
        "--levels", type=_levels, default=REGISTRATION.levels,
        help=f"coarse-to-fine levels: 'auto' (the default: one level up to {SINGLE_LEVEL_MAX} vertices, else "
        f"decimations by {LEVEL_FACTOR} down to about {COARSEST_VERTICES}), or a count (1: the full meshes only)",
    )  # fmt: skip
    reg.add_argument(
        "--tolerance", type=_fraction, default=REGISTRATION.tolerance,
        help=f"a level ends when {PATIENCE} iterations lower the loss by less than this fraction of the initial "
        f"mismatch (default {REGISTRATION.tolerance:g}; 0: only at --iterations)",
    )  # fmt: skip
    movie = sub.add_parser("movie", help="render a result folder's geodesic to an MP4 or GIF (no display needed)")
    movie.add_argument("result", type=Path, help="a folder written by 'shapeviewer register' or 'shoot'")
    movie.add_argument("--out", type=Path, required=True, help="movie file: .mp4 (H.264) or .gif")
    movie.add_argument("--size", default="1280x720", help="WIDTHxHEIGHT in pixels (default 1280x720)")
    movie.add_argument("--fps", type=_positive_int, default=30, help="frames per second (default 30)")
    movie.add_argument(
        "--frames-per-step",
        type=_positive_int,
        default=4,
        help="movie frames per time step of the geodesic, interpolated (default 4)",
    )
    movie.add_argument("--pingpong", action="store_true", help="play forward then back")
    movie.add_argument("--no-target", action="store_true", help="leave out the translucent target")
    movie.add_argument("--no-displacement", action="store_true", help="plain colour instead of displacement")
    gui = sub.add_parser("gui", help="open the desktop app on SOURCE and TARGET (no files: the demo pair)")
    gui.add_argument("source", type=Path, nargs="?")
    gui.add_argument("target", type=Path, nargs="?")
    demo = sub.add_parser("demo", help="register the bundled demo pair from the command line")
    demo.add_argument("--out", type=Path, default=Path("shapeviewer-demo"), help="result folder")
    demo.add_argument("--iterations", type=_positive_int, default=20)
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


def _load_mask(args, n_vertices: int):
    from .core.model import check_mask
    from .io.arrays import load_array

    if args.mask is None:
        return None
    return check_mask(load_array(args.mask, "mask"), n_vertices, f"mask {args.mask}")


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


def cmd_shoot(args) -> int:
    from .core.model import DeformationModel
    from .io.arrays import load_array
    from .io.meshes import read_mesh
    from .io.results import write_result_dir

    start = time.perf_counter()
    source = read_mesh(args.source)
    model = DeformationModel(source.vertices, source.faces, _load_mask(args, source.n_vertices), _model_settings(args))
    p0 = model.momenta_tensor(load_array(args.momenta, "momenta"))
    traj = model.shoot(p0, create_graph=False)
    frames = np.stack([model.to_user(x) for x in traj.points])
    result = _summary(model, p0, time.perf_counter() - start)
    mu, lam = _mu_and_lambda(model)
    write_result_dir(args.out, frames, source.faces, p0.cpu().numpy(), mu, lam, result)
    print(f"shot {len(frames) - 1} steps; distance {result['distance']:.6g}; wrote {args.out}", file=sys.stderr)
    return 0


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


def run_registration(source_path, target_path, args) -> int:
    from .core.registration import Registration, RegistrationSettings
    from .io.meshes import read_mesh, write_mesh
    from .io.results import write_result_dir

    start = time.perf_counter()
    source, target = read_mesh(source_path), read_mesh(target_path)
    settings = RegistrationSettings(
        model=_model_settings(args),
        fidelity=args.fidelity,
        fidelity_scale=args.fidelity_scale,
        regularization=args.regularization,
        iterations=args.iterations,
        levels=args.levels,
        tolerance=args.tolerance,
    )
    mask = _load_mask(args, source.n_vertices)
    reg = Registration((source.vertices, source.faces), (target.vertices, target.faces), settings, mask)
    d = reg.describe()
    print(
        f"registering {source.name} ({source.n_vertices} vertices) -> {target.name}: {d['cometric']} "
        f"{d['kernel']}, {d['control_points']} control points, {d['backend']} on {d['device']} ({d['dtype']})",
        file=sys.stderr,
    )
    if d["passive_vertices"]:
        print(f"{d['passive_vertices']} vertices of weight 0 follow the flow passively", file=sys.stderr)
    if len(reg.plans) > 1:
        sizes = ", ".join(
            f"{p.source.n_vertices}" + ("" if p.run else " (skipped: resolved by a coarser level)") for p in reg.plans
        )
        print(f"coarse to fine over {len(reg.to_run)} of {len(reg.plans)} levels: {sizes} vertices", file=sys.stderr)
    if d["backend"] == "keops":
        print(
            "note: KeOps compiles each formula on first use (seconds each); later runs reuse its cache", file=sys.stderr
        )
    interrupt = _Interrupt()
    previous = signal.signal(signal.SIGINT, interrupt)
    history = []
    try:
        for rep in reg.run(should_stop=lambda: interrupt.requested):
            if not rep.done:
                history.append(rep.loss)
                level = f"level {rep.level}/{rep.levels} ({rep.level_vertices} vertices)  " if rep.levels > 1 else ""
                print(
                    f"{level}iter {rep.iteration:4d}  loss {rep.loss:.6g}  fidelity {rep.fidelity:.6g} "
                    f"(-{100 * rep.fidelity_drop:.1f}%)  energy {rep.energy:.6g}  {rep.elapsed:6.1f} s",
                    file=sys.stderr,
                )
            final = rep
    finally:
        signal.signal(signal.SIGINT, previous)
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
    mu, lam = _mu_and_lambda(reg.model)
    out = write_result_dir(args.out, final.trajectory, source.faces, final.momenta, mu, lam, result)
    write_mesh(out / "deformed.vtp", final.trajectory[-1], source.faces)
    write_mesh(out / "target.vtp", target.vertices, target.faces)  # for 'shapeviewer movie'
    print(
        f"{final.status}: {final.message}; fidelity -{100 * result['fidelity_drop']:.1f}%, distance "
        f"{result['distance']:.6g}, {result['seconds']:.1f} s; wrote {out}",
        file=sys.stderr,
    )
    if final.status == "failed":
        return 1
    return EXIT_INTERRUPTED if final.status == "cancelled" else 0


def cmd_demo(args) -> int:
    from .io.demo import demo_paths

    src, tgt = demo_paths()
    defaults = build_parser().parse_args(["register", str(src), str(tgt), "--out", str(args.out)])
    defaults.iterations = args.iterations
    return run_registration(src, tgt, defaults)


def cmd_movie(args) -> int:
    from .io.results import read_result_dir
    from .render.movie import MovieSettings, parse_size, write_movie

    result = read_result_dir(args.result)
    info = result.info
    caption = f"{info.get('cometric', '')} {info.get('kernel', '')}".strip()
    if "distance" in info:
        caption += f"   geodesic distance {info['distance']:.4g}"
    settings = MovieSettings(
        size=parse_size(args.size),
        fps=args.fps,
        frames_per_step=args.frames_per_step,
        pingpong=args.pingpong,
        show_target=not args.no_target,
        color_by_displacement=not args.no_displacement,
        caption=caption,
    )
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


def cmd_gui(source: Path | None, target: Path | None) -> int:
    if (source is None) != (target is None):
        print(
            "shapeviewer: error: 'shapeviewer gui' takes both SOURCE and TARGET, or neither (demo pair)",
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

    return run_gui(source, target)


def _short_warning(message, category, filename, lineno, line=None):
    return f"shapeviewer: warning: {message}\n"


def main(argv: list[str] | None = None) -> int:
    from .core.backends import BackendError
    from .core.kernels import KernelSpecError
    from .core.model import InputError
    from .io.arrays import ArrayReadError
    from .io.meshes import MeshReadError
    from .io.results import ResultReadError
    from .render.movie import MovieError

    warnings.formatwarning = _short_warning
    args = build_parser().parse_args(argv)
    if args.command in (None, "gui"):
        return cmd_gui(getattr(args, "source", None), getattr(args, "target", None))
    try:
        if args.command == "shoot":
            return cmd_shoot(args)
        if args.command == "register":
            return run_registration(args.source, args.target, args)
        if args.command == "movie":
            return cmd_movie(args)
        return cmd_demo(args)
    except KernelSpecError as exc:
        print(f"shapeviewer: error: {exc.short}", file=sys.stderr)
    except (InputError, MeshReadError, ArrayReadError, BackendError, MovieError, ResultReadError) as exc:
        print(f"shapeviewer: error: {exc}", file=sys.stderr)
    except KeyboardInterrupt:
        print("shapeviewer: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
