"""'shapeviewer batch template|pairwise|modes': checks, the batch folder, the cluster, the results.

DIR/batch.json   what was asked (kind, shapes, options): a rerun with other options is refused
DIR/jobs/NAME/   one 'shapeviewer register' result folder per job
DIR/summary.csv  job, source, target, status, fidelity_drop, distance, seconds, worker, message, warning
DIR/distances.*  pairwise: the distance matrix (.npy, .csv) and its heat-map (.png)
DIR/pca/         template: the PCA of the initial momenta (see statistics.write_pca)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from pathlib import Path

from .inputs import BatchInputError, Job, expand_shapes, pairwise_jobs, shape_names, template_jobs
from .worker import DONE, FAILED, finished_record

BATCH_FILE = "batch.json"
BATCH_ONLY = {"command", "batch_command", "template", "subjects", "shapes", "out", "scheduler", "workers", "gpu",
              "keops_cache", "modes"}  # fmt: skip
OWN_ENTRIES = {BATCH_FILE, "jobs", "summary.csv", "distances.npy", "distances.csv", "distances.png", "pca"}


def _say(message: str) -> None:
    print(message, file=sys.stderr)


def registration_options(args) -> dict:
    """The options that shape a registration (those of 'register'), JSON-ready: what a resume must match.
    ``--align none`` is left out, as batches written before the option recorded none."""
    options = {k: (str(v) if isinstance(v, Path) else v) for k, v in sorted(vars(args).items()) if k not in BATCH_ONLY}
    if options.get("align") == "none":
        del options["align"]
    return options


def options_namespace(options: dict) -> argparse.Namespace:
    """Back from :func:`registration_options` to what the command line's functions take."""
    ns = argparse.Namespace(**{"align": "none", **options})
    ns.mask = Path(ns.mask) if ns.mask is not None else None
    return ns


def read_batch_file(folder: Path) -> dict:
    path = folder / BATCH_FILE
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BatchInputError(f"{folder} holds no {BATCH_FILE}: is it a 'shapeviewer batch' folder?") from None
    except (OSError, ValueError) as exc:
        raise BatchInputError(f"{path} is unreadable: {exc}") from None
    if not isinstance(info, dict) or "kind" not in info or "options" not in info:
        raise BatchInputError(f"{path} is not a batch description")
    return info


def _check_batch_folder(out: Path, kind: str, options: dict) -> None:
    """A new folder, an empty one, or this same batch (resumed); nothing else is written into."""
    if out.exists() and not out.is_dir():
        raise BatchInputError(f"cannot write the batch to {out}: it is a file, not a folder")
    if not out.is_dir():
        return
    if (out / BATCH_FILE).exists():
        earlier = read_batch_file(out)
        if earlier["kind"] != kind:
            raise BatchInputError(f"{out} holds a '{earlier['kind']}' batch, not a '{kind}' one: choose another --out")
        keys = sorted(set(options) | set(earlier["options"]))
        differ = [k for k in keys if options.get(k) != earlier["options"].get(k)]
        if differ:
            first = differ[0]
            raise BatchInputError(
                f"{out} holds a batch run with other options (--{first.replace('_', '-')} was "
                f"{earlier['options'].get(first)!r}, now {options.get(first)!r}): rerun with the same options to "
                "resume it, or choose another --out"
            )
        return
    foreign = sorted(p.name for p in out.iterdir() if p.name not in OWN_ENTRIES and not p.name.startswith("."))
    if foreign:
        raise BatchInputError(f"{out} exists and holds other files ({', '.join(foreign[:3])}): choose another --out")


def _early_checks(args, source: Path) -> None:
    """What every job would refuse alike, refused once before any cluster starts: the kernel, the backend,
    the first source (the template) against the scales and the mask."""
    from ..cli import _check_backend, _check_options_against, _load_mask
    from ..core.kernels import parse_kernel
    from ..io.meshes import read_mesh

    if args.kernel is not None:
        parse_kernel(args.kernel)
    _check_backend(args)
    mesh = read_mesh(source)
    _check_options_against(args, mesh)
    _load_mask(args, mesh.n_vertices)


def plan(args) -> tuple[list[Job], list[Path], list[str]]:
    """The jobs, the shapes and their names. Paths are made absolute, as workers elsewhere need them."""
    args.out = args.out.absolute()
    if args.mask is not None:
        args.mask = args.mask.absolute()
    if args.batch_command == "template":
        args.template = args.template.absolute()
        if not args.template.is_file():
            raise BatchInputError(f"template {args.template}: no such file")
        subjects = expand_shapes(args.subjects, repeated := [])
        _say_repeated(repeated)
        jobs = template_jobs(args.template, subjects, args.out)
        return jobs, [j.target for j in jobs], [j.name for j in jobs]
    if args.mask is not None:
        raise BatchInputError("--mask weights one mesh's vertices: it applies to 'batch template' (on the template)")
    shapes = expand_shapes(args.shapes, repeated := [])
    _say_repeated(repeated)
    return pairwise_jobs(shapes, args.out), shapes, shape_names(shapes)


