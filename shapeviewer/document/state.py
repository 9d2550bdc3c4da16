"""The app's document: everything a session holds, Qt-free, observed through psygnal signals.

Widgets never keep their own copy of the truth: they change the document through its methods and
redraw when it says so (napari's models follow the same pattern). One method writes each part; the
geodesic shown (``result``) has exactly one writer, :meth:`Document.set_result`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from psygnal import Signal

from ..core.alignment import RigidTransform
from ..core.errors import InputError
from ..core.registration import RegistrationSettings, Report
from ..io.meshes import Mesh
from .history import LossHistory
from .landmarks import LandmarkPairs

ROLES = ("source", "target")


@dataclass
class Result:
    """A geodesic with what produced it. ``control_index``: the source vertices carrying the momenta
    (None: every vertex); ``info``: what the run used (backend, device, kernel, levels...)."""

    report: Report
    control_index: np.ndarray | None = None
    info: dict = field(default_factory=dict)

    @property
    def trajectory(self) -> np.ndarray:
        return self.report.trajectory

    @property
    def n_frames(self) -> int:
        return len(self.report.trajectory)

    def landmark_errors(self, current=None) -> dict[str, float]:
        """label -> |phi_1(l) - l'| at the end of the geodesic, for the landmarks paired when it ran; with
        ``current`` (LandmarkPairs), only those still where the run had them (an edited one has no error yet)."""
        marks, labels = self.report.landmark_trajectory, self.info.get("landmark_labels")
        target = self.info.get("target_landmarks")
        if marks is None or labels is None or target is None:
            return {}
        target = np.asarray(target, dtype=np.float64)
        err = np.linalg.norm(np.asarray(marks)[-1] - target, axis=1)
        out = dict(zip(labels, (float(e) for e in err), strict=True))
        if current is None:
            return out
        source = self.info.get("source_landmarks")
        kept = {}
        for i, label in enumerate(labels):
            src, tgt = current.points["source"].get(label), current.points["target"].get(label)
            same_target = tgt is not None and np.array_equal(tgt, target[i])
            same_source = src is not None and (source is None or np.array_equal(src, np.asarray(source[i])))
            if same_source and same_target:
                kept[label] = out[label]
        return kept

    def control_points(self, frame: int) -> np.ndarray:
        """Where the control points are at ``frame`` (they move with the flow)."""
        points = self.report.trajectory[frame]
        return points if self.control_index is None else points[self.control_index]


@dataclass
class _BeforeRun:
    """What a run replaces: put back when it ends before its first iteration."""

    result: Result | None
    history: LossHistory
    run_info: dict
    control_index: np.ndarray | None
    frame: int
    modified: bool


class Document:
    meshes_changed = Signal(str)  # role
    settings_changed = Signal()
    mask_changed = Signal()
    run_changed = Signal(bool)  # running
    history_changed = Signal()
    result_changed = Signal()  # a new geodesic, or none
    frame_changed = Signal(int)
    camera_changed = Signal()
    modified_changed = Signal(bool)
    alignment_changed = Signal()

    def __init__(self) -> None:
        self.meshes: dict[str, Mesh] = {}
        self.paths: dict[str, Path] = {}
        self.settings = RegistrationSettings()
        self.mask: np.ndarray | None = None  # per source vertex; None means uniform
        self.result: Result | None = None
        self.history = LossHistory()
        self.run_info: dict = {}  # what the current (or last) run uses, from Registration.describe()
        self.control_index: np.ndarray | None = None  # of the current run
        self.running = False
        self.frame = 0
        self.camera: list | None = None  # result view: position, focal point, view up
        self.modified = False
        self.landmarks = LandmarkPairs()  # placed on the input meshes, in their own coordinates
        self.landmarks.changed.connect(lambda _role: self.set_modified(True))
        self.alignment: RigidTransform | None = None  # moves the source before the registration
        self.before_run: _BeforeRun | None = None  # what the current run replaces

    def mute(self) -> None:
        """From now on no observer hears of a change (the window showing this document has closed; late
        answers from worker threads may still write into it)."""
        for signal in (self.meshes_changed, self.settings_changed, self.mask_changed, self.run_changed,
                       self.history_changed, self.result_changed, self.frame_changed, self.camera_changed,
                       self.modified_changed, self.alignment_changed, self.landmarks.changed):  # fmt: skip
            signal.block()

    # ---- inputs ---------------------------------------------------------------------------------
    @property
    def ready(self) -> bool:
        return all(role in self.meshes for role in ROLES)

    def set_mesh(self, role: str, mesh: Mesh, path: Path | None = None) -> None:
        """A new source or target: any result and history become meaningless and are dropped."""
        if role not in ROLES:
            raise ValueError(f"unknown mesh role {role!r}")
        self.meshes[role] = mesh
        self.paths[role] = Path(path) if path is not None else Path(mesh.name)
        if role == "source":
            self.mask = None
        self.landmarks.forget(role)
        if self.alignment is not None:
            self.alignment = None
            self.alignment_changed.emit()
        self.clear_result()
        self.meshes_changed.emit(role)
        self.set_modified(True)

    def set_settings(self, settings: RegistrationSettings) -> None:
        if settings != self.settings:
            self.settings = settings
            self.settings_changed.emit()
            self.set_modified(True)

    def set_mask(self, weights: np.ndarray | None) -> None:
        source = self.meshes.get("source")
        if weights is not None:
            weights = np.asarray(weights, dtype=np.float64)
            if source is None or weights.shape != (source.n_vertices,):
                raise InputError(f"a mask needs one weight per source vertex, got shape {weights.shape}")
        self.mask = weights
        self.mask_changed.emit()
        self.set_modified(True)

    def mask_for_run(self) -> np.ndarray | None:
        """The mask as the core wants it: None when every weight is 1 (mu = the vertex areas)."""
        if self.mask is None or np.all(self.mask == 1.0):
            return None
        return self.mask.copy()

    def run_problem(self, settings_problem: str = "") -> str:
        """Why Run cannot start, or '' when it can (meshes, settings, then the mask)."""
        if not self.ready:
            return "open a source and a target mesh"
        if settings_problem:
            return settings_problem
        return self.landmark_problem() or self.mask_problem()

    def landmark_problem(self) -> str:
        """With a landmark weight, every landmark needs its partner on the other mesh."""
        if self.settings.landmark_weight <= 0:
            return ""
        problem = self.landmarks.pairing_problem()
        if not problem:
            return ""
        weight = self.settings.landmark_weight
        return f"the landmark weight is {weight:g} but {problem} (place pairs in the Landmarks tab, or set it to 0)"

    def landmarks_for_run(self) -> tuple[list[str], np.ndarray, np.ndarray] | None:
        """The paired labels and (K, 3) source and target landmarks (carried by the flow; in the loss with a
        weight), or None."""
        labels, src, tgt = self.landmarks.pairs()
        return (labels, src, tgt) if labels else None

    def set_alignment(self, alignment: RigidTransform | None) -> None:
        """A new pre-alignment of the source: the geodesic shown was computed without it and goes."""
        if alignment is not None and alignment.is_identity:
            alignment = None
        if alignment == self.alignment:
            return
        self.alignment = alignment
        self.clear_result()
        self.alignment_changed.emit()
        self.set_modified(True)

    def aligned_source(self) -> np.ndarray | None:
        """The source's vertices as the registration starts from them (aligned to the target, if asked)."""
        source = self.meshes.get("source")
        if source is None:
            return None
        return source.vertices if self.alignment is None else self.alignment.apply(source.vertices)

    def mask_problem(self) -> str:
        """A mask that is zero everywhere, or (normalized cometric) one the kernel cannot reach from some
        zero-weight vertices, checked at the vertices farthest from any weight."""
        w = self.mask
        if w is None or "source" not in self.meshes:
            return ""
        if not (w > 0).any():
            return "the weight mask is zero everywhere: paint or fill some weight"
        model = self.settings.model
        if (w > 0).all() or model.cometric != "normalized":
            return ""
        from ..core.kernel_reach import quick_reach_problem
        from ..core.kernels import KernelSpecError, parse_kernel
        from ..core.model import DTYPES

        try:
            kernel = parse_kernel(model.kernel) if model.kernel else None
        except KernelSpecError:
            return ""  # the settings' own problem is reported first
        if kernel is None:
            return ""
        source = self.meshes["source"]
        return quick_reach_problem(kernel, source.vertices, source.faces, w, DTYPES[model.dtype])

    # ---- the run --------------------------------------------------------------------------------
    def begin_run(self) -> None:
        """A run starts: its history starts empty; the previous geodesic stays until a new one arrives, and
        all the run replaces is remembered, for a run that ends with nothing (see :meth:`end_run`)."""
        self.before_run = _BeforeRun(
            self.result, self.history, self.run_info, self.control_index, self.frame, self.modified
        )
        self.running = True
        self.run_info, self.control_index = {}, None
        self.history = LossHistory()
        self.history_changed.emit()
        self.run_changed.emit(True)

    @property
    def previous_result(self) -> Result | None:
        """The result shown when the current run began (None: none, or dropped since)."""
        return None if self.before_run is None else self.before_run.result

    def run_started(self, info: dict, control_index: np.ndarray | None) -> None:
        self.run_info, self.control_index = dict(info), control_index

    def record(self, rep: Report) -> None:
        """One iteration's numbers (any level, with or without the full mesh's frames)."""
        self.history.add(rep)
        self.history_changed.emit()

    def set_result(self, rep: Report | None, info: dict | None = None, control_index=None) -> None:
        """Show a geodesic (``rep.trajectory``, T+1 frames of the full source) or none."""
        if rep is None:
            self.result = None
        else:
            if rep.trajectory is None:
                raise ValueError("a result needs the full mesh's trajectory")
            index = self.control_index if control_index is None and info is None else control_index
            self.result = Result(rep, index, dict(self.run_info if info is None else info))
        self.result_changed.emit()
        self.set_frame(self.frame)  # clamped to the new frame count
        self.set_modified(True)

    def end_run(self, gained_nothing: bool = False) -> None:
        """The run is over. ``gained_nothing``: it ended before its first iteration (stopped or failed in the
        set-up or the first iteration): the result, its history and the frame go back to what they were."""
        if gained_nothing and self.before_run is not None:
            self._put_back(self.before_run)
        self.before_run = None
        self.running = False
        self.run_changed.emit(False)

    def _put_back(self, before: _BeforeRun) -> None:
        self.run_info, self.control_index = before.run_info, before.control_index
        self.history = before.history
        self.history_changed.emit()
        if self.result is not before.result:  # the run's start point was shown meanwhile
            self.result = before.result
            self.result_changed.emit()
            self.set_frame(before.frame)
            self.set_modified(before.modified)  # set by that start point only

    def clear_result(self) -> None:
        had = self.result is not None or len(self.history)
        self.before_run = None  # a run ending now has nothing to go back to
        self.result, self.history, self.run_info, self.control_index = None, LossHistory(), {}, None
        self.frame = 0
        if had:
            self.history_changed.emit()
            self.result_changed.emit()

    def restore(self, result: Result, history: LossHistory, frame: int) -> None:
        """A result computed earlier (a reopened session), shown as if its run had just ended."""
        self.run_info, self.control_index = dict(result.info), result.control_index
        self.history = history
        self.history_changed.emit()
        self.result = result
        self.result_changed.emit()
        self.set_frame(frame)

    # ---- view state -----------------------------------------------------------------------------
    @property
    def n_frames(self) -> int:
        return self.result.n_frames if self.result is not None else 1

    def set_frame(self, index: int) -> None:
        index = max(0, min(int(index), self.n_frames - 1))
        if index != self.frame:
            self.frame = index
            self.frame_changed.emit(index)

    def set_camera(self, camera) -> None:
        self.camera = None if camera is None else [[float(x) for x in row] for row in camera]
        self.camera_changed.emit()

    def set_modified(self, modified: bool) -> None:
        if modified != self.modified:
            self.modified = modified
            self.modified_changed.emit(modified)
