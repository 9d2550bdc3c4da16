"""How strongly each vertex leads the deformation, for a mask and settings (the app's influence view).

Under the normalized cometric the velocity at x is a kernel-weighted average of p_j / mu_j with weights
k(x, x_j) lambda_j mu_j, so lambda_j mu_j is control point j's effective mass. Per vertex, its density
is lambda_owner(i) * w_i (w: the painted weight; owner: the control point gathering vertex i's mass),
zero where w is zero (those vertices follow passively). Under LDDMM the mask plays no part: every
vertex leads alike.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch

from .control_points import nearest_control_point
from .model import DeformationModel, ModelSettings

DENSE_INFLUENCE_MAX = 4000  # vertices: one Sinkhorn solve on a dense (N, N) matrix (128 MB in float64)


def influence(vertices: np.ndarray, faces: np.ndarray, mask: np.ndarray | None, settings: ModelSettings) -> np.ndarray:
    """(N,) values in [0, 1] (relative to the largest)."""
    weights = np.ones(len(vertices)) if mask is None else np.asarray(mask, dtype=np.float64)
    if settings.cometric != "normalized":
        return np.ones(len(vertices))
    if settings.backend == "auto" and len(vertices) <= DENSE_INFLUENCE_MAX:
        settings = replace(settings, backend="torch")  # on the GUI thread: no KeOps compilation to wait for
    model = DeformationModel(vertices, faces, mask, settings)
    lam = np.asarray(model.lam(), dtype=np.float64)
    if model.control_index is not None:  # lambda lives on the control points: each vertex takes its owner's
        with torch.no_grad():
            owner = nearest_control_point(model.vertices, model.q0).cpu().numpy()
        lam = lam[owner]
    values = lam * weights
    top = float(values.max())
    return values / top if top > 0 else values
