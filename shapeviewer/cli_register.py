"""The command line's registration path: checks before any work, the run, and the result folder, shared
by 'register', 'demo', 'shoot' and every job of 'batch'."""

from __future__ import annotations

import math
import signal
import sys
import time
import warnings
from dataclasses import replace
from pathlib import Path

from .cli_options import EXIT_BAD_INPUT, EXIT_INTERRUPTED, MAX_MOMENTUM, MAX_TRAVEL  # noqa: F401

_DEFERRED_INTERRUPTS: list[int] = []


def _defer_interrupt(signum, _frame) -> None:
    """Ctrl-C during start-up is noted, not raised: a KeyboardInterrupt inside a C++ extension's import or
    call (pybind11) aborts the process; the note is acted on at the next safe point."""
    _DEFERRED_INTERRUPTS.append(signum)


def _raise_deferred_interrupt() -> None:
    if _DEFERRED_INTERRUPTS:
        _DEFERRED_INTERRUPTS.clear()
        raise KeyboardInterrupt


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


class WriteFailed(RuntimeError):
    """The results could not be written (a full disk, a folder gone): the run failed, not its input; one line."""


class BadInput(ValueError):
    """A CLI input refused by the checks here; the message is the whole line."""


def _check_backend(args) -> None:
    """KeOps on a CPU compiles C++: without a compiler, say so in one line (keops) or use torch (auto)."""
    from .core.keops_compile import compiler_problem

    if args.backend not in ("keops", "auto") or args.device == "cuda":
        return
    missing = compiler_problem()
    if not missing:
        return
    if args.backend == "keops":
        raise BadInput(
            f"--backend keops needs a C++ compiler ({missing}): install g++ or set CXX, or use --backend torch"
        )
    args.backend = "torch"
    print(f"shapeviewer: note: no C++ compiler for KeOps ({missing}); using the dense torch backend", file=sys.stderr)
    from .core.backends import keops_importable

    with warnings.catch_warnings():  # its answer is cached now: its own warning would say the note again
        warnings.simplefilter("ignore")
        keops_importable()


def _check_relative(value: float, size: float, what: str, shape: str = "the source's") -> None:
    from .core.model import relative_scale_problem

    problem = relative_scale_problem(value, size, what, shape)
    if problem:
        raise BadInput(problem)


def _check_options_against(args, source, shape: str = "the source's") -> None:
    """Scales that make sense for this source (or ``shape``'s mesh): kernel and fidelity scales relative to its
    size."""
    from .core.kernels import parse_kernel

    lo, hi = source.vertices.min(0), source.vertices.max(0)
    size = float(sum((high - low) ** 2 for low, high in zip(lo, hi, strict=True)) ** 0.5)
    if args.kernel is not None:
        for term in parse_kernel(args.kernel).terms:
            _check_relative(term.sigma, size, f"kernel scale {term.profile}({term.sigma:g})", shape)
    if getattr(args, "fidelity_scale", None) is not None:
        _check_relative(args.fidelity_scale, size, "--fidelity-scale", shape)


def _load_mask(args, n_vertices: int):
    from .io.masks import load_mask

    if args.mask is None:
        return None
    return load_mask(args.mask, n_vertices)


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
    # a similarity scales the source onto the target: the scales given are then in the target's units
    scaled = getattr(args, "align", "none") == "similarity" and len(meshes) > 1
    _check_options_against(args, *((meshes[1], "the target's") if scaled else (meshes[0],)))
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


def _geodesic_frames(model, p0, source):
    """(T+1, N, 3) the source carried along the geodesic of p0, in the user's frame; refused (BadInput) when the
    momenta blow it up."""
    import numpy as np

    try:
        traj = model.shoot(p0)
    except FloatingPointError as exc:  # a Sinkhorn solve met non-finite numbers
        raise BadInput(f"the momenta are too large, the geodesic does not stay finite: {exc}") from None
    frames = np.stack([model.to_user(x) for x in traj.points])
    _check_geodesic(frames, source)
    return frames


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
    frames = _geodesic_frames(model, p0, source)
    result = _summary(model, p0, time.perf_counter() - start)
    mu, lam = _mu_and_lambda(model)
    _write(args.out, frames, source.faces, p0.cpu().numpy(), mu, lam, result, mask=model.mask,
           control_index=model.control_index)  # fmt: skip
    print(f"shot {len(frames) - 1} steps; distance {result['distance']:.6g}; wrote {args.out}", file=sys.stderr)
    return 0


def _write(out, trajectory, faces, momenta, mu, lam, result, meshes=None, mask=None, settings=None,
           control_index=None) -> Path:  # fmt: skip
    """The result folder; ``mask`` (the weights the run used) and ``settings`` (as asked, 'auto' and all) are
    kept so that the app reopens the registration as it was run."""
    from dataclasses import asdict

    from .io.results import write_result_dir

    if settings is not None:
        result = {**result, "settings": asdict(settings)}
    try:
        return write_result_dir(out, trajectory, faces, momenta, mu, lam, result, meshes=meshes, mask=mask,
                                control_index=control_index)  # fmt: skip
    except OSError as exc:
        raise WriteFailed(f"cannot write results to {out}: {exc.strerror or exc}") from None


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


def _compile_announcer(source, target, settings, mask, say):
    """A compile listener that says "compiling KeOps formula k of n" (n counted beforehand, without compiling)."""
    from .core.backends import keops_usable
    from .core.warmup import CompileCount, formulas_to_compile

    if say is None or not keops_usable():
        return lambda k, phase: None
    expected = formulas_to_compile((source.vertices, source.faces), (target.vertices, target.faces),
                                   replace(settings, landmark_weight=0.0), mask)  # fmt: skip
    if expected:
        say(f"KeOps compiles {expected} formula{'s' if expected > 1 else ''} for this machine first "
            "(seconds each, only once: later runs reuse them)")  # fmt: skip
    count = CompileCount(expected)

    def notice(_total: int, phase: str) -> None:
        if phase == "start":
            say(f"compiling KeOps {CompileCount.words(*count.start())}")

    return notice


