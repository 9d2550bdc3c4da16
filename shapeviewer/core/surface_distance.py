"""Distances from points to a triangle surface, exact, and the summaries users cite.

``d(p, S) = min_j d(p, T_j)``, where the distance to a triangle T = (a, b, c) is the distance to p's
orthogonal projection on T's plane when that projection falls inside T, else to the nearest of its three
edges (segments). Candidate triangles come from k-d trees on the triangle centroids: with ``r_j`` the
largest distance from centroid c_j to a corner of T_j, ``d(p, T_j) >= |p - c_j| - r_j``; an upper bound U(p)
(the exact distance to the triangles of the nearest centroids) then limits the search to centroids within
``U(p) + r_j``. Triangles are grouped by r_j (powers of two), one tree each, so one large triangle does not
widen the search for all others. Numpy and scipy only.

Summaries (:class:`DistanceSummary`) are over the vertices: mean, RMS, 95th percentile, maximum; the
symmetric Hausdorff distance of two meshes is the larger of the two directions' maxima.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

CHUNK_PAIRS = 2_000_000  # point-triangle pairs evaluated at once (about 100 bytes each)
CHUNK_POINTS = 20_000  # query points handled at once (bounds the candidate lists' memory)
NEAREST_CANDIDATES = 4  # nearest centroids whose triangles give the first upper bound
DISTANCE_TO_TARGET = "distance_to_target"  # point data of an exported deformed source: each vertex to the target
DISTANCE_TO_SOURCE = "distance_to_source"  # point data of an exported target: each vertex to the deformed source


def _dot(a, b):
    return np.einsum("ij,ij->i", a, b)


def _segment_sq(p, a, b):
    ab = b - a
    length = _dot(ab, ab)
    t = np.where(length > 0, _dot(p - a, ab) / np.where(length > 0, length, 1.0), 0.0).clip(0.0, 1.0)
    d = p - (a + t[:, None] * ab)
    return _dot(d, d)


def point_triangle_squared(p: np.ndarray, a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """(K,) squared distances from points p[k] to triangles (a[k], b[k], c[k]), all (K, 3); degenerate ok."""
    ab, ac, ap = b - a, c - a, p - a
    n = np.cross(ab, ac)
    nn = _dot(n, n)
    ok = nn > 0
    safe = np.where(ok, nn, 1.0)
    beta = _dot(np.cross(ap, ac), n) / safe  # weight of b in the projection
    gamma = _dot(np.cross(ab, ap), n) / safe  # weight of c
    inside = ok & (beta >= 0) & (gamma >= 0) & (beta + gamma <= 1)
    plane = _dot(ap, n) ** 2 / safe
    edges = np.minimum(np.minimum(_segment_sq(p, a, b), _segment_sq(p, b, c)), _segment_sq(p, c, a))
    return np.where(inside, np.minimum(plane, edges), edges)


class SurfaceIndex:
    """A triangle surface prepared for distance queries (vertices (N, 3), faces (M, 3))."""

    def __init__(self, vertices, faces):
        from scipy.spatial import cKDTree

        self.vertices = np.ascontiguousarray(vertices, dtype=np.float64)
        self.faces = np.ascontiguousarray(faces, dtype=np.int64)
        if self.faces.ndim != 2 or self.faces.shape[1] != 3 or len(self.faces) == 0:
            raise ValueError(f"a surface needs (M, 3) triangles, got shape {self.faces.shape}")
        tri = self.vertices[self.faces]  # (M, 3, 3)
        self.centroids = tri.mean(1)
        self.radii = np.linalg.norm(tri - self.centroids[:, None], axis=2).max(1)
        self._all = cKDTree(self.centroids)
        smallest = max(float(self.radii[self.radii > 0].min(initial=1.0)), 1e-300)
        group = np.ceil(np.log2(np.maximum(self.radii, smallest) / smallest)).astype(int)
        self.groups = []
        for g in np.unique(group):
            members = np.nonzero(group == g)[0]
            self.groups.append((members, cKDTree(self.centroids[members]), float(self.radii[members].max())))

    def _pairs_squared(self, points, rows, tris) -> np.ndarray:
        out = np.empty(len(rows))
        for s in range(0, len(rows), CHUNK_PAIRS):
            r, t = rows[s : s + CHUNK_PAIRS], tris[s : s + CHUNK_PAIRS]
            f = self.faces[t]
            v = self.vertices
            out[s : s + CHUNK_PAIRS] = point_triangle_squared(points[r], v[f[:, 0]], v[f[:, 1]], v[f[:, 2]])
        return out

    def query(self, points) -> tuple[np.ndarray, np.ndarray]:
        """(distances (K,), index of a nearest triangle (K,)) from each point to the surface."""
        p = np.ascontiguousarray(points, dtype=np.float64).reshape(-1, 3)
        if not np.isfinite(p).all():
            raise ValueError("distance queries need finite points")
        parts = [self._query(p[s : s + CHUNK_POINTS]) for s in range(0, len(p), CHUNK_POINTS)]
        if not parts:
            return np.zeros(0), np.zeros(0, dtype=np.int64)
        return np.concatenate([d for d, _ in parts]), np.concatenate([t for _, t in parts])

    def _query(self, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        k = min(NEAREST_CANDIDATES, len(self.faces))
        _, near = self._all.query(p, k=k)
        near = near.reshape(len(p), k)
        rows = np.repeat(np.arange(len(p)), k)
        sq = self._pairs_squared(p, rows, near.ravel()).reshape(len(p), k)
        best = sq.min(1)
        which = near[np.arange(len(p)), sq.argmin(1)]
        bound = np.sqrt(best)
        for members, tree, radius in self.groups:
            lists = tree.query_ball_point(p, bound + radius + 1e-12 * (1 + bound))
            counts = np.fromiter((len(x) for x in lists), dtype=np.int64, count=len(p))
            if counts.sum() == 0:
                continue
            rows = np.repeat(np.arange(len(p)), counts)
            tris = members[np.concatenate([np.asarray(x, dtype=np.int64) for x in lists if len(x)])]
            keep = np.linalg.norm(p[rows] - self.centroids[tris], axis=1) - self.radii[tris] <= bound[rows]
            rows, tris = rows[keep], tris[keep]
            if len(rows) == 0:
                continue
            sq = self._pairs_squared(p, rows, tris)
            order = np.lexsort((sq, rows))  # per row, the smallest first
            rows, tris, sq = rows[order], tris[order], sq[order]
            first = np.ones(len(rows), bool)
            first[1:] = rows[1:] != rows[:-1]
            r, t, d = rows[first], tris[first], sq[first]
            better = d < best[r]
            best[r[better]], which[r[better]] = d[better], t[better]
        return np.sqrt(best), which

    def closest_points(self, points, triangles) -> np.ndarray:
        """(K, 3) the nearest point of triangle ``triangles[k]`` to ``points[k]``."""
        p = np.asarray(points, dtype=np.float64).reshape(-1, 3)
        f = self.faces[np.asarray(triangles)]
        a, b, c = self.vertices[f[:, 0]], self.vertices[f[:, 1]], self.vertices[f[:, 2]]
        candidates = []
        for u, v in ((a, b), (b, c), (c, a)):
            uv = v - u
            length = _dot(uv, uv)
            t = np.where(length > 0, _dot(p - u, uv) / np.where(length > 0, length, 1.0), 0.0).clip(0, 1)
            candidates.append(u + t[:, None] * uv)
        n = np.cross(b - a, c - a)
        nn = _dot(n, n)
        safe = np.where(nn > 0, nn, 1.0)
        proj = p - (_dot(p - a, n) / safe)[:, None] * n
        beta = _dot(np.cross(proj - a, c - a), n) / safe
        gamma = _dot(np.cross(b - a, proj - a), n) / safe
        inside = (nn > 0) & (beta >= 0) & (gamma >= 0) & (beta + gamma <= 1)
        stack = np.stack(candidates + [np.where(inside[:, None], proj, candidates[0])])
        d = ((stack - p[None]) ** 2).sum(2)
        return stack[d.argmin(0), np.arange(len(p))]

    def barycentric(self, points, triangles) -> np.ndarray:
        """(K, 3) weights of the nearest point of triangle ``triangles[k]`` to ``points[k]`` on its corners
        (non-negative, summing to 1): with :func:`follow_on_mesh`, the same material point at every frame."""
        q = self.closest_points(points, triangles)
        f = self.faces[np.asarray(triangles)]
        a, b, c = self.vertices[f[:, 0]], self.vertices[f[:, 1]], self.vertices[f[:, 2]]
        v0, v1, v2 = b - a, c - a, q - a
        d00, d01, d11, d20, d21 = _dot(v0, v0), _dot(v0, v1), _dot(v1, v1), _dot(v2, v0), _dot(v2, v1)
        den = d00 * d11 - d01 * d01
        ok = den > 0
        safe = np.where(ok, den, 1.0)
        wb = np.where(ok, (d11 * d20 - d01 * d21) / safe, 0.0)
        wc = np.where(ok, (d00 * d21 - d01 * d20) / safe, 0.0)
        w = np.c_[1 - wb - wc, wb, wc].clip(0.0, None)
        return w / w.sum(1, keepdims=True)


def follow_on_mesh(trajectory, faces, triangles, weights) -> np.ndarray:
    """(T+1, K, 3): points given by triangle and barycentric weights, at every frame of a (T+1, N, 3) trajectory."""
    f = np.asarray(faces)[np.asarray(triangles)]  # (K, 3)
    corners = np.asarray(trajectory)[:, f]  # (T+1, K, 3 corners, 3)
    return np.einsum("tkcd,kc->tkd", corners, np.asarray(weights, dtype=np.float64))


def point_to_surface(points, vertices, faces) -> np.ndarray:
    """(K,) exact distances from points (K, 3) to the triangle surface (vertices, faces)."""
    return SurfaceIndex(vertices, faces).query(points)[0]


@dataclass(frozen=True)
class DistanceSummary:
    """Over the vertices: mean, root mean square, 95th percentile, maximum (one direction's Hausdorff)."""

    mean: float
    rms: float
    p95: float
    max: float
    count: int

    @classmethod
    def of(cls, distances) -> DistanceSummary:
        d = np.asarray(distances, dtype=np.float64)
        if len(d) == 0:
            return cls(0.0, 0.0, 0.0, 0.0, 0)
        return cls(float(d.mean()), float(np.sqrt((d**2).mean())), float(np.percentile(d, 95)), float(d.max()), len(d))

    def to_json(self) -> dict:
        return asdict(self)


@dataclass
class SurfaceDistances:
    """Both directions between a (deformed) source and a target: per-vertex distances and their summaries."""

    to_target: np.ndarray  # (N,) each source vertex to the target surface
    to_source: np.ndarray  # (M,) each target vertex to the source surface

    @property
    def source_summary(self) -> DistanceSummary:
        return DistanceSummary.of(self.to_target)

    @property
    def target_summary(self) -> DistanceSummary:
        return DistanceSummary.of(self.to_source)

    @property
    def hausdorff(self) -> float:
        """max(max_i d(s_i, T), max_j d(t_j, S)), over the vertices."""
        return max(float(self.to_target.max(initial=0.0)), float(self.to_source.max(initial=0.0)))

    def to_json(self) -> dict:
        return {
            "source_to_target": self.source_summary.to_json(),
            "target_to_source": self.target_summary.to_json(),
            "hausdorff": self.hausdorff,
            "over": "vertices; exact point-to-triangle distances to the other surface",
        }


def surface_distances(source_vertices, source_faces, target_vertices, target_faces) -> SurfaceDistances:
    """Per-vertex distances source -> target surface and target -> source surface."""
    forward = SurfaceIndex(target_vertices, target_faces).query(source_vertices)[0]
    backward = SurfaceIndex(source_vertices, source_faces).query(target_vertices)[0]
    return SurfaceDistances(forward, backward)
