"""Compiling a run's KeOps formulas ahead of the run: one loss-and-gradient evaluation of its first level.

KeOps compiles each formula on its first use (seconds each on a CPU); an evaluation with the run's own
settings, mask and meshes uses the same formulas as the run's first level, so the app can do it while
the user is still choosing, and the run then starts at once.
"""

from __future__ import annotations

import torch

from .backends import _kernel_formulas, keops_usable, resolve_backend
from .keops_census import Census, take_census
from .kernels import parse_kernel
from .model import resolve_device
from .registration import Registration, RegistrationSettings


def will_use_keops(n_vertices: int, n_faces: int, settings: RegistrationSettings) -> bool:
    """Whether a run would reduce with KeOps anywhere (what 'auto' picks, by size): in its deformation (source
    vertices by control points) or in its surface fidelity (``n_faces``: the larger mesh's triangles)."""
    n_control = settings.model.control_count(n_vertices)
    backend = settings.model.backend
    if resolve_backend(backend, n_vertices, max(n_control, 1)) == "keops":
        return True
    return settings.fidelity != "landmarks" and resolve_backend(backend, n_faces, n_faces) == "keops"


def structure_key(settings: RegistrationSettings, mask_has_zeros: bool, n_vertices: int) -> tuple:
    """What decides the formulas (not the scales, which KeOps takes as parameters)."""
    m = settings.model
    kernel = _kernel_formulas(parse_kernel(m.kernel))[:2] if m.kernel else "default"
    few = settings.model.control_count(n_vertices) < n_vertices
    return (kernel, m.cometric, m.dtype, m.sinkhorn.iterations is None, settings.fidelity, mask_has_zeros, few)


def warm_formulas(source, target, settings: RegistrationSettings, mask=None, should_stop=None) -> None:
    """One evaluation of the loss and its gradient at p0 = 0 on the first level (compiles what it needs).
    With a single time step, two: a backward solve's warm start (whose product rides on a fused reduction of
    its own formula) comes from the step after it, which a single step first has in the second evaluation."""
    reg = Registration(source, target, settings, mask)
    for _ in range(2 if settings.model.steps == 1 else 1):
        z = torch.zeros_like(reg.z).requires_grad_(True)
        with torch.enable_grad():
            loss = reg.evaluate(z, True, should_stop)[0]
            torch.autograd.grad(loss, z)


def formulas_to_compile(source, target, settings: RegistrationSettings, mask=None) -> int | None:
    """How many formulas the first level of a run will compile on this machine, counted without compiling
    (core.keops_census; 0.2 s for 2k vertices, 2-4 s for 200k, twice that with one time step). None where it
    cannot be told: no pykeops, or a GPU (whose NVRTC compilations take well under a second and are not
    announced)."""
    census = first_level_census(source, target, settings, mask)
    return None if census is None else census.to_compile


def first_level_census(source, target, settings: RegistrationSettings, mask=None, should_stop=None) -> Census | None:
    """The census of the formulas of a run's first level (see :func:`formulas_to_compile`), or None;
    ``should_stop()`` ends it at the evaluation's next time step (its ``stopped_by`` then says so)."""
    if resolve_device(settings.model.device).type != "cpu" or not keops_usable():
        return None
    return take_census(lambda: warm_formulas(source, target, settings, mask, should_stop))


class CompileCount:
    """Numbers the compilations of one block 1, 2, ... of n, n from a census (None or 0: unknown); n is never
    below the count seen, should a run compile more than its first level told."""

    def __init__(self, expected: int | None = None):
        self.expected = expected or 0
        self.started = 0

    @property
    def total(self) -> int:
        return max(self.expected, self.started) if self.expected else 0

    def start(self) -> tuple[int, int]:
        """(k, n) for the compilation starting now."""
        self.started += 1
        return self.started, self.total

    @staticmethod
    def words(k: int, n: int) -> str:
        return f"formula {k} of {n}" if n else f"formula {k}"
