"""The coarse-to-fine plan: which pyramid levels a registration optimises, and at which fidelity scale.

Momenta live on control points of the full-resolution source, the same at every level; a level only
changes the meshes on which the data term is measured: the level's decimated source, carried by the
flow, against the level's decimated target.

Finer levels stop paying once a level resolves the fidelity: the varifold smooths the surfaces at its
scale s, so a mesh whose mean edge is at most s / RESOLVE_RATIO (source and target) measures the same
data term as the full meshes up to a discretisation error of order (edge / s)^2. The plan runs the
levels from the coarsest up to the first that resolves the final scale and skips the finer ones
(benchmarks/large_mesh.py measures the full-resolution fit this gives). Coarser levels use a larger
scale, SCALE_FACTOR per level, so that the coarse fit captures the large motions first.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from .pyramid import MeshLevel, build_pyramid, level_sizes

RESOLVE_RATIO = 8.0
SCALE_FACTOR = 2.0
_CACHE_SIZE = 4


@dataclass
class LevelPlan:
    """Level ``index`` (0 = coarsest) of ``count``: source and target meshes and the fidelity scale."""

    index: int
    count: int
    source: MeshLevel
    target: MeshLevel
    fidelity_scale: float | None
    run: bool = True
    skip_reason: str = ""

    @property
    def is_full(self) -> bool:
        return self.index == self.count - 1

    def describe(self) -> dict:
        return {
            "level": self.index + 1,
            "source_vertices": self.source.n_vertices,
            "target_vertices": self.target.n_vertices,
            "fidelity_scale": self.fidelity_scale,
            "run": self.run,
            "skip_reason": self.skip_reason or None,
        }


def plan_levels(source, target, levels: int | None, fidelity_scale: float | None) -> list[LevelPlan]:
    """Plans for (vertices, faces) pairs; ``levels`` None is auto; no scale (landmarks): one level."""
    sv, sf = source
    tv, tf = target
    sizes = level_sizes(len(sv), levels) if fidelity_scale is not None else [len(sv)]
    count = len(sizes)
    if count == 1:
        full = [MeshLevel(np.asarray(sv), np.asarray(sf), np.arange(len(sv)))]
        return [LevelPlan(0, 1, full[0], MeshLevel(np.asarray(tv), np.asarray(tf), np.arange(len(tv))), fidelity_scale)]
    src = cached_pyramid(sv, sf, sizes)
    tgt = cached_pyramid(tv, tf, [min(n, len(tv)) for n in sizes[:-1]] + [len(tv)])
    limit = fidelity_scale / RESOLVE_RATIO
    last = next(
        (i for i in range(count) if max(src[i].mean_edge_length(), tgt[i].mean_edge_length()) <= limit), count - 1
    )
    plans = []
    for i in range(count):
        run = i <= last
        reason = "" if run else f"level {last + 1} already resolves the fidelity scale {fidelity_scale:.3g}"
        scale = fidelity_scale * SCALE_FACTOR ** (last - i) if run else fidelity_scale
        plans.append(LevelPlan(i, count, src[i], tgt[i], scale, run, reason))
    return plans


_pyramids: OrderedDict[str, list[MeshLevel]] = OrderedDict()


def cached_pyramid(vertices, faces, sizes: list[int]) -> list[MeshLevel]:
    """:func:`build_pyramid`, remembered for the last few meshes (the app registers one pair many times)."""
    v = np.ascontiguousarray(vertices, dtype=np.float64)
    f = np.ascontiguousarray(faces, dtype=np.int64)
    key = hashlib.blake2b(v.tobytes() + f.tobytes() + repr(sizes).encode(), digest_size=16).hexdigest()
    if key in _pyramids:
        _pyramids.move_to_end(key)
        return _pyramids[key]
    levels = build_pyramid(v, f, sizes)
    _pyramids[key] = levels
    while len(_pyramids) > _CACHE_SIZE:
        _pyramids.popitem(last=False)
    return levels
