"""``shapeviewer --self-test``: whether this installation works, without a display.

Three checks, one line each with what they used and how long they took:

- imports: Qt (PySide6 QtWidgets), VTK, pyvista, pyvistaqt, torch, pykeops and every shapeviewer module;
- render: one frame of the demo pair drawn off screen, as movies are (EGL or OSMesa where there is no display);
- registration: three L-BFGS iterations on a 50-vertex demo pair, with KeOps where a C++ compiler (or a GPU) is found
  (its first run compiles about a dozen formulas, seconds each, cached afterwards), dense torch otherwise.

A failed check is named with its reason and the others still run; exit status 0 when all pass, 1 otherwise.
``SHAPEVIEWER_TRACEBACK=1`` adds the traceback of a failure.
"""

from __future__ import annotations

import argparse
import os
import pkgutil
import platform
import sys
import time
import traceback
import warnings
from collections.abc import Callable

EXIT_FAILED = 1
DEMO_RESOLUTION = 8  # a 50-vertex demo pair
ITERATIONS = 3
FRAME_SIZE = (160, 120)


class CheckFailed(Exception):
    """A check ran but found the installation wrong; the message says what."""


def _say(text: str) -> None:
    print(text, flush=True)


def check_imports() -> str:
    from .core.keops_compile import quiet_keops

    quiet_keops()  # pykeops prints a CUDA notice on import otherwise
    import igl  # noqa: F401  (imported by core.surface_distance only when distances are measured)
    import pykeops.torch  # noqa: F401
    import PySide6.QtWidgets  # noqa: F401
    import pyvista
    import pyvistaqt
    import torch  # noqa: F401

    import shapeviewer

    from .qt.menus import component_versions  # what Help > About shows

    modules = [m.name for m in pkgutil.walk_packages(shapeviewer.__path__, "shapeviewer.")]
    for name in modules:
        if name != "shapeviewer.__main__":  # it runs the command line
            __import__(name)
    versions = component_versions()
    versions.update(Python=platform.python_version(), pyvista=pyvista.__version__, pyvistaqt=pyvistaqt.__version__)
    listed = ", ".join(f"{name} {v}" for name, v in versions.items())
    return f"{listed}; {len(modules)} shapeviewer modules"


def _renderer(render_window) -> str:
    """'vtkEGLRenderWindow, llvmpipe (...), OpenGL 4.5 ...' from VTK's capability report."""
    found = {}
    for line in render_window.ReportCapabilities().splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("OpenGL renderer string", "OpenGL version string"):
            found[key.split()[1]] = value.strip()
    gl = f"{found.get('renderer', 'unknown renderer')}, OpenGL {found.get('version', '?')}"
    return f"{render_window.GetClassName()}, {gl}"


def check_render() -> str:
    from .io.demo import make_demo_pair
    from .render.movie import MovieSettings, _plotter
    from .render.scene import DeformationScene

    source, target = make_demo_pair(DEMO_RESOLUTION)
    plotter = _plotter(MovieSettings(size=FRAME_SIZE))  # off screen, as 'shapeviewer movie' renders
    try:
        DeformationScene(plotter, source.vertices, source.faces, target.vertices, target.faces)
        plotter.view_isometric()
        plotter.reset_camera()
        plotter.render()
        image = plotter.screenshot(return_img=True)[..., :3]
        drawn = float((image != image[0, 0]).any(axis=-1).mean())
        renderer = _renderer(plotter.render_window)
    finally:
        plotter.close()
    if image.shape[:2] != FRAME_SIZE[::-1]:
        raise CheckFailed(f"the frame is {image.shape[1]}x{image.shape[0]}, expected {FRAME_SIZE[0]}x{FRAME_SIZE[1]}")
    if drawn < 0.01:
        raise CheckFailed(f"the frame is blank: the meshes were not drawn ({renderer})")
    return f"{renderer}; {FRAME_SIZE[0]}x{FRAME_SIZE[1]} frame, meshes on {drawn:.0%} of it"


