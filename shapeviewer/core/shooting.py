"""Geodesic shooting: Hamilton's equations ``dq/dt = dH/dp``, ``dp/dt = -dH/dq`` on [0, 1].

Extra points x (the full mesh when momenta live on control points) follow ``dx/dt = v_t(x)``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

INTEGRATORS = ("euler", "rk2", "rk4")
# Butcher tableaux (a rows, b weights) of explicit Runge-Kutta schemes; rk2 is Ralston's.
_TABLEAUX = {
    "euler": ((), (1.0,)),
    "rk2": (((2 / 3,),), (0.25, 0.75)),
    "rk4": (((0.5,), (0.0, 0.5), (0.0, 0.0, 1.0)), (1 / 6, 1 / 3, 1 / 3, 1 / 6)),
}


class ShootingCancelled(Exception):
    pass


@dataclass
class Trajectory:
    """Lists of T+1 tensors: control points q (n, 3), momenta p (n, 3), carried points x (N, 3) or None."""

    q: list[torch.Tensor]
    p: list[torch.Tensor]
    x: list[torch.Tensor] | None

    @property
    def points(self) -> list[torch.Tensor]:
        """The deformed mesh at each time: x if carried, else q."""
        return self.x if self.x is not None else self.q


def hamiltonian_field(cometric, q, p, x, create_graph: bool, stage: int = 0):
    """(dq/dt, dp/dt, dx/dt) at (q, p, x); ``stage``: which stage of the integrator's step (0 for Euler)."""
    if not create_graph:
        q, p = q.detach(), p.detach()
    with torch.enable_grad() if create_graph else torch.no_grad():
        dh_dp, dh_dq = cometric.field(q, p, create_graph, stage)
        vx = cometric.velocity(x, q, p) if x is not None else None
    if not create_graph:
        dh_dp, dh_dq = dh_dp.detach(), dh_dq.detach()
    return [dh_dp, -dh_dq, vx]


def shoot(
    cometric,
    q0: torch.Tensor,
    p0: torch.Tensor,
    steps: int = 10,
    integrator: str = "rk2",
    points: torch.Tensor | None = None,
    create_graph: bool = True,
    should_stop: Callable[[], bool] | None = None,
) -> Trajectory:
    """Integrate from (q0, p0) with ``steps`` steps of ``integrator``; differentiable in p0 if create_graph."""
    if integrator not in _TABLEAUX:
        raise ValueError(f"unknown integrator '{integrator}' (choose from {', '.join(INTEGRATORS)})")
    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}")
    a_rows, weights = _TABLEAUX[integrator]
    dt = 1.0 / steps
    cometric.begin_trajectory()
    state = [q0.clone() if create_graph else q0.detach(), p0 if create_graph else p0.detach(), points]
    if state[2] is not None and not create_graph:
        state[2] = state[2].detach()
    traj = Trajectory([state[0]], [state[1]], [state[2]] if points is not None else None)
    for _ in range(steps):
        if should_stop is not None and should_stop():
            raise ShootingCancelled()
        stages = []
        for stage, a_row in enumerate(((),) + a_rows):
            probe = list(state)
            for coeff, k in zip(a_row, stages, strict=False):
                if coeff:
                    probe = [s + (coeff * dt) * d if s is not None else None for s, d in zip(probe, k, strict=True)]
            stages.append(hamiltonian_field(cometric, *probe, create_graph, stage))
        new_state = []
        for i, s in enumerate(state):
            if s is None:
                new_state.append(None)
                continue
            if len(stages) == 1:  # Euler: one fused operation (on a GPU each operation is a kernel launch)
                new_state.append(torch.add(s, stages[0][i], alpha=dt))
                continue
            incr = sum(w * k[i] for w, k in zip(weights, stages, strict=True))
            new_state.append(s + dt * incr)
        if not create_graph:
            new_state = [s.detach() if s is not None else None for s in new_state]
        elif should_stop is not None and new_state[1].requires_grad:
            new_state[1].register_hook(_stop_check(should_stop))  # the backward pass too stops at each step
        state = new_state
        traj.q.append(state[0])
        traj.p.append(state[1])
        if traj.x is not None:
            traj.x.append(state[2])
    return traj


def _stop_check(should_stop: Callable[[], bool]):
    """A gradient hook that raises ShootingCancelled once ``should_stop()``: the backward pass of a large shooting
    takes seconds per step, and a Stop then need not wait for its end."""

    def check(gradient):
        if should_stop():
            raise ShootingCancelled()
        return gradient

    return check
