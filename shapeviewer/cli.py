"""Command line: ``shapeviewer shoot|register|demo|movie|batch``; a thin layer over core, io and batch.

Exit status: 0 success, 1 the run or the writing of its results failed, 2 bad input (one line on stderr), 130
interrupted (results so far written).
Every option is checked against its range, and every output path, before any work starts. This
module imports only the standard library at first, so that Ctrl-C during start-up is caught by main().
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import warnings
from pathlib import Path

from . import __version__
from .cli_options import (  # noqa: F401  (limits re-exported for tests and batch)
    CANNOT_FINISH,
    EXIT_BAD_INPUT,
    EXIT_INTERRUPTED,
    ITERATIONS,
    MAX_CONTROL_POINTS,
    MAX_ITERATIONS,
    MAX_LEVELS,
    MAX_MOMENTUM,
    MAX_REGULARIZATION,
    MAX_SINKHORN_ITERATIONS,
    MAX_STEPS,
    MAX_TRAVEL,
    REGULARIZATION,
    SINKHORN_ITERATIONS,
    SINKHORN_TOLERANCE,
    STEPS,
    TOLERANCE,
    _batch_parsers,
    _cluster_options,
    _control_points,
    _fraction,
    _levels,
    _model_options,
    _non_negative_float,
    _out_path,
    _Parser,
    _positive_float,
    _ranged,
    _real,
    _registration_options,
    _whole,
)
from .cli_register import (  # noqa: F401  (the batch package and tests import them from here)
    _DEFERRED_INTERRUPTS,
    BadInput,
    WriteFailed,
    _check_backend,
    _check_options_against,
    _check_relative,
    _defer_interrupt,
    _geodesic_frames,
    _inputs,
    _Interrupt,
    _load_mask,
    _model_settings,
    _mu_and_lambda,
    _prepare,
    _raise_deferred_interrupt,
    _stderr,
    _summary,
    _write,
    cmd_shoot,
    register_to_folder,
    registration_settings,
    run_registration,
)


def build_parser() -> argparse.ArgumentParser:
    from .core.registration import RegistrationSettings

    defaults = RegistrationSettings()  # written once in core

    parser = _Parser(
        prog="shapeviewer",
        description="Diffeomorphic registration of surface meshes (LDDMM and normalized kernel cometrics). "
        f"'shapeviewer FILE{SESSION_SUFFIX}' opens a saved session in the desktop app (as 'shapeviewer gui "
        f"FILE{SESSION_SUFFIX}'); 'shapeviewer' alone opens what was open last.",
    )
    parser.add_argument("--version", action="version", version=f"shapeviewer {__version__}")
    from .self_test import SelfTestAction

    parser.add_argument(
        "--self-test", action=SelfTestAction,
        help="check this installation (imports, an off-screen frame, a tiny registration with KeOps where a C++ "
        "compiler is found) and exit: 0 when every check passes, 1 naming the one that failed",
    )  # fmt: skip
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
    movie.add_argument("--no-time", action="store_true", help="leave out the time label (t = 0 to 1)")
    gui = sub.add_parser(
        "gui", help="open the desktop app on SOURCE and TARGET, on a saved SESSION.svsession or on a result folder "
        "(no files: what was open last, the demo pair the first time)"
    )  # fmt: skip
    gui.add_argument(
        "source", type=Path, nargs="?", help="the mesh to deform, a saved SESSION.svsession, or a result folder"
    )
    gui.add_argument("target", type=Path, nargs="?", help="the mesh to match")
    demo = sub.add_parser("demo", help="register the bundled demo pair from the command line")
    demo.add_argument("--out", type=_out_path, default=Path("shapeviewer-demo"),
                      help="result folder, as 'register' writes it (default: ./shapeviewer-demo)")  # fmt: skip
    demo.add_argument("--iterations", type=ITERATIONS, default=20, metavar="N",
                      help="L-BFGS iterations at most (default: 20)")  # fmt: skip
    _batch_parsers(sub, defaults)
    _add_session_usage(parser)  # after the subcommands: their usage lines are built from the parent's usage
    return parser


def _add_session_usage(parser: argparse.ArgumentParser) -> None:
    """A second usage line for 'shapeviewer FILE.svsession' (dispatched in _main before any parsing)."""
    usage = parser.format_usage().removeprefix("usage: ").rstrip()
    parser.usage = f"{usage}\n       {parser.prog} FILE{SESSION_SUFFIX}"


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
        time_label=not args.no_time,
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

    tty = sys.stderr.isatty()  # a terminal redraws one line; a log gets one line per step

    def progress(done: int, total: int) -> bool:
        if done == total or done % 10 == 0:
            print(f"\rframe {done}/{total}" if tty else f"frame {done}/{total}", end="" if tty else "\n",
                  file=sys.stderr, flush=True)  # fmt: skip
        return True

    out = write_movie(args.out, result.trajectory, result.faces, result.target, settings, progress=progress)
    print(f"\nwrote {out}" if tty else f"wrote {out}", file=sys.stderr)
    return 0


SESSION_SUFFIX = ".svsession"


def cmd_gui(source: Path | None, target: Path | None) -> int:
    alone = source if source is not None and target is None else None
    session = alone if alone is not None and alone.suffix == SESSION_SUFFIX else None
    folder = alone.resolve() if alone is not None and session is None and alone.is_dir() else None
    if session is not None:
        if not session.is_file():
            _error(f"{session}: no such session file")
            return EXIT_BAD_INPUT
        source = None
    elif folder is not None:
        if not (folder / "target.vtp").is_file():  # what the app needs to show a registration's result
            _error(f"{alone} holds no target.vtp: not a result folder of 'shapeviewer register' (a batch's output "
                   "opens with File > Open batch results)")  # fmt: skip
            return EXIT_BAD_INPUT
        source = None
    elif (source is None) != (target is None):
        missing = "" if alone is None or alone.exists() else f"{alone}: no such file or folder; "
        _error(f"{missing}'shapeviewer gui' takes both SOURCE and TARGET, a SESSION.svsession, a result folder, "
               "or nothing")  # fmt: skip
        return EXIT_BAD_INPUT
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        print(
            "shapeviewer: error: no display (DISPLAY is not set): the desktop app needs one; "
            "'shapeviewer register' and 'shapeviewer movie' work without",
            file=sys.stderr,
        )
        return EXIT_BAD_INPUT
    from .qt.app import run_gui

    return run_gui(source, target, session, folder)


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
    from .io.output_paths import OutputPathError, os_error_words
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
        return os_error_words(exc)
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
    except WriteFailed as exc:
        _error(str(exc))
        return 1
    except Exception as exc:
        message = input_error_message(exc)
        if message is None:
            raise
        _error(message)
    return EXIT_BAD_INPUT


def _list_destinations(parser: argparse.ArgumentParser) -> set[str]:
    """Destinations of the arguments that take several values (batch's shapes, --landmarks SRC TGT), in every
    subcommand: a list anywhere else is argparse's answer to '--opt=--'."""
    found = set()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                found |= _list_destinations(sub)
        elif action.nargs not in (None, "?", 0, 1):
            found.add(action.dest)
    return found


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
        lists = _list_destinations(parser)
        for name, value in vars(args).items():
            if isinstance(value, list) and name not in lists:  # '--opt=--' gives a list, never type-checked
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
