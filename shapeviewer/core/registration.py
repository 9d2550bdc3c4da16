"""Registration by geodesic shooting: minimise ``gamma * H(q0, p0) / H_unit + D(phi_1(S), T) / D_0``.

``H_unit`` is the energy of translating the source by its own size and ``D_0`` the initial fidelity,
so ``gamma`` is scale-free: gamma = 0.01 means such a translation weighs 1% of the initial mismatch.
:func:`register` is a generator yielding one :class:`Report` per L-BFGS iteration; the CLI, the GUI
worker and the tests all drive it. It never sleeps and knows nothing of Qt.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import torch

from .fidelity import FIDELITIES, Fidelity
from .lbfgs import LBFGS
from .model import DeformationModel, InputError, ModelSettings
from .shooting import ShootingCancelled


@dataclass
class RegistrationSettings:
    model: ModelSettings = field(default_factory=ModelSettings)
    fidelity: str = "varifold"
    fidelity_scale: float | None = None
    regularization: float = 0.01
    iterations: int = 100

    def validate(self) -> None:
        self.model.validate()
        if self.fidelity not in FIDELITIES:
            raise InputError(f"unknown fidelity '{self.fidelity}' (choose from {', '.join(FIDELITIES)})")
        if self.fidelity_scale is not None and not self.fidelity_scale > 0:
            raise InputError(f"fidelity scale must be positive, got {self.fidelity_scale}")
        if not (self.regularization >= 0 and math.isfinite(self.regularization)):
            raise InputError(f"regularization must be a finite number >= 0, got {self.regularization}")
        if self.iterations < 0:
            raise InputError(f"iterations must be >= 0, got {self.iterations}")


def default_fidelity_scale(size: float) -> float:
    return 0.1 * size


@dataclass
class Report:
    """One L-BFGS iteration (or the final state when ``status`` is not 'running').

    trajectory: (T+1, N, 3) deformed full mesh in the source's coordinates; momenta: (n, 3).
    """

    iteration: int
    loss: float
    fidelity: float
    energy: float
    elapsed: float
    trajectory: np.ndarray
    momenta: np.ndarray
    status: str = "running"  # running | finished | converged | cancelled | failed
    message: str = ""

    @property
    def done(self) -> bool:
        return self.status != "running"


class NonFiniteLoss(FloatingPointError):
    pass


class _Cancelled(Exception):
    pass


@dataclass
class _Evaluation:
    z: torch.Tensor
    loss: float
    fidelity: float
    energy: float
    trajectory: list


class Registration:
    """Source/target set-up; :meth:`run` is the per-iteration generator."""

    def __init__(self, source, target, settings: RegistrationSettings, mask=None, initial_momenta=None):
        """``source``/``target``: (vertices (N, 3), faces (M, 3)) numpy pairs."""
        settings.validate()
        self.settings = settings
        self.model = DeformationModel(source[0], source[1], mask, settings.model)
        m = self.model
        tv = torch.as_tensor(np.asarray(target[0], dtype=np.float64))
        if settings.fidelity == "landmarks" and tv.shape[0] != len(m.vertices):
            raise InputError(
                "landmark fidelity needs as many target vertices as source vertices "
                f"({tv.shape[0]} != {len(m.vertices)})"
            )
        target_vertices = (tv - m.offset).to(m.device, m.dtype)
        target_faces = torch.as_tensor(np.asarray(target[1], dtype=np.int64), device=m.device)
        self.fidelity_scale = settings.fidelity_scale or default_fidelity_scale(m.size)
        self.fidelity = Fidelity(
            settings.fidelity, m.faces, target_vertices, target_faces, self.fidelity_scale, settings.model.backend
        )
        with torch.no_grad():
            self.fidelity_initial = float(self.fidelity(m.vertices))
            ref = self._reference_momenta()
            self.energy_unit = float(m.hamiltonian(ref))
        self.momentum_scale = float(ref.norm(dim=1).mean())
        self.fidelity_unit = self.fidelity_initial if self.fidelity_initial > 0 else 1.0
        z0 = (
            torch.zeros_like(m.q0)
            if initial_momenta is None
            else m.momenta_tensor(initial_momenta) / self.momentum_scale
        )
        self.z = z0

    def _reference_momenta(self) -> torch.Tensor:
        """Momenta that (nearly) translate the source by its size along x."""
        m = self.model
        u = torch.zeros(3, dtype=m.dtype, device=m.device)
        u[0] = m.size
        if m.settings.cometric == "normalized":
            return m.mu[:, None] * u
        ones = torch.ones(m.n_control, 1, dtype=m.dtype, device=m.device)
        density = m.cometric.velocity(m.q0, m.q0, ones)
        return u / density

    def evaluate(self, z: torch.Tensor, create_graph: bool, should_stop=None):
        m = self.model
        p0 = z * self.momentum_scale
        traj = m.shoot(p0, create_graph=create_graph, should_stop=should_stop)
        fid = self.fidelity(traj.points[-1])
        energy = m.hamiltonian(p0) if create_graph else _no_graph_energy(m, p0)
        gamma = self.settings.regularization
        loss = gamma * energy / self.energy_unit + fid / self.fidelity_unit
        return loss, fid, energy, traj

    def run(self, should_stop: Callable[[], bool] | None = None) -> Iterator[Report]:
        """Yield a report per iteration, then a final report (status != 'running') with the best state."""
        stop = should_stop or (lambda: False)
        start = time.perf_counter()
        best: list[_Evaluation] = []

        def objective(z: torch.Tensor):
            if stop():
                raise _Cancelled()
            with torch.enable_grad():  # also when the caller runs under no_grad
                z = z.detach().requires_grad_(True)
                loss, fid, energy, traj = self.evaluate(z, True, stop)
                if not torch.isfinite(loss):
                    raise NonFiniteLoss(f"the loss became {float(loss.detach())} (fidelity {float(fid.detach())})")
                (grad,) = torch.autograd.grad(loss, z)
            if not torch.isfinite(grad).all():
                raise NonFiniteLoss("the gradient became non-finite")
            ev = _Evaluation(
                z.detach(), *(float(v.detach()) for v in (loss, fid, energy)), [x.detach() for x in traj.points]
            )
            if not best or ev.loss < best[0].loss:
                best[:] = [ev]
            return ev.loss, grad

        def report(ev: _Evaluation, iteration: int, status="running", message="") -> Report:
            traj = np.stack([self.model.to_user(x) for x in ev.trajectory])
            momenta = (ev.z * self.momentum_scale).cpu().numpy().astype(np.float64)
            return Report(iteration, ev.loss, ev.fidelity, ev.energy, time.perf_counter() - start,
                          traj, momenta, status, message)  # fmt: skip

        status, message, iteration = "finished", "", 0
        try:
            optimizer = LBFGS(objective, self.z)
            yield report(best[0], 0)
            stalled = 0
            for iteration in range(1, self.settings.iterations + 1):
                previous = optimizer.value
                if not optimizer.step():
                    status, message = "converged", "no further decrease of the loss"
                    iteration -= 1
                    break
                yield report(best[0], iteration)
                stalled = stalled + 1 if previous - optimizer.value <= 1e-7 * abs(previous) else 0
                if stalled >= 3:
                    status, message = "converged", "the loss stopped decreasing"
                    break
        except (_Cancelled, ShootingCancelled):
            status, message = "cancelled", "stopped by the user; keeping the best state so far"
        except (NonFiniteLoss, FloatingPointError) as exc:
            status, message = "failed", f"stopped: {exc}; keeping the last finite state"
        except KeyboardInterrupt:
            status, message = "cancelled", "interrupted; keeping the best state so far"
        if not best:
            raise RuntimeError(f"registration {status} before its first evaluation: {message}")
        self.z = best[0].z.clone()
        yield report(best[0], iteration, status, message or f"done after {iteration} iterations")

    def describe(self) -> dict:
        s = self.settings
        info = self.model.describe()
        info.update(
            fidelity=s.fidelity,
            fidelity_scale=self.fidelity_scale if s.fidelity != "landmarks" else None,
            fidelity_backend=getattr(self.fidelity, "backend", "torch"),
            regularization=s.regularization,
            energy_unit=self.energy_unit,
            fidelity_unit=self.fidelity_unit,
        )
        return info


def _no_graph_energy(model: DeformationModel, p0: torch.Tensor) -> torch.Tensor:
    with torch.enable_grad():  # the Sinkhorn solve may need autograd hooks; results are detached
        return model.hamiltonian(p0.detach()).detach()