def _say_setup(reg, plan, source, target, say) -> None:
    for line in plan.notes():
        say(line)
    d = reg.describe()
    say(
        f"registering {source.name} ({source.n_vertices} vertices) -> {target.name}: {d['cometric']} "
        f"{d['kernel']}, {d['control_points']} control points, {d['backend']} on {d['device']} ({d['dtype']})"
    )
    if d["passive_vertices"]:
        from .document.wording import passive_words

        say(passive_words(d["passive_vertices"]))
    if d["mask_unused"]:
        from .core.model import MASK_UNUSED

        say(MASK_UNUSED)
    if len(reg.plans) > 1:
        from .document.wording import levels_sentence

        say(levels_sentence([(p.source.n_vertices, p.run) for p in reg.plans]))
    from .core.sinkhorn import SinkhornSettings

    model = reg.settings.model
    if model.cometric == "lddmm" and model.sinkhorn != SinkhornSettings():
        say("note: --sinkhorn-iters and --sinkhorn-tol apply to the normalized cometric; LDDMM has no scaling to solve")
    asked = reg.settings.levels
    if asked is not None and asked > len(reg.plans):
        from .core.pyramid import COARSEST_VERTICES

        why = ("the landmarks fidelity runs on the full meshes" if reg.settings.fidelity == "landmarks"
               else f"a coarser level needs a source of more than {COARSEST_VERTICES} vertices")  # fmt: skip
        say(f"note: --levels {asked}: {len(reg.plans)} level ({source.n_vertices} vertices): {why}")


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
    from .core.keops_compile import compile_notices
    from .core.registration import Registration
    from .document.wording import mismatch_change

    announce = say is not None  # a batch job is silent, and counts no compilations either
    say = say or (lambda message: None)
    start = time.perf_counter()
    (source, target), mask = _prepare(args, source_path, target_path)
    _raise_deferred_interrupt()
    plan = prepare_alignment(args, source, target)
    settings = settings_with_landmarks(registration_settings(args), plan)
    notices = _compile_announcer(source, target, settings, mask, say if announce else None)
    with compile_notices(notices):  # the set-up compiles too (the target's own fidelity term)
        reg = Registration((source.vertices, source.faces), (target.vertices, target.faces), settings, mask,
                           **plan.registration_kwargs())  # fmt: skip
        _say_setup(reg, plan, source, target, say)
        history = []
        if before_run is not None:
            before_run()
        setting_up = lambda k, n, vertices: say(f"level {k}/{n} ({vertices} vertices): setting up")  # noqa: E731
        for rep in reg.run(should_stop=should_stop, setting_up=setting_up):
            if not rep.done:
                history.append(rep.loss)
                level = f"level {rep.level}/{rep.levels} ({rep.level_vertices} vertices)  " if rep.levels > 1 else ""
                say(
                    f"{level}iter {rep.iteration:4d}  loss {rep.loss:.6g}  fidelity {rep.fidelity:.6g} "
                    f"(mismatch {mismatch_change(1 - rep.fidelity_drop)})  energy {rep.energy:.6g}  "
                    f"{rep.elapsed:6.1f} s"
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
        source_file=str(Path(source_path).absolute()),  # reopened from anywhere (the app's File > Open result)
        target_file=str(Path(target_path).absolute()),
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
    warning = _credibility(final, source.faces, target, result, getattr(args, "align", "none"))
    if warning:
        result["warning"] = warning
    mu, lam = _mu_and_lambda(reg.model)
    meshes = {"deformed.vtp": (final.trajectory[-1], source.faces), "target.vtp": (target.vertices, target.faces)}
    out = _write(args.out, final.trajectory, source.faces, final.momenta, mu, lam, result, meshes=meshes,
                 mask=reg.model.mask, settings=settings, control_index=reg.model.control_index)  # fmt: skip
    if out is not None:
        try:
            write_distance_maps(out, inspection, meshes)
        except OSError as exc:
            raise WriteFailed(f"cannot write the distance maps into {out}: {exc.strerror or exc}") from None
    say(summary_line(inspection))
    return out, result


def _credibility(final, faces, target, result: dict, align: str) -> str:
    """The run's credibility warning (document.credibility), or ''; a cancelled or failed run gets none."""
    from .document.credibility import credibility_of

    if final.status not in ("finished", "converged"):
        return ""
    rms = result["surface_distance"]["source_to_target"]["rms"]
    moved = result.get("target_alignment")  # batch template: the target was moved, the source kept
    alignment = align if align not in (None, "none") else (moved.get("kind") if isinstance(moved, dict) else None)
    return credibility_of(final.trajectory[0], final.trajectory[-1], faces, (target.vertices, target.faces),
                          final.status, final.fidelity_drop, rms, alignment)  # fmt: skip


def run_registration(source_path, target_path, args) -> int:
    from .document.wording import mismatch_change

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
        f"{result['status']}: {result['message']}; mismatch {mismatch_change(1 - result['fidelity_drop'])}, distance "
        f"{result['distance']:.6g}, {result['seconds']:.1f} s; wrote {out}",
        file=sys.stderr,
    )
    if result.get("warning"):
        print(f"shapeviewer: warning: the result may not be credible: {result['warning']}", file=sys.stderr)
    if result["status"] == "failed":
        return 1
    return EXIT_INTERRUPTED if result["status"] == "cancelled" else 0
