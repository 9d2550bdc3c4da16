"""The loss history of a run, one entry per L-BFGS iteration, with the iterations where levels begin."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

# loss = fidelity (relative to its level's start) + energy share + landmark share (0 without landmarks)
SERIES = ("loss", "fidelity", "energy", "landmarks")


@dataclass
class LevelStart:
    iteration: int
    level: int
    vertices: int


@dataclass
class LossHistory:
    iterations: list[int] = field(default_factory=list)
    series: dict[str, list[float]] = field(default_factory=lambda: {name: [] for name in SERIES})
    level_starts: list[LevelStart] = field(default_factory=list)

    def __post_init__(self) -> None:
        for name in SERIES:  # histories written before a series existed: 0 where nothing was counted in it
            self.series.setdefault(name, [0.0] * len(self.iterations))

    def __len__(self) -> int:
        return len(self.iterations)

    def add(self, rep) -> None:
        """One ``core.registration.Report``; the fidelity is relative to its level's initial mismatch."""
        if rep.levels > 1 and (not self.level_starts or self.level_starts[-1].level != rep.level):
            self.level_starts.append(LevelStart(int(rep.iteration), int(rep.level), int(rep.level_vertices)))
        # relative to the level's start; with no mismatch at the start (source = target) nothing is gained
        fidelity = rep.fidelity / rep.fidelity_initial if rep.fidelity_initial > 0 else 1.0
        self.iterations.append(int(rep.iteration))
        self.series["loss"].append(float(rep.loss))
        self.series["fidelity"].append(float(fidelity))
        landmarks = float(rep.landmark_term)
        self.series["energy"].append(float(rep.loss - fidelity - landmarks))
        self.series["landmarks"].append(landmarks)

    def best_index(self) -> int | None:
        """The entry of lowest finite loss on the last level (the one whose state is kept), or None. A level's
        first report repeats the iteration number of the last one before it: the level's entries start at the
        last entry with its starting iteration."""
        first = 0
        if self.level_starts:
            start = self.level_starts[-1].iteration
            before = [i for i, it in enumerate(self.iterations) if it <= start]
            first = 0 if not before else before[-1] + (self.iterations[before[-1]] < start)
        pairs = [(loss, i) for i, loss in enumerate(self.series["loss"][first:], first) if math.isfinite(loss)]
        return min(pairs)[1] if pairs else None

    def best_iteration(self) -> int | None:
        """The iteration of lowest loss on the last level (see :meth:`best_index`)."""
        k = self.best_index()
        return None if k is None else self.iterations[k]

    def as_dict(self) -> dict:
        """The JSON form stored in sessions and summaries."""
        levels = [[s.iteration, s.level, s.vertices] for s in self.level_starts]
        return {"iteration": list(self.iterations), **{k: list(v) for k, v in self.series.items()}, "levels": levels}

    @classmethod
    def from_dict(cls, data: dict) -> LossHistory:
        """Inverse of :meth:`as_dict`; also reads the older names ('fidelity / initial', 'gamma H / H_unit')."""
        old_names = {"fidelity": "fidelity / initial", "energy": "gamma H / H_unit"}
        iterations = [int(i) for i in data.get("iteration", [])]
        n = len(iterations)
        series = {}
        for name in SERIES:
            if name == "landmarks" and name not in data:
                continue  # older than the series: zeros (see __post_init__)
            values = data.get(name, data.get(old_names.get(name, name), []))
            values = [float(v) for v in values][:n]
            series[name] = values + [float("nan")] * (n - len(values))
        starts = [LevelStart(int(i), int(lv), int(v)) for i, lv, v in data.get("levels", [])]
        return cls(iterations, series, starts)
