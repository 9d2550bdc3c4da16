"""Painting a weight mask on mesh vertices: brush strokes, smoothing, fills. numpy only (no Qt, no VTK).

Weights live in [0, WEIGHT_MAX]; mu = vertex area x weight. A brush step touches the vertices within
``radius`` of its centre with a smooth falloff f(d) = (1 - (d / radius)^2)^2.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

WEIGHT_MAX = 1.0
MODES = ("add", "subtract", "set", "smooth")


@dataclass
class Brush:
    radius: float
    strength: float = 0.5  # 0..1: the fraction of the change applied at the centre per step
    mode: str = "add"
    value: float = 1.0  # the target of "set"

    def check(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"unknown brush mode '{self.mode}' (choose from {', '.join(MODES)})")
        if not self.radius > 0:
            raise ValueError(f"brush radius must be positive, got {self.radius}")


class WeightPainter:
    """Weights of one mesh and the operations of a weight-paint tool; arrays are changed in place."""

    def __init__(self, vertices: np.ndarray, faces: np.ndarray, weights: np.ndarray | None = None):
        self.vertices = np.ascontiguousarray(vertices, dtype=np.float64)
        n = len(self.vertices)
        self.weights = np.ones(n) if weights is None else np.array(weights, dtype=np.float64)
        edges = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
        edges = np.concatenate([edges, edges[:, ::-1]])
        self.adjacency = coo_matrix((np.ones(len(edges)), (edges[:, 0], edges[:, 1])), shape=(n, n)).tocsr()
        self.adjacency.data[:] = 1.0
        self.degree = np.asarray(self.adjacency.sum(1)).ravel()
        self._components: np.ndarray | None = None

    def touched(self, center: np.ndarray, radius: float) -> tuple[np.ndarray, np.ndarray]:
        """Indices of the vertices within ``radius`` of ``center`` and their falloff in (0, 1]."""
        d2 = ((self.vertices - np.asarray(center, dtype=np.float64)) ** 2).sum(1)
        inside = np.flatnonzero(d2 < radius * radius)
        u = d2[inside] / (radius * radius)
        return inside, (1.0 - u) ** 2

    def stroke_step(self, center: np.ndarray, brush: Brush) -> np.ndarray:
        """Apply the brush once at ``center``; returns the indices changed."""
        brush.check()
        idx, falloff = self.touched(center, brush.radius)
        if idx.size == 0:
            return idx
        w, a = self.weights[idx], brush.strength * falloff
        if brush.mode == "add":
            new = w + a * WEIGHT_MAX
        elif brush.mode == "subtract":
            new = w - a * WEIGHT_MAX
        elif brush.mode == "set":
            new = w + a * (min(max(brush.value, 0.0), WEIGHT_MAX) - w)
        else:  # smooth: towards the mean of the edge neighbours
            neighbours = (self.adjacency[idx] @ self.weights) / np.maximum(self.degree[idx], 1)
            new = w + a * (neighbours - w)
        self.weights[idx] = np.clip(new, 0.0, WEIGHT_MAX)
        return idx

    def stroke_segment(self, start: np.ndarray, end: np.ndarray, brush: Brush, spacing: float = 0.25) -> None:
        """Brush steps from just after ``start`` to ``end``, at most ``spacing`` x radius apart: a quick
        mouse move paints a continuous band instead of blotches at the sampled positions."""
        start, end = np.asarray(start, dtype=np.float64), np.asarray(end, dtype=np.float64)
        n = max(1, int(np.ceil(np.linalg.norm(end - start) / (spacing * brush.radius))))
        for t in np.arange(1, n + 1) / n:
            self.stroke_step(start + t * (end - start), brush)

    @property
    def untouched(self) -> bool:
        """Every weight at WEIGHT_MAX: the uniform mask nobody painted yet (adding changes nothing)."""
        return bool(np.all(self.weights == WEIGHT_MAX))

    def fill(self, value: float, seed: int | None = None) -> None:
        """Every vertex (or, with ``seed``, the connected part of the mesh holding it) set to ``value``."""
        value = min(max(float(value), 0.0), WEIGHT_MAX)
        if seed is None:
            self.weights[:] = value
            return
        if self._components is None:
            self._components = connected_components(self.adjacency, directed=False)[1]
        self.weights[self._components == self._components[seed]] = value

    def invert(self) -> None:
        self.weights[:] = WEIGHT_MAX - self.weights

    def clear(self) -> None:
        self.weights[:] = 0.0
