"""Mesh pyramids for coarse-to-fine registration: quadric decimation with a fine -> coarse vertex map.

Decimation is fast-simplification's quadric edge collapse (Garland-Heckbert, the C++ of
Fast-Quadric-Mesh-Simplification): it keeps the shape at a few thousand vertices, takes about a second
for a million and needs only NumPy (no VTK in core). Every fine vertex maps to its nearest coarse vertex.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SINGLE_LEVEL_MAX = 10_000  # auto: meshes up to this size register in one level
COARSEST_VERTICES = 2500  # a pyramid stops once a level is at most this size
LEVEL_FACTOR = 5  # vertices of one level / vertices of the next coarser one


@dataclass
class MeshLevel:
    """One level: vertices (n, 3), faces (m, 3), and ``parent`` (N,): the level vertex nearest to each
    vertex of the full-resolution mesh (the identity on the full level)."""

    vertices: np.ndarray
    faces: np.ndarray
    parent: np.ndarray

    @property
    def n_vertices(self) -> int:
        return len(self.vertices)

    def gather(self, values: np.ndarray) -> np.ndarray:
        """Sum of the full-resolution ``values`` (N, ...) merged into each level vertex: mass is conserved."""
        out = np.zeros((self.n_vertices,) + values.shape[1:], dtype=np.float64)
        np.add.at(out, self.parent, values)
        return out

    def mean_edge_length(self) -> float:
        edges = self.vertices[self.faces] - self.vertices[np.roll(self.faces, 1, axis=1)]
        return float(np.linalg.norm(edges, axis=2).mean())


def level_sizes(n_vertices: int, levels: int | None) -> list[int]:
    """Vertex counts from coarsest to full. ``None`` (auto): one level up to SINGLE_LEVEL_MAX, else divide
    by LEVEL_FACTOR until at most COARSEST_VERTICES; an explicit count spaces ``levels`` sizes
    geometrically from that size to N."""
    if levels is not None and levels < 1:
        raise ValueError(f"the number of levels must be at least 1, got {levels}")
    if levels is None:
        sizes = [n_vertices]
        if n_vertices <= SINGLE_LEVEL_MAX:
            return sizes
        while sizes[-1] > COARSEST_VERTICES:
            sizes.append(sizes[-1] // LEVEL_FACTOR)
        return sizes[::-1]
    if levels == 1 or n_vertices <= COARSEST_VERTICES:
        return [n_vertices]
    ratio = (n_vertices / min(COARSEST_VERTICES, n_vertices)) ** (1 / (levels - 1))
    return [int(round(n_vertices / ratio**k)) for k in range(levels - 1, 0, -1)] + [n_vertices]


def decimate(vertices: np.ndarray, faces: np.ndarray, n_target: int) -> MeshLevel:
    """A level of about ``n_target`` vertices (quadric edge collapses); each fine vertex maps to the nearest
    coarse vertex (the library's collapse replay misplaces vertices where quadrics are singular, e.g. on
    flat subdivided patches, so the map is rebuilt from the geometry)."""
    vertices = np.ascontiguousarray(vertices, dtype=np.float64)
    if n_target >= len(vertices):
        return MeshLevel(vertices, np.ascontiguousarray(faces, dtype=np.int64), np.arange(len(vertices)))
    coarse, coarse_faces = quadric_decimation(vertices, faces, n_target)
    return MeshLevel(coarse, coarse_faces, nearest_vertex(vertices, coarse))


def quadric_decimation(vertices: np.ndarray, faces: np.ndarray, n_target: int) -> tuple[np.ndarray, np.ndarray]:
    """(vertices, triangles) of about ``n_target`` vertices by quadric edge collapses (the mesh itself when it
    has no more): for the pyramid's levels and for the lighter copies the views draw."""
    import fast_simplification

    vertices = np.ascontiguousarray(vertices, dtype=np.float64)
    faces = np.ascontiguousarray(faces, dtype=np.int64)
    if n_target >= len(vertices):
        return vertices, faces
    # A closed mesh has about twice as many faces as vertices; aim the face count accordingly.
    face_target = max(4, int(len(faces) * n_target / len(vertices)))
    coarse, coarse_faces = fast_simplification.simplify(vertices, faces, target_count=face_target)
    return np.asarray(coarse, dtype=np.float64), np.asarray(coarse_faces, dtype=np.int64)


def nearest_vertex(points: np.ndarray, vertices: np.ndarray) -> np.ndarray:
    """Index of the nearest of ``vertices`` for each point (a k-d tree: memory linear in the counts)."""
    from scipy.spatial import cKDTree

    return cKDTree(vertices).query(points)[1].astype(np.int64)


def build_pyramid(vertices: np.ndarray, faces: np.ndarray, sizes: list[int]) -> list[MeshLevel]:
    """Levels for ``sizes`` (coarsest first, the last being the full mesh), each decimated from the next
    finer one; ``parent`` maps the full mesh's vertices to each level."""
    full = MeshLevel(np.asarray(vertices, dtype=np.float64), np.asarray(faces, dtype=np.int64),
                     np.arange(len(vertices)))  # fmt: skip
    levels = [full]
    for size in reversed(sizes[:-1]):
        finer = levels[-1]
        step = decimate(finer.vertices, finer.faces, size)
        levels.append(MeshLevel(step.vertices, step.faces, step.parent[finer.parent]))
    return levels[::-1]
