"""Control points: a farthest-point subset of the source vertices carrying the momenta."""

from __future__ import annotations

import torch


def farthest_point_sampling(points: torch.Tensor, n: int) -> torch.Tensor:
    """Indices (n,) of points spread evenly over the shape, starting next to the centroid."""
    count = len(points)
    if n >= count:
        return torch.arange(count, device=points.device)
    if n < 1:
        raise ValueError(f"the number of control points must be at least 1, got {n}")
    chosen = torch.empty(n, dtype=torch.long, device=points.device)
    chosen[0] = torch.argmin(((points - points.mean(0)) ** 2).sum(1))
    nearest = ((points - points[chosen[0]]) ** 2).sum(1)
    for i in range(1, n):
        chosen[i] = torch.argmax(nearest)
        nearest = torch.minimum(nearest, ((points - points[chosen[i]]) ** 2).sum(1))
    return chosen


def nearest_control_point(points: torch.Tensor, control: torch.Tensor, chunk: int = 4096) -> torch.Tensor:
    """Index (N,) of the nearest control point of each point, in chunks to keep memory linear."""
    out = [torch.cdist(points[i : i + chunk], control).argmin(1) for i in range(0, len(points), chunk)]
    return torch.cat(out)


def gather_measure(vertex_mu: torch.Tensor, owner: torch.Tensor, n: int) -> torch.Tensor:
    """mu of each control point: the sum of the vertex masses closest to it (total mass conserved)."""
    return torch.zeros(n, dtype=vertex_mu.dtype, device=vertex_mu.device).index_add_(0, owner, vertex_mu)