def check_registration(should_stop: Callable[[], bool]) -> str:
    import torch

    from .core.keops_compile import compile_notices, compiler_problem
    from .core.model import ModelSettings
    from .core.registration import Registration, RegistrationSettings
    from .core.warmup import formulas_to_compile
    from .io.demo import make_demo_pair

    missing = "" if torch.cuda.is_available() else compiler_problem()  # KeOps on a GPU compiles with NVRTC
    backend = "torch" if missing else "keops"
    settings = RegistrationSettings(model=ModelSettings(backend=backend, steps=5), iterations=ITERATIONS, levels=1)
    source, target = make_demo_pair(DEMO_RESOLUTION)
    started: list[float] = []
    compiled: list[float] = []  # seconds per formula

    def notice(count: int, phase: str) -> None:
        if phase == "end":
            compiled.append(time.perf_counter() - started.pop())
            return
        if should_stop():  # Ctrl-C between two formulas (each takes seconds)
            raise KeyboardInterrupt
        if not compiled and not started:
            how_many = f"{expected} " if expected else ""
            _say(f"        compiling {how_many}KeOps formulas (first run only: a few seconds each)...")
        started.append(time.perf_counter())

    source_mesh, target_mesh = (source.vertices, source.faces), (target.vertices, target.faces)
    expected = formulas_to_compile(source_mesh, target_mesh, settings) if backend == "keops" else None
    with warnings.catch_warnings(record=True) as caught, compile_notices(notice):
        warnings.simplefilter("always")
        registration = Registration(source_mesh, target_mesh, settings)
        final = None
        for final in registration.run(should_stop):  # noqa: B007  the last report is the result
            pass
    info = registration.describe()
    if backend == "keops" and registration.backend_fallback:
        raise CheckFailed(
            f"KeOps could not compile or run its formulas with {os.environ.get('CXX') or 'g++'} "
            f"({registration.backend_fallback}); the app falls back to dense torch where the problem fits in memory "
            f"(KeOps needs Python's headers too: python{sys.version_info[0]}.{sys.version_info[1]}-dev on Debian)"
        )
    if final.status not in ("finished", "converged") or not final.fidelity < final.fidelity_initial:
        raise CheckFailed(
            f"the registration did not lower the mismatch (status {final.status}, {final.message or 'no message'}; "
            f"fidelity {final.fidelity:.4g} from {final.fidelity_initial:.4g})"
        )
    noted = [str(w.message) for w in caught if "CUDA" not in str(w.message)]
    used = f"backend {info['backend']}" + (" (KeOps)" if info["backend"] == "keops" else " (dense)")
    text = (
        f"{used}, device {info['device']}, {info['vertices']} vertices, {final.iteration} iterations, "
        f"mismatch {final.fidelity_drop:.0%} lower"
    )
    if compiled:
        text += f"; compiled {len(compiled)} KeOps formulas in {sum(compiled):.0f} s (cached for later runs)"
    if missing:
        text += f"; no C++ compiler for KeOps ({missing}): the dense torch backend is used (install g++ for KeOps)"
    if noted:
        text += "; warnings: " + " | ".join(noted)
    return text


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or "no message"
    return text if isinstance(exc, CheckFailed) else f"{type(exc).__name__}: {text}"


def run_self_test(stop_requested: Callable[[], bool] = lambda: False) -> int:
    """Run every check, print one line each and a verdict; 0 when all pass, 1 otherwise.

    ``stop_requested()`` true (Ctrl-C, noted by the command line) raises KeyboardInterrupt after the
    current check; the registration polls it between iterations."""
    from . import __version__

    checks = (
        ("imports", check_imports),
        ("render", check_render),
        ("registration", lambda: check_registration(stop_requested)),
    )
    _say(f"shapeviewer {__version__} self-test ({sys.executable})")
    failed: list[tuple[str, str]] = []
    start = time.perf_counter()
    for name, check in checks:
        began = time.perf_counter()
        try:
            detail, mark = check(), "ok  "
        except Exception as exc:  # noqa: BLE001  each failure is reported and the next check runs
            detail, mark = _reason(exc), "FAIL"
            failed.append((name, detail))
            if os.environ.get("SHAPEVIEWER_TRACEBACK"):
                traceback.print_exc()
        if stop_requested():
            raise KeyboardInterrupt
        _say(f"  {mark}  {name:<12} {time.perf_counter() - began:5.1f} s  {detail}")
    total = time.perf_counter() - start
    if not failed:
        _say(f"self-test passed ({len(checks)} checks, {total:.1f} s)")
        return 0
    for name, detail in failed:
        _say(f"self-test failed: {name}: {detail}")
    return EXIT_FAILED


class SelfTestAction(argparse.Action):
    """``--self-test`` runs at once and exits, as ``--version`` does."""

    def __init__(self, option_strings, dest, **kwargs):
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        # Ctrl-C stays deferred (raised inside torch's or VTK's C++ it can crash the process): noted by the
        # command line's handler, acted on between checks and registration iterations.
        from .cli_register import _DEFERRED_INTERRUPTS

        parser.exit(run_self_test(lambda: bool(_DEFERRED_INTERRUPTS)))
