"""When a level of the registration has converged: the loss has stopped dropping, relative to its drop so far."""

from __future__ import annotations

PATIENCE = 3  # iterations over which the loss must gain at least ``tolerance`` x its drop so far


def stalled(history: list[float], tolerance: float, at_identity: float = 1.0) -> bool:
    """True when the last PATIENCE iterations lowered the loss by at most ``tolerance`` times its drop since
    the identity (``at_identity``: 1 on every level without landmarks, as the mismatch is measured against
    its own initial value). Measured against the drop so far, a run that starts slowly (L-BFGS learning the
    scale: 0.3% per iteration at first, then 5%) is not taken for a converged one; once the loss has dropped
    by 90% it is nearly ``tolerance`` of the initial mismatch, and on a finer level, which starts where the
    coarser ended, the same."""
    if len(history) <= PATIENCE:
        return False
    drop_so_far = max(at_identity - history[-1], 0.0)
    return history[-1 - PATIENCE] - history[-1] <= tolerance * drop_so_far
