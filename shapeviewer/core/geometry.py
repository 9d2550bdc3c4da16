"""Triangle-mesh quantities: face centres/normals/areas, vertex areas, size."""

from __future__ import annotations

import torch


def face_geometry(vertices: torch.Tensor, faces: torch.Tensor):
    """Centres (M, 3), area-weighted normals (M, 3) with |N| = area, areas (M,)."""
    a, b, c = vertices[faces[:, 0]], vertices[faces[:, 1]], vertices[faces[:, 2]]
    centres = (a + b + c) / 3.0
    normals = 0.5 * torch.linalg.cross(b - a, c - a)
    areas = torch.linalg.vector_norm(normals, dim=1)
    return centres, normals, areas


def vertex_areas(vertices: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
    """(N,) a third of the areas of the triangles around each vertex."""
    _, _, areas = face_geometry(vertices, faces)
    out = torch.zeros(len(vertices), dtype=vertices.dtype, device=vertices.device)
    for k in range(3):
        out.index_add_(0, faces[:, k], areas / 3.0)
    return out


def shape_size(vertices: torch.Tensor) -> float:
    """Length of the bounding-box diagonal: the unit that default scales follow."""
    extent = vertices.max(0).values - vertices.min(0).values
    return float(torch.linalg.vector_norm(extent))
