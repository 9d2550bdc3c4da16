"""Whether a finished registration is credible, in words with what to try: its deformed source's area far from
the target's, or a mismatch that fell little while the deformed source is not already close. Said by
'register' after its last line and by 'batch' in summary.csv's warning column."""

from __future__ import annotations

import numpy as np
import torch

from ..core.geometry import face_geometry, shape_size

AREA_RATIO_RANGE = (0.5, 2.0)  # the deformed source's area over the target's: outside, the match is not credible
MIN_FIDELITY_DROP = 0.5  # a finished run that lowered the mismatch by less than this fraction is flagged...
CLOSE_MATCH = 0.01  # ...unless its deformed source lies this close (RMS, x the target's size) to the target


def surface_area(vertices, faces) -> float:
    return float(face_geometry(torch.as_tensor(vertices, dtype=torch.float64), torch.as_tensor(faces))[2].sum())


def _percent(ratio: float) -> str:
    return f"{100 * ratio:.2g}%" if ratio < 0.1 else f"{100 * ratio:.0f}%"


def _size(vertices) -> float:
    return shape_size(torch.as_tensor(vertices, dtype=torch.float64))


def credibility_of(start, deformed, faces, target, status: str, fidelity_drop, rms_to_target: float | None,
                   alignment: str | None, words: str = "cli") -> str:  # fmt: skip
    """The warning for a finished run ('' when nothing is off): :func:`credibility_problems` and their
    :func:`credibility_advice`. ``start`` None: no meshes to compare (the drop alone is judged)."""
    if start is None:
        deformed = faces = target = None
    problems = credibility_problems(start, deformed, faces, target, fidelity_drop, rms_to_target)
    differ = target is not None and sizes_differ(start, target[0])
    return credibility_advice(problems, status, alignment, differ, words)


def credibility_problems(start, deformed, faces, target, fidelity_drop, rms_to_target: float | None) -> list[str]:
    """What is off, in words: ``start``, ``deformed`` the source's vertices before and after (N, 3) on ``faces``;
    ``target`` (vertices, faces) or None (no area to compare); ``rms_to_target`` the deformed source's RMS
    distance to the target, or None."""
    problems = []
    if target is not None:
        area = surface_area(deformed, faces)
        to_target = area / max(surface_area(*target), 1e-300)
        if not AREA_RATIO_RANGE[0] <= to_target <= AREA_RATIO_RANGE[1]:
            own = area / max(surface_area(start, faces), 1e-300)
            if AREA_RATIO_RANGE[0] <= own <= AREA_RATIO_RANGE[1]:  # it kept about its own area: the sizes differ
                problems.append(f"deformed source's area is {_percent(to_target)} of the target's")
            else:
                problems.append(f"deformed source {'shrank' if own < 1 else 'grew'} to {_percent(own)} of its area "
                                f"({_percent(to_target)} of the target's)")  # fmt: skip
    close = target is not None and rms_to_target is not None and rms_to_target <= CLOSE_MATCH * _size(target[0])
    if isinstance(fidelity_drop, (int, float)) and fidelity_drop < MIN_FIDELITY_DROP and not close:
        problems.append(f"mismatch fell by only {100 * fidelity_drop:.0f}%" if fidelity_drop >= 0 else
                        f"mismatch rose by {-100 * fidelity_drop:.0f}%")  # fmt: skip
    return problems


# what to try, as the command line and as the app say it
REMEDIES = {
    "cli": {"rigid": "--align rigid", "similarity": "--align similarity", "iterations": "more --iterations",
            "kernel": "another --kernel"},
    "app": {"rigid": "a rigid pre-alignment (Landmarks tab > Align)",
            "similarity": "a similarity pre-alignment (Landmarks tab > Align)", "iterations": "more iterations",
            "kernel": "another kernel"},
}  # fmt: skip


def credibility_advice(problems: list[str], status: str, alignment: str | None, sizes_differ: bool,
                       words: str = "cli") -> str:  # fmt: skip
    """``problems`` (from :func:`credibility_problems`) and what to try, or '' when there are none. ``alignment``:
    the pre-alignment the run had ('rigid', 'similarity'; None: none); ``sizes_differ``: source and target sizes
    differ by more than the area range allows; ``words``: 'cli' or 'app' (REMEDIES)."""
    if not problems:
        return ""
    w = REMEDIES[words]
    if sizes_differ and alignment != "similarity":
        advice = f"sizes differ? try {w['similarity']}"
    elif alignment:
        advice = f"shapes too different? try {w['iterations']} or {w['kernel']}"
    else:
        advice = f"poses differ? try {w['rigid']}"
    if (
        status == "finished"
        and len(problems) == 1
        and problems[0].startswith("mismatch")
        and not (sizes_differ and alignment != "similarity")
    ):
        advice = f"the run ended at its iteration budget: try {w['iterations']}" + ("" if alignment else (
            f" (or {w['rigid']}, should the poses differ)"))  # fmt: skip
    return f"{'; '.join(problems)}: {advice}"


def sizes_differ(source_vertices, target_vertices) -> bool:
    """Whether the two shapes' sizes differ by more than the area range allows (lengths: its square root)."""
    ratio = _size(target_vertices) / max(_size(source_vertices), 1e-300)
    low, high = AREA_RATIO_RANGE
    return not np.sqrt(low) <= ratio <= np.sqrt(high)


def pose_hint(source_vertices, target_vertices) -> str:
    """Before a run: '' when source and target overlap about as they are, else what to do first (the app's words):
    a registration from there spends minutes and ends not credible."""
    source, target = np.asarray(source_vertices, float), np.asarray(target_vertices, float)
    ratio = _size(target) / max(_size(source), 1e-300)
    if sizes_differ(source, target):
        return f"the target is {ratio:.3g}x the source's size: try {REMEDIES['app']['similarity']} first"
    apart = float(np.linalg.norm(target.mean(0) - source.mean(0))) / max(_size(target), 1e-300)
    if apart > 1.0:
        return f"the meshes lie {apart:.3g}x their size apart: try {REMEDIES['app']['rigid']} first"
    return ""
