"""Warm starts for the solves of a shooting. The solves of a named sequence (e.g. the field's adjoint solve at
one stage of the integrator, once per time step) come equally spaced in time, and their answers change
smoothly along the trajectory. A solve of a sequence starts from one of two guesses:

- "extrapolated": the sequence's last one to three answers in this trajectory, extrapolated polynomially
  (constant, linear, quadratic) to this solve;
- "corrected": the same, plus the error that the same extrapolation made at this position in the last
  trajectory. Exact if the trajectory has not changed; the better one near the end of an optimisation,
  when the optimiser's steps get small.

It takes the one that came nearer the answer at the sequence's last solve offered both (in this trajectory or
an earlier one), decided on the device (no host read). The first solve of a sequence in a trajectory starts from
the last trajectory's answer. A start may be poor, never wrong: the solvers check it. With the
constant extrapolation, "corrected" is the last trajectory's answer moved by the change that the sequence's
previous solve found. During L-BFGS on benchmarks/gpu_cometric.py's sphere (Euler) the median relative
starting residuals of the backward's z-solves are 0.24 moved and 5e-5 extrapolated, those of the field's
adjoint solves 4e-4 and 1e-6.

Answers are added and subtracted: a positive scaling lambda is kept as log lambda by its caller.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

# coefficients of the latest answers (latest first) that extrapolate them to the next, by order
_EXTRAPOLATION = ((1.0,), (2.0, -1.0), (3.0, -3.0, 1.0))


class _Miss(NamedTuple):
    """What an extrapolation of a sequence's answers missed by at one position."""

    sequence: str
    order: int
    error: torch.Tensor  # answer - extrapolation


class _Offer(NamedTuple):
    """The guesses a solve of a sequence was offered (``correction`` None: the extrapolation alone)."""

    sequence: str
    order: int
    extrapolation: torch.Tensor
    correction: torch.Tensor | None


class WarmStarts:
    """Starts for the solves of one shooting after another: by position in the shooting (answers of the last
    shooting are replaced as this one's come) and by named sequence (see the module's docstring)."""

    def __init__(self):
        self.index = 0  # the position of the next solve
        self.answers: list[torch.Tensor] = []  # this trajectory's up to ``index``, the last one's after
        self._misses: list[_Miss | None] = []  # by position, like ``answers``: a sequence's solve's, else None
        self._positions: dict[str, list[int]] = {}  # each sequence's solves in this trajectory
        # per sequence, at its last solve offered both guesses: whether the plain extrapolation was nearer
        self._extrapolation_won: dict[str, torch.Tensor] = {}  # a bool on the device: never read back
        self._offered: _Offer | None = None  # to the coming solve

    def begin(self) -> None:
        """A new trajectory starts."""
        self.index = 0
        self._positions.clear()
        self._offered = None

    def start(self, like: torch.Tensor, sequence: str | None = None, or_latest: bool = False):
        """The start of the next solve (shaped like ``like``), or None. For a ``sequence`` with answers in this
        trajectory, their extrapolation (or that plus its last miss here); else the last trajectory's answer at
        this position; ``or_latest``: else this trajectory's latest answer (e.g. after a level change)."""
        self._offered = None
        k = self.index
        latest = self._latest_of(sequence, like)
        if latest:
            order = len(latest) - 1
            guess = latest[0] * _EXTRAPOLATION[order][0]
            for c, answer in zip(_EXTRAPOLATION[order][1:], latest[1:], strict=True):
                guess.add_(answer, alpha=c)
            miss = self._misses[k] if k < len(self._misses) else None
            same = miss is not None and (miss.sequence, miss.order) == (sequence, order)
            correction = miss.error if same and miss.error.shape == like.shape else None
            self._offered = _Offer(sequence, order, guess, correction)
            if correction is None:
                return guess
            won = self._extrapolation_won.get(sequence)
            corrected = guess + correction
            return corrected if won is None else torch.where(won, guess, corrected)
        x0 = self.answers[k] if k < len(self.answers) else None
        if x0 is not None and x0.shape == like.shape:
            return x0
        last = self.answers[k - 1] if k > 0 else (self.answers[-1] if self.answers else None)
        return last if or_latest and last is not None and last.shape == like.shape else None

    def keep(self, answer: torch.Tensor, sequence: str | None = None) -> None:
        """The next solve's answer: the start of its position in the next trajectory."""
        k = self.index
        miss = None
        offer = self._offered
        if offer is not None and offer.sequence == sequence:
            miss = _Miss(sequence, offer.order, answer - offer.extrapolation)
            if offer.correction is not None:  # which guess was nearer: decides the sequence's next start
                misses = torch.stack([miss.error, miss.error - offer.correction]).flatten(1)
                distances = torch.linalg.vector_norm(misses, dim=1)
                self._extrapolation_won[sequence] = distances[0] < distances[1]
        self.answers[k : k + 1] = [answer]
        self._misses[k : k + 1] = [miss]
        if sequence is not None:
            self._positions.setdefault(sequence, []).append(k)
        self._offered = None
        self.index = k + 1

    def _latest_of(self, sequence, like) -> list[torch.Tensor]:
        """The sequence's latest answers in this trajectory (up to three, latest first, shaped like ``like``)."""
        latest = []
        for j in reversed(self._positions.get(sequence, [])[-3:] if sequence is not None else []):
            if self.answers[j].shape != like.shape:
                break
            latest.append(self.answers[j])
        return latest
