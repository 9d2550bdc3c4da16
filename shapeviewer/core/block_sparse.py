"""Gaussian kernel sums that skip far blocks, for the varifold and currents on large meshes.

exp(-|c_i - d_j|^2 / s^2) is below exp(-CUTOFF^2) = 1.1e-7 (float32 rounding) beyond CUTOFF x s. Where s
is small against the meshes' size, the finest levels of a large scan, each face centre meets only the few
grid cells around it: the centres are sorted into cubic cells of side CELL x s, and a KeOps reduction
with ``ranges`` (block-sparse) visits only the pairs of cells that come within CUTOFF x s of each other.
The cost is then linear in the number of faces. Where most pairs of cells are near (a scale large
against the mesh), :func:`plan_blocks` says None and the full sum is as cheap.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import torch

CUTOFF = 4.0  # in units of the scale: the kernel is below exp(-16) beyond
CELL = 1.0  # cell side, in units of the scale (smaller: fewer far pairs visited, more blocks)
MIN_PAIRS = 10**8  # fewer pairs of points: the full reduction is fast enough, no plan
MAX_KEPT = 0.5  # a plan that keeps more than this fraction of the pairs is not worth its sorting
LOOKUPS = 2**22  # cell keys looked up at once while planning (about 100 MB of temporaries)


@dataclass
class Blocks:
    """Both point sets sorted by cell (``order1``, ``order2``) and the KeOps ranges of the near cell pairs."""

    order1: torch.Tensor
    order2: torch.Tensor
    ranges: tuple
    kept: float  # the fraction of point pairs the reduction visits


def _near_offsets(reach: int, side: float, cutoff: float, device) -> torch.Tensor:
    """Cell index offsets (K, 3) whose cells may hold points within ``cutoff`` of each other."""
    steps = range(-reach, reach + 1)
    offsets = torch.tensor(list(itertools.product(steps, steps, steps)), device=device)
    gap = (offsets.abs() - 1).clamp(min=0) * side  # the least distance between the two cells, per axis
    return offsets[(gap**2).sum(1) < cutoff**2]


def _cells(points: torch.Tensor, origin: torch.Tensor, side: float, base: int, pad: int):
    """(unique cell keys, their point counts, the order sorting the points by cell)."""
    q = ((points - origin) / side).floor().long() + pad
    keys = (q[:, 0] * base + q[:, 1]) * base + q[:, 2]
    unique, inverse, counts = torch.unique(keys, return_inverse=True, return_counts=True)
    return unique, counts, torch.argsort(inverse, stable=True)


def _ranges(counts: torch.Tensor) -> torch.Tensor:
    ends = counts.cumsum(0)
    return torch.stack((ends - counts, ends), 1)


def _near_cell_pairs(u1: torch.Tensor, u2: torch.Tensor, shift: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(i, j): the cells u1[i], u2[j] (sorted keys) whose keys differ by one of ``shift``, grouped by i; the
    look-ups go by chunks of cells of u1, at most LOOKUPS keys at a time (memory)."""
    rows = max(1, LOOKUPS // len(shift))
    found_i, found_j = [], []
    for start in range(0, len(u1), rows):
        wanted = u1[start : start + rows, None] + shift[None, :]
        found = torch.searchsorted(u2, wanted.reshape(-1)).clamp(max=len(u2) - 1).view(wanted.shape)
        rows_hit, cols_hit = torch.nonzero(u2[found] == wanted, as_tuple=True)  # row-major: grouped by i
        found_i.append(rows_hit + start)
        found_j.append(found[rows_hit, cols_hit])
    return torch.cat(found_i), torch.cat(found_j)


def plan_blocks(c1: torch.Tensor, c2: torch.Tensor, scale: float) -> Blocks | None:
    """The block-sparse plan for sum_ij f(c1_i, c2_j) exp(-|c1_i - c2_j|^2 / scale^2), or None where the full
    reduction is as good (few points, or most cell pairs near)."""
    if len(c1) * len(c2) < MIN_PAIRS:
        return None
    with torch.no_grad():
        side, cutoff = CELL * scale, CUTOFF * scale
        reach = math.ceil(CUTOFF / CELL)  # cells a near pair may lie apart, per axis
        origin = torch.minimum(c1.min(0).values, c2.min(0).values)
        top = torch.maximum(c1.max(0).values, c2.max(0).values)
        if not bool(torch.isfinite(top - origin).all()):  # a blown-up trial step: the plain sum says NaN
            return None
        base = int(((top - origin) / side).floor().max()) + 2 * reach + 2
        if base**3 >= 2**62:  # cell keys would overflow (over a million cells a side): the plain reduction
            return None
        u1, n1, order1 = _cells(c1, origin, side, base, reach)
        same = c1.data_ptr() == c2.data_ptr() and c1.shape == c2.shape and c1.stride() == c2.stride()
        u2, n2, order2 = (u1, n1, order1) if same else _cells(c2, origin, side, base, reach)  # <S,S>: once
        offsets = _near_offsets(reach, side, cutoff, c1.device)
        i, j = _near_cell_pairs(u1, u2, (offsets[:, 0] * base + offsets[:, 1]) * base + offsets[:, 2])
        kept = float((n1[i].double() * n2[j].double()).sum()) / (len(c1) * len(c2))
        if kept > MAX_KEPT:
            return None
        r1, r2 = _ranges(n1), _ranges(n2)
        by_j = torch.argsort(j, stable=True)
        slices1 = torch.bincount(i, minlength=len(u1)).cumsum(0)
        slices2 = torch.bincount(j, minlength=len(u2)).cumsum(0)
        ranges = (r1, slices1, r2[j], r2, slices2, r1[i[by_j]])  # as KeOps' from_matrix lays them out
    return Blocks(order1, order2, ranges, kept)
