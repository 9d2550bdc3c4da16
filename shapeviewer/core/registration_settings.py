"""What a registration is asked to do: its model, data term, weights and stopping rule (checked as a whole)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from .fidelity import FIDELITIES
from .model import InputError, ModelSettings


@dataclass
class RegistrationSettings:
    model: ModelSettings = field(default_factory=ModelSettings)
    fidelity: str = "varifold"
    fidelity_scale: float | None = None
    regularization: float = 0.01
    iterations: int = 100  # L-BFGS iterations at most, per level
    levels: int | None = None  # None: auto (one level up to 10k vertices, see core/pyramid.py)
    tolerance: float = 0.01  # a level ends when PATIENCE iterations lower the loss by less than this x its drop so far
    landmark_weight: float = 0.0  # w: the landmark term's weight against the surface term (both 1 at the identity)

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
        if self.levels is not None and self.levels < 1:
            raise InputError(f"levels must be 'auto' or at least 1, got {self.levels}")
        if not (0 <= self.tolerance < 1):
            raise InputError(f"tolerance must lie in [0, 1), got {self.tolerance}")
        if not (self.landmark_weight >= 0 and math.isfinite(self.landmark_weight)):
            raise InputError(f"landmark weight must be a finite number >= 0, got {self.landmark_weight}")


def default_fidelity_scale(size: float) -> float:
    return 0.1 * size