def _say_repeated(repeated: list[Path]) -> None:
    if repeated:
        names = ", ".join(p.name for p in repeated[:3]) + (", ..." if len(repeated) > 3 else "")
        _say(f"note: {len(repeated)} mesh{'es' if len(repeated) > 1 else ''} named more than once, taken once: {names}")


def run_batch_command(args) -> int:
    if args.batch_command == "modes":
        from .modes import run_modes

        return run_modes(args)
    return run_registrations(args)


def _run_on_cluster(args, jobs: list[Job], kind: str, keops_cache: str | None, env: dict | None):
    """(records, interrupted): the jobs run on the cluster asked for."""
    from .cluster import open_cluster
    from .runner import BatchInterrupted, run_jobs

    outcome = None
    try:
        with open_cluster(args.scheduler, args.workers, args.gpu, len(jobs), env) as cluster:
            _say(f"batch: {len(jobs)} {kind} jobs on {cluster.where}")
            _say(f"dashboard: {cluster.dashboard}")
            try:
                outcome = run_jobs(cluster.client, jobs, args, keops_cache), False
            except BatchInterrupted as exc:
                outcome = exc.records, True
    except KeyboardInterrupt:  # while the cluster closed: the records are known, the summary is still written
        if outcome is None:
            raise
        _say("interrupt: not waiting for the cluster to close")
        outcome = outcome[0], True
    return outcome


SHOWN_WARNINGS = 5  # flagged jobs named at the end of a batch; summary.csv holds them all


def _say_flagged(records, done: int, summary: Path) -> None:
    flagged = [r for r in records if r.warning]
    _say(f"{len(flagged)} of the {done} finished jobs flagged as not credible (the 'warning' column of {summary}):")
    for r in flagged[:SHOWN_WARNINGS]:
        _say(f"  {r.job}: {r.warning}")
    if len(flagged) > SHOWN_WARNINGS:
        _say(f"  and {len(flagged) - SHOWN_WARNINGS} more")


def run_registrations(args) -> int:
    from ..cli import EXIT_INTERRUPTED, BadInput
    from ..io.results import write_json
    from .cluster import ClusterError, check_cluster_options, check_gpu
    from .statistics import distance_matrix, template_pca, write_distances, write_pca, write_summary

    kind = args.batch_command
    try:
        jobs, shapes, names = plan(args)
        options = registration_options(args)
        _check_batch_folder(args.out, kind, options)
        _early_checks(args, jobs[0].source)
        check_cluster_options(args.scheduler, args.workers, args.keops_cache)
        if args.gpu:
            check_gpu()
    except (BatchInputError, ClusterError) as exc:
        raise BadInput(str(exc)) from None
    new_folder = not args.out.exists()
    args.out.mkdir(parents=True, exist_ok=True)
    description = {"kind": kind, "template": str(args.template) if kind == "template" else None,
                   "shapes": [str(s) for s in shapes], "names": names, "options": options}  # fmt: skip
    write_json(args.out / BATCH_FILE, description)
    keops_cache = str(args.keops_cache.resolve()) if args.keops_cache else None
    interrupted = False
    env = {"KEOPS_CACHE_FOLDER": keops_cache} if keops_cache else None
    earlier = [finished_record(job) for job in jobs]
    try:
        if all(earlier):  # nothing left to run: no cluster
            _say(f"batch: all {len(jobs)} {kind} jobs finished in an earlier run")
            records = earlier
        else:
            records, interrupted = _run_on_cluster(args, jobs, kind, keops_cache, env)
    except ClusterError as exc:  # no cluster: nothing ran, so a folder made for this batch goes again
        if new_folder:
            (args.out / BATCH_FILE).unlink(missing_ok=True)
            with contextlib.suppress(OSError):
                args.out.rmdir()
        raise BadInput(str(exc)) from None
    wrote = [write_summary(args.out / "summary.csv", records)]
    done = sum(r.status == DONE for r in records)
    failed = sum(r.status == FAILED for r in records)
    flagged = any(r.warning for r in records)
    if kind == "pairwise":
        wrote += write_distances(args.out, names, distance_matrix(len(shapes), jobs, records))
    elif done >= 2:
        pca = template_pca(jobs, records, args.modes)
        wrote.append(write_pca(args.out, pca, args.template))
        shares = ", ".join(f"{100 * r:.0f}%" for r in pca.ratio[:5])
        _say(f"PCA of the momenta of {done} subjects: the first modes explain {shares} of the variance")
    else:
        _say(f"no PCA: it needs at least two registered subjects, {done} finished")
    _say(f"{done} done, {failed} failed, {len(records) - done - failed} not finished, of {len(records)} jobs; wrote "
         + ", ".join(str(p) for p in wrote))  # fmt: skip
    if flagged:
        _say_flagged(records, done, args.out / "summary.csv")
    if interrupted:
        return EXIT_INTERRUPTED
    return 1 if failed else 0
