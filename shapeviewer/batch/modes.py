"""'shapeviewer batch modes DIR --out MODES': each PCA mode of a template batch, shot from the template.

For mode k with standard deviation s_k, the momenta ``mean ± SD * s_k * mode_k`` are shot from the
template with the batch's own model (kernel, cometric, mask, steps...). Each side is a result folder
as 'shapeviewer shoot' writes it (MODES/mode_K_plus/, MODES/mode_K_minus/), and each mode gets one
movie, made by the existing movie writer, that goes from the minus side through the template to the
plus side (MODES/mode_K.mp4).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

from .inputs import BatchInputError

MOVIE_FRAMES_PER_STEP = 2


def _say(message: str) -> None:
    print(message, file=sys.stderr)


def _check_out(out: Path, batch: Path) -> None:
    if out.exists() and not out.is_dir():
        raise BatchInputError(f"cannot write the modes to {out}: it is a file, not a folder")
    if out.resolve() == batch.resolve():
        raise BatchInputError(f"--out {out} is the batch folder itself: name a folder for the modes, e.g. {out}/modes")
    if out.is_dir():
        foreign = sorted(p.name for p in out.iterdir() if not p.name.startswith(("mode_", ".mode_")))
        if foreign:
            raise BatchInputError(
                f"{out} exists and holds other files ({', '.join(foreign[:3])}): choose another --out"
            )


def run_modes(args) -> int:
    from ..cli import BadInput, _geodesic_frames, _load_mask, _model_settings, _mu_and_lambda, _summary, _write
    from ..core.model import DeformationModel
    from ..io.meshes import read_mesh
    from .command import options_namespace, read_batch_file
    from .statistics import PCA_FOLDER, read_pca

    try:
        info = read_batch_file(args.batch)
        if info["kind"] != "template":
            raise BatchInputError(f"{args.batch} is a '{info['kind']}' batch: modes come from a 'batch template' one")
        if not (args.batch / PCA_FOLDER / "pca.json").is_file():
            raise BatchInputError(f"{args.batch} holds no {PCA_FOLDER}/pca.json: the batch has no PCA yet")
        _check_out(args.out, args.batch)
    except BatchInputError as exc:
        raise BadInput(str(exc)) from None
    pca, pca_info = read_pca(args.batch / PCA_FOLDER)
    options = options_namespace(info["options"])
    template = read_mesh(info["template"])
    mask = _load_mask(options, template.n_vertices)
    model = DeformationModel(template.vertices, template.faces, mask, _model_settings(options))
    if model.n_control != pca.mean.shape[0]:
        raise BadInput(
            f"the template's model has {model.n_control} control points, the PCA {pca.mean.shape[0]}: was "
            f"{info['template']} changed since the batch ran?"
        )
    count = len(pca.variance) if args.modes is None else min(args.modes, len(pca.variance))
    if args.modes is not None and args.modes > count:
        _say(f"note: --modes {args.modes}: the PCA has {count} modes (at most one fewer than its subjects)")
    args.out.mkdir(parents=True, exist_ok=True)
    settings = None
    if args.movie != "none":
        from ..render.movie import MovieSettings, parse_size

        settings = MovieSettings(size=parse_size(args.size), fps=args.fps, frames_per_step=MOVIE_FRAMES_PER_STEP,
                                 show_target=False)  # fmt: skip
        settings.validate(args.out / f"mode_1.{args.movie}")
    mu, lam = _mu_and_lambda(model)
    for k in range(count):
        sides = {}
        for side, sign in (("minus", -1.0), ("plus", 1.0)):
            start = time.perf_counter()
            momenta = pca.mean + sign * args.sd * pca.sd[k] * pca.modes[k]
            p0 = model.momenta_tensor(momenta)
            frames = _geodesic_frames(model, p0, template)
            result = _summary(model, p0, time.perf_counter() - start)
            result.update(mode=k + 1, side=side, sd=sign * args.sd, explained_variance=float(pca.variance[k]),
                          explained_variance_ratio=float(pca.ratio[k]), template_file=info["template"])  # fmt: skip
            _write(args.out / f"mode_{k + 1}_{side}", frames, template.faces, momenta, mu, lam, result,
                   mask=model.mask, control_index=model.control_index)  # fmt: skip
            sides[side] = frames
        line = f"mode {k + 1}: {100 * pca.ratio[k]:.1f}% of the variance, sd {pca.sd[k]:.4g}; wrote mode_{k + 1}_minus/"
        line += f" and mode_{k + 1}_plus/"
        if settings is not None:
            from ..render.movie import write_movie

            path = args.out / f"mode_{k + 1}.{args.movie}"
            share = f"{100 * pca.ratio[k]:.0f}% of the variance"
            settings.caption = f"mode {k + 1} ({share}): -{args.sd:g} sd .. +{args.sd:g} sd"
            trajectory = np.concatenate([sides["minus"][::-1], sides["plus"][1:]])
            write_movie(path, trajectory, template.faces, None, settings)
            line += f", {path.name}"
        _say(line)
    _say(f"wrote {count} mode{'s' if count != 1 else ''} to {args.out}")
    return 0
