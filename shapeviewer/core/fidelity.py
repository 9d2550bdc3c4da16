"""Data fidelity D(S, T) between a deformed source and a target mesh.

Varifold (unoriented): <S, T> = sum_ij A_i B_j exp(-|c_i - d_j|^2 / s^2) (n_i . m_j)^2;
currents (oriented): the same with area-weighted normals and (N_i . M_j);
D = <S,S> - 2 <S,T> + <T,T>. Landmarks (every vertex paired with the target's same vertex, or a few
paired points carried by the flow, :class:`LandmarkTerm`): sum_i |x_i - y_i|^2.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
from torch.autograd.function import once_differentiable

from .backends import resolve_backend, squared_distances
from .block_sparse import plan_blocks
from .errors import InputError
from .geometry import face_geometry
from .shooting import ShootingCancelled

FIDELITIES = ("varifold", "currents", "landmarks")
ROUNDING_ULPS = 100  # a kernel mismatch below this many eps of <S,S> + <T,T> is rounding, not a difference


def _features(vertices, faces, oriented: bool):
    centres, normals, areas = face_geometry(vertices, faces)
    if oriented:
        return centres, normals, torch.ones_like(areas)
    safe = areas.clamp(min=torch.finfo(areas.dtype).tiny)
    return centres, normals / safe[:, None], areas


def _keops_sums(c1, n1, c2, n2, w2, scale: float, oriented: bool, ranges, gradient: bool) -> torch.Tensor:
    """Per source face i, sum_j w2_j e_ij k_ij with e_ij = exp(-|c_i - c_j|^2 / s^2), k = (n_i . n_j)^2 (or
    n_i . n_j, oriented): (N, 1); with ``gradient``, also sum_j w2_j e_ij k_ij (c_i - c_j) and
    sum_j w2_j e_ij (n_i . n_j) n_j (sum_j w2_j e_ij n_j, oriented), from which the gradients with respect to
    c_i and n_i follow: (N, 7) in one reduction, the exponential evaluated once for all seven."""
    from pykeops.torch import LazyTensor

    ci, cj = LazyTensor(c1[:, None, :]), LazyTensor(c2[None, :, :])
    ni, nj = LazyTensor(n1[:, None, :]), LazyTensor(n2[None, :, :])
    e = (-ci.sqdist(cj) * (1.0 / scale**2)).exp()
    dot = ni | nj
    k = dot if oriented else dot**2
    if not gradient:
        k = e * k
        if ranges is not None:
            k.ranges = ranges
        return k @ w2[:, None].contiguous()
    sums = (LazyTensor(w2[None, :, None]) * e) * k.concat((ci - cj) * k).concat(nj if oriented else dot * nj)
    if ranges is not None:
        sums.ranges = ranges
    return sums.sum(dim=1)


class _SourceSideInner(torch.autograd.Function):
    """sum_ij w1_i w2_j e_ij k_ij with its gradient in (c1, n1, w1) only, all from one reduction in the
    forward pass: KeOps' own backward would run one more reduction for c1 and one for n1, each evaluating
    the kernel again (<S, T> at 20k x 20k faces on 2 CPU cores: 2.7 s for value and gradient, against 6.8 s;
    the whole data term 5.4 s against 12.6 s)."""

    @staticmethod
    def forward(ctx, c1, n1, w1, c2, n2, w2, scale, oriented, ranges):
        sums = _keops_sums(c1, n1, c2, n2, w2, scale, oriented, ranges, gradient=True)
        ctx.save_for_backward(sums, w1)
        ctx.scale, ctx.oriented = scale, oriented
        return sums[:, 0] @ w1

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        sums, w1 = ctx.saved_tensors
        weighted = grad * w1[:, None]
        d_c = weighted * sums[:, 1:4] * (-2.0 / ctx.scale**2)
        d_n = weighted * sums[:, 4:7] * (1.0 if ctx.oriented else 2.0)
        return d_c, d_n, grad * sums[:, 0], None, None, None, None, None, None


def _inner(f1, f2, scale: float, oriented: bool, backend: str) -> torch.Tensor:
    (c1, n1, w1), (c2, n2, w2) = f1, f2
    if backend == "keops":
        blocks = plan_blocks(c1.detach(), c2.detach(), scale)  # large meshes at a small scale: near cells only
        if blocks is not None:
            (c1, n1, w1), (c2, n2, w2) = ((t[blocks.order1] for t in f1), (t[blocks.order2] for t in f2))
        ranges = None if blocks is None else blocks.ranges
        wanted = torch.is_grad_enabled() and any(t.requires_grad for t in (c1, n1, w1))
        if wanted and not any(t.requires_grad for t in (c2, n2, w2)):  # as always: the target, or a detached side
            return _SourceSideInner.apply(c1, n1, w1, c2, n2, w2, scale, oriented, ranges)
        return _keops_sums(c1, n1, c2, n2, w2, scale, oriented, ranges, gradient=False)[:, 0] @ w1
    dot = n1 @ n2.T
    k = torch.exp(-squared_distances(c1, c2) / scale**2) * (dot if oriented else dot * dot)
    return w1 @ (k @ w2)


def _self_inner(f, scale: float, oriented: bool, backend: str) -> torch.Tensor:
    """<S, S> with its gradient through one side only, doubled: the sum is symmetric in i and j, so the other
    side's gradient is the same, and the reductions for it (half of the backward pass) are skipped.
    First order only: a second derivative of this (none is taken) would miss the cross block."""
    half = _inner(f, tuple(t.detach() for t in f), scale, oriented, backend)
    return half + (half - half.detach())  # the value of <S, S>, twice the one-sided gradient


class Fidelity:
    """D(x, target) for deformed source vertices x (N, 3) sharing the source faces."""

    def __init__(self, kind: str, source_faces, target_vertices, target_faces, scale: float | None, backend: str):
        if kind not in FIDELITIES:
            raise ValueError(f"unknown fidelity '{kind}' (choose from {', '.join(FIDELITIES)})")
        self.kind, self.faces = kind, source_faces
        self.scale = float(scale) if scale is not None else None  # a NumPy scalar would reach KeOps as float64
        self.target_vertices = target_vertices
        if kind == "landmarks":
            return
        if self.scale is None or self.scale <= 0:
            raise ValueError(f"the {kind} fidelity needs a positive scale, got {scale}")
        self.oriented = kind == "currents"
        self.target = _features(target_vertices, target_faces, self.oriented)
        m, n = len(source_faces), len(target_faces)
        self.backend = resolve_backend(backend, max(m, n), max(m, n))
        with torch.no_grad():
            self.target_self = _inner(self.target, self.target, self.scale, self.oriented, self.backend)

    def rounding_level(self) -> float:
        """The mismatch that rounding alone gives a source equal to the target (D sums three terms of about
        <T,T> each, which cancel); 0 for landmarks, whose squared distances do not cancel."""
        if self.kind == "landmarks":
            return 0.0
        return ROUNDING_ULPS * torch.finfo(self.target_self.dtype).eps * 2 * abs(float(self.target_self))

    def __call__(self, x: torch.Tensor, should_stop=None) -> torch.Tensor:
        """D(x, target); ``should_stop()`` true between its two reductions (seconds each on a large level)
        raises ShootingCancelled."""
        if self.kind == "landmarks":
            return ((x - self.target_vertices) ** 2).sum()
        src = _features(x, self.faces, self.oriented)
        cross = _inner(src, self.target, self.scale, self.oriented, self.backend)
        if should_stop is not None and should_stop():
            raise ShootingCancelled()
        return _self_inner(src, self.scale, self.oriented, self.backend) - 2 * cross + self.target_self


LANDMARK_FLOOR = 0.01  # L_unit >= K x (this x the shape's size)^2: landmarks that already coincide set no scale


class LandmarkTerm:
    """``L(x) = sum_i |x_i - y_i|^2`` for the carried source landmarks x (K, 3) against the target's y (K, 3).

    ``source``/``target`` are tensors in the model's coordinates; ``initial`` is L at the identity and ``unit``
    what the loss divides L by: ``max(initial, K (LANDMARK_FLOOR size)^2)``.
    """

    def __init__(self, source: torch.Tensor, target: torch.Tensor, size: float):
        if source.shape != target.shape or source.ndim != 2 or source.shape[1] != 3:
            raise ValueError(
                f"landmarks must pair one to one as (K, 3), got {tuple(source.shape)} and {tuple(target.shape)}"
            )
        self.source, self.target = source, target
        with torch.no_grad():
            self.initial = float(self(source))
        self.unit = max(self.initial, len(source) * (LANDMARK_FLOOR * size) ** 2) or 1.0

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return ((x - self.target) ** 2).sum()


def check_vertex_correspondence(source, target) -> None:
    """Vertex landmark fidelity pairs source vertex i with target vertex i: InputError when the counts differ,
    a warning when the meshes do not share their triangles (a count equal by chance)."""
    if len(target[0]) != len(source[0]):
        raise InputError(
            f"landmark fidelity needs as many target vertices as source vertices ({len(target[0])} != {len(source[0])})"
        )
    if not np.array_equal(np.asarray(source[1]), np.asarray(target[1])):
        warnings.warn(
            "landmark fidelity pairs source vertex i with target vertex i, but the two meshes have different "
            "triangles: unless their vertices correspond one to one, use the varifold fidelity",
            stacklevel=4,
        )
