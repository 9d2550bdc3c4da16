"""Compiling a run's KeOps formulas ahead of the run: one loss-and-gradient evaluation of its first level.

KeOps compiles each formula on its first use (seconds each on a CPU); an evaluation with the run's own
settings, mask and meshes uses the same formulas as the run's first level, so the app can do it while
the user is still choosing, and the run then starts at once.
"""

from __future__ import annotations

import torch

from .backends import _kernel_formulas, resolve_backend
from .kernels import parse_kernel
from .registration import Registration, RegistrationSettings


def will_use_keops(n_vertices: int, settings: RegistrationSettings) -> bool:
    """Whether a run on a source of ``n_vertices`` would reduce with KeOps (what 'auto' picks, by size)."""
    n_control = settings.model.control_count(n_vertices)
    return resolve_backend(settings.model.backend, n_vertices, max(n_control, 1)) == "keops"


def structure_key(settings: RegistrationSettings, mask_has_zeros: bool, n_vertices: int) -> tuple:
    """What decides the formulas (not the scales, which KeOps takes as parameters)."""
    m = settings.model
    kernel = _kernel_formulas(parse_kernel(m.kernel))[:2] if m.kernel else "default"
    few = settings.model.control_count(n_vertices) < n_vertices
    return (kernel, m.cometric, m.dtype, m.sinkhorn.iterations is None, settings.fidelity, mask_has_zeros, few)


def warm_formulas(source, target, settings: RegistrationSettings, mask=None, should_stop=None) -> None:
    """One evaluation of the loss and its gradient at p0 = 0 on the first level (compiles what it needs)."""
    reg = Registration(source, target, settings, mask)
    z = torch.zeros_like(reg.z).requires_grad_(True)
    with torch.enable_grad():
        loss = reg.evaluate(z, True, should_stop)[0]
        torch.autograd.grad(loss, z)
