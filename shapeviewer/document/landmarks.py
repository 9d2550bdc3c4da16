"""Landmarks placed on the source and the target: labelled surface points, paired by label, with undo.

A label placed by clicking is the smallest number not yet used on that mesh, so that deleting source
landmark 2 and clicking again gives a new "2" that pairs with the target's. Imported files keep their
labels. Every change is one undo step; ``changed`` says which mesh changed.
"""

from __future__ import annotations

import numpy as np
from psygnal import Signal

from ..core.errors import InputError
from ..io.landmarks import Landmarks

ROLES = ("source", "target")
UNDO_DEPTH = 200


def _copy(sets: dict) -> dict:
    return {role: {label: p.copy() for label, p in points.items()} for role, points in sets.items()}


class LandmarkPairs:
    changed = Signal(str)  # role, or "" when both may have changed

    def __init__(self) -> None:
        self.points: dict[str, dict[str, np.ndarray]] = {role: {} for role in ROLES}
        self._undo: list[dict] = []
        self._redo: list[dict] = []

    # ---- reading --------------------------------------------------------------------------------
    def labels(self, role: str) -> list[str]:
        return list(self.points[role])

    def array(self, role: str) -> np.ndarray:
        """(K, 3) the landmarks of ``role`` in their order."""
        pts = list(self.points[role].values())
        return np.array(pts, dtype=np.float64).reshape(-1, 3)

    def count(self, role: str) -> int:
        return len(self.points[role])

    def __bool__(self) -> bool:
        return any(self.points[role] for role in ROLES)

    def paired_labels(self) -> list[str]:
        """Labels on both meshes, in the source's order."""
        return [label for label in self.points["source"] if label in self.points["target"]]

    def unpaired(self) -> dict[str, list[str]]:
        """Labels present on one mesh only."""
        src, tgt = self.points["source"], self.points["target"]
        return {"source": [lb for lb in src if lb not in tgt], "target": [lb for lb in tgt if lb not in src]}

    def pairs(self) -> tuple[list[str], np.ndarray, np.ndarray]:
        """The paired labels and their (K, 3) source and target points."""
        labels = self.paired_labels()
        src = np.array([self.points["source"][lb] for lb in labels], dtype=np.float64).reshape(-1, 3)
        tgt = np.array([self.points["target"][lb] for lb in labels], dtype=np.float64).reshape(-1, 3)
        return labels, src, tgt

    def pairing_problem(self) -> str:
        """Why the landmarks cannot be used as pairs ('' when they can): none, or some without a partner."""
        if not self.paired_labels():
            return "no landmark is placed on both the source and the target"
        lonely = self.unpaired()
        for role, other in (("source", "target"), ("target", "source")):
            if lonely[role]:
                names = ", ".join(lonely[role][:5]) + (" …" if len(lonely[role]) > 5 else "")
                return f"{role} landmark {names} has no partner on the {other} (same label)"
        return ""

    def as_landmarks(self, role: str, name: str = "") -> Landmarks:
        return Landmarks(self.labels(role), self.array(role), name=name or f"{role} landmarks")

    def next_label(self, role: str) -> str:
        n = 1
        while str(n) in self.points[role]:
            n += 1
        return str(n)

    # ---- editing (each call is one undo step) ---------------------------------------------------
    def _checked(self, role: str, point) -> np.ndarray:
        if role not in ROLES:
            raise ValueError(f"unknown mesh role {role!r}")
        p = np.asarray(point, dtype=np.float64).reshape(3)
        if not np.isfinite(p).all():
            raise InputError(f"a landmark needs finite coordinates, got {p.tolist()}")
        return p

    def _remember(self) -> None:
        self._undo.append(_copy(self.points))
        del self._undo[:-UNDO_DEPTH]
        self._redo.clear()

    def add(self, role: str, point, label: str | None = None) -> str:
        p = self._checked(role, point)
        label = self.next_label(role) if label is None else str(label)
        if label in self.points[role]:
            raise InputError(f"{role} landmark {label} exists already")
        self._remember()
        self.points[role][label] = p
        self.changed.emit(role)
        return label

    def move(self, role: str, label: str, point) -> None:
        p = self._checked(role, point)
        if label not in self.points[role]:
            raise InputError(f"there is no {role} landmark {label}")
        self._remember()
        self.points[role][label] = p
        self.changed.emit(role)

    def delete(self, role: str, label: str) -> None:
        if label not in self.points.get(role, {}):
            raise InputError(f"there is no {role} landmark {label}")
        self._remember()
        del self.points[role][label]
        self.changed.emit(role)

    def replace(self, role: str, landmarks: Landmarks | None) -> None:
        """All of ``role``'s landmarks at once (an imported file), or none."""
        if role not in ROLES:
            raise ValueError(f"unknown mesh role {role!r}")
        new: dict[str, np.ndarray] = {}
        if landmarks is not None:
            if len(set(landmarks.labels)) != len(landmarks.labels):
                seen = set()
                dup = next(lb for lb in landmarks.labels if lb in seen or seen.add(lb))
                raise InputError(f"{landmarks.where}: label '{dup}' is used twice")
            new = {lb: p.copy() for lb, p in zip(landmarks.labels, landmarks.points, strict=True)}
        if not self.points[role] and not new:
            return
        self._remember()
        self.points[role] = new
        self.changed.emit(role)

    def clear(self, role: str) -> None:
        self.replace(role, None)

    def forget(self, role: str) -> None:
        """A new mesh for ``role``: its landmarks go, and no undo brings back points of another mesh."""
        changed = bool(self.points[role] or self._undo or self._redo)
        self.points[role] = {}
        self._undo.clear()
        self._redo.clear()
        if changed:  # the undo buttons too
            self.changed.emit(role)

    def restore(self, points: dict[str, dict[str, np.ndarray]]) -> None:
        """A saved state (a session), without undo history."""
        self.points = {role: {str(lb): np.asarray(p, dtype=np.float64) for lb, p in points.get(role, {}).items()}
                       for role in ROLES}  # fmt: skip
        self._undo.clear()
        self._redo.clear()
        self.changed.emit("")

    # ---- undo -----------------------------------------------------------------------------------
    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)

    def undo(self) -> None:
        if self._undo:
            self._redo.append(_copy(self.points))
            self.points = self._undo.pop()
            self.changed.emit("")

    def redo(self) -> None:
        if self._redo:
            self._undo.append(_copy(self.points))
            self.points = self._redo.pop()
            self.changed.emit("")

    # ---- sessions -------------------------------------------------------------------------------
    def to_json(self) -> dict:
        return {role: {lb: [float(x) for x in p] for lb, p in self.points[role].items()} for role in ROLES}

    @staticmethod
    def from_json(data) -> dict[str, dict[str, np.ndarray]]:
        if not isinstance(data, dict):
            raise InputError(f"landmarks must be an object of source/target label -> point, got {type(data).__name__}")
        out = {}
        for role in ROLES:
            part = data.get(role, {})
            if not isinstance(part, dict):
                raise InputError(f"{role} landmarks must map labels to points")
            points = {}
            for label, p in part.items():
                arr = np.asarray(p, dtype=np.float64)
                if arr.shape != (3,) or not np.isfinite(arr).all():
                    raise InputError(f"{role} landmark {label}: {p!r} is not three finite numbers")
                points[str(label)] = arr
            out[role] = points
        return out
