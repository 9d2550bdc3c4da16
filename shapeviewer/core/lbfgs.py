"""A compact L-BFGS (two-loop recursion) with a backtracking Armijo/curvature line search.

Written as a stepper so that the caller controls iterations, reporting and cancellation.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

Objective = Callable[[torch.Tensor], tuple[float, torch.Tensor | None]]


class LBFGS:
    def __init__(self, objective: Objective, x0: torch.Tensor, history: int = 20, first_step: float = 0.1):
        """``objective(x) -> (value, gradient)``, value ``inf`` (gradient None) where x is out of reach, e.g.
        a shooting that overflows: the line search then steps back. ``first_step`` bounds the first move
        (max-norm)."""
        self.objective = objective
        self.history = history
        self.first_step = first_step
        self.x = x0.detach().clone()
        self.value, self.grad = objective(self.x)
        if not math.isfinite(self.value):
            raise FloatingPointError("the objective is not finite at the starting point")
        self.failed_trials = 0  # trial points of the last step whose value was not finite
        self.s: list[torch.Tensor] = []
        self.y: list[torch.Tensor] = []
        self.evaluations = 1

    def _direction(self) -> torch.Tensor:
        q = -self.grad.flatten()
        alphas = []
        rhos = [1.0 / float(y @ s) for s, y in zip(self.s, self.y, strict=True)]
        for s, y, rho in reversed(list(zip(self.s, self.y, rhos, strict=True))):
            a = rho * float(s @ q)
            alphas.append(a)
            q = q - a * y
        if self.s:
            s, y = self.s[-1], self.y[-1]
            q = q * (float(s @ y) / float(y @ y))
        for (s, y, rho), a in zip(zip(self.s, self.y, rhos, strict=True), reversed(alphas), strict=True):
            b = rho * float(y @ q)
            q = q + (a - b) * s
        return q.view_as(self.x)

    def step(self) -> bool:
        """One iteration; returns False when no decrease could be found (converged or stuck)."""
        d = self._direction()
        slope = float((self.grad * d).sum())
        if slope >= 0:  # not a descent direction: restart from steepest descent
            self.s.clear(), self.y.clear()
            d, slope = -self.grad, -float((self.grad * self.grad).sum())
        if slope == 0:
            return False
        t = 1.0
        if not self.s:
            t = min(1.0, self.first_step / float(d.abs().max()))
        self.failed_trials = 0
        for _ in range(30):
            x_new = self.x + t * d
            value, grad = self.objective(x_new)
            self.evaluations += 1
            if value <= self.value + 1e-4 * t * slope:
                break
            self.failed_trials += not math.isfinite(value)
            t *= 0.3 if not value <= self.value + 10 * abs(self.value) else 0.5
        else:
            return False
        s, y = (x_new - self.x).flatten(), (grad - self.grad).flatten()
        if float(s @ y) > 1e-12 * float(s @ s) ** 0.5 * float(y @ y) ** 0.5:
            self.s.append(s), self.y.append(y)
            if len(self.s) > self.history:
                self.s.pop(0), self.y.pop(0)
        self.x, self.value, self.grad = x_new, value, grad
        return True
