"""Registration by geodesic shooting, coarse to fine: on each level l of the plan, minimise
``gamma * H(q0, p0) / H_unit + D(phi_1(S_l), T_l) / D(S_l, T_l) + w * L(phi_1(l)) / L_unit``.

``H_unit`` is the energy of translating the source by its own size and each level's data term is
measured against its own initial value, so ``gamma`` is scale-free: gamma = 0.01 means such a
translation weighs 1% of the initial mismatch. The momenta p0 live on the same control points at every
level (see :mod:`.levels`), so each level starts where the previous one ended. A level ends when the
loss (1 at the identity) has dropped over PATIENCE iterations by less than ``tolerance`` times its drop
since the identity, or after ``iterations``.

:meth:`Registration.run` is a generator yielding one :class:`Report` per L-BFGS iteration; the CLI, the
GUI worker and the tests all drive it. It never sleeps and knows nothing of Qt.

Optional landmarks l_i (source) and l'_i (target) are carried by the flow with the mesh; the landmark term
is ``L = sum_i |phi_1(l_i) - l'_i|^2`` over ``L_unit``, its value at the identity (at least K x (LANDMARK_FLOOR x
size)^2, so landmarks that already coincide do not divide by zero), weighted by ``w = landmark_weight``:
w = 1 weighs the landmark mismatch as much as the surface mismatch. An optional rigid or similarity
``alignment`` (:mod:`.alignment`) moves the source (and its landmarks) first: every frame, the momenta and
the landmark trajectory are then in the target's frame, and ``alignment.inverse()`` gives back the
original source's coordinates.
"""

from __future__ import annotations

import contextlib
import math
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import torch

from .alignment import RigidTransform
from .backends import raised_by_keops
from .dense_fallback import dense_fallback_check
from .fidelity import Fidelity, LandmarkTerm, check_vertex_correspondence
from .keops_compile import stop_before_compiling
from .lbfgs import LBFGS
from .levels import LevelPlan, plan_levels
from .model import DTYPES, DeformationModel, InputError
from .registration_settings import RegistrationSettings, default_fidelity_scale
from .shooting import ShootingCancelled
from .stopping import PATIENCE, stalled


@dataclass
class Report:
    """One L-BFGS iteration (or the final state when ``status`` is not 'running').

    trajectory: (T+1, N, 3) the deformed full mesh in the source's coordinates, or None until
    :meth:`frames` carries it (coarse levels do not shoot the full mesh); momenta: (n, 3).
    ``iteration`` counts over the whole run, ``level`` (1-based) of ``levels`` run.
    """

    iteration: int
    loss: float
    fidelity: float
    energy: float
    elapsed: float
    trajectory: np.ndarray | None
    momenta: np.ndarray
    status: str = "running"  # running | finished | converged | cancelled | failed
    message: str = ""
    level: int = 1
    levels: int = 1
    level_vertices: int = 0
    fidelity_initial: float = 0.0  # of this level's meshes, at the identity
    level_iteration: int = 0
    _carry: Callable[[], np.ndarray] | None = field(default=None, repr=False, compare=False)
    landmark_trajectory: np.ndarray | None = None  # (T+1, K, 3) the source landmarks along the geodesic
    landmark_distance: float = 0.0  # L = sum_i |phi_1(l_i) - l'_i|^2 (0 without landmarks)
    landmark_term: float = 0.0  # w L / L_unit: the landmarks' share of the loss

    @property
    def done(self) -> bool:
        return self.status != "running"

    @property
    def fidelity_drop(self) -> float:
        """1 - D / D_initial on this report's level."""
        return 1.0 - self.fidelity / self.fidelity_initial if self.fidelity_initial > 0 else 0.0

    def frames(self) -> np.ndarray:
        """The full-resolution trajectory, carried along the flow on first request."""
        if self.trajectory is None and self._carry is not None:
            self.trajectory, self._carry = self._carry(), None
        return self.trajectory


class CancelledBeforeStart(RuntimeError):
    """Stopped during the set-up: there is no state to keep."""


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
    level: int
    points: list | None  # the full mesh along the geodesic, when the level is the full mesh
    landmarks: list | None = None  # the source landmarks along the geodesic
    landmark_distance: float = 0.0


class _Level:
    """A level being optimised: its carried source vertices, its data term and that term at rest."""

    def __init__(self, plan: LevelPlan, model: DeformationModel, kind: str, backend: str, should_stop=None):
        """``should_stop()``, seen between the set-up's reductions (seconds each on a large level), raises
        ShootingCancelled."""
        self.plan = plan
        self.points = None if plan.is_full else model.to_internal(plan.source.vertices)
        faces = torch.as_tensor(plan.source.faces, device=model.device)
        target = model.to_internal(plan.target.vertices)
        target_faces = torch.as_tensor(plan.target.faces, device=model.device)
        self.fidelity = Fidelity(kind, faces, target, target_faces, plan.fidelity_scale, backend)
        if should_stop is not None and should_stop():
            raise ShootingCancelled()
        with torch.no_grad():
            rest = model.vertices if self.points is None else self.points
            self.initial = float(self.fidelity(rest, should_stop))
        if self.initial <= self.fidelity.rounding_level():  # already matching: dividing by rounding noise blows up
            self.initial = 0.0
        self.unit = self.initial if self.initial > 0 else 1.0
        self.iterations, self.seconds, self.final = 0, 0.0, self.initial

    def describe(self) -> dict:
        info = self.plan.describe()
        info.update(iterations=self.iterations, seconds=round(self.seconds, 3), fidelity_initial=self.initial,
                    fidelity_final=self.final)  # fmt: skip
        return info


def checked_landmarks(source_landmarks, target_landmarks, weight: float) -> tuple[np.ndarray, np.ndarray] | None:
    """Paired (K, 3) float64 landmark arrays, or None when there are none; InputError for anything else."""
    if source_landmarks is None and target_landmarks is None:
        if weight > 0:
            raise InputError("a landmark weight needs landmarks on the source and on the target")
        return None
    if source_landmarks is None or target_landmarks is None:
        raise InputError("landmarks are needed on both the source and the target")
    src, tgt = (np.asarray(x, dtype=np.float64) for x in (source_landmarks, target_landmarks))
    if src.ndim != 2 or src.shape[1:] != (3,) or tgt.ndim != 2 or tgt.shape[1:] != (3,) or len(src) == 0:
        raise InputError(f"landmarks must be (K, 3) arrays with K >= 1, got {src.shape} and {tgt.shape}")
    if len(src) != len(tgt):
        raise InputError(f"{len(src)} source landmarks and {len(tgt)} target landmarks: they pair one to one")
    if not (np.isfinite(src).all() and np.isfinite(tgt).all()):
        raise InputError("landmarks contain non-finite coordinates (NaN or Inf)")
    return src, tgt


class Registration:
    """Source/target set-up; :meth:`run` is the per-iteration generator."""

    def __init__(
        self,
        source,
        target,
        settings: RegistrationSettings,
        mask=None,
        initial_momenta=None,
        *,
        source_landmarks=None,
        target_landmarks=None,
        alignment: RigidTransform | None = None,
    ):
        """``source``/``target``: (vertices (N, 3), faces (M, 3)) numpy pairs. A KeOps failure while setting
        up (a missing compiler, a broken cache) sets up again with dense reductions, where they fit.

        ``source_landmarks``/``target_landmarks``: (K, 3) paired points (the source's in its original frame),
        carried by the flow and, with ``settings.landmark_weight`` > 0, in the loss. ``alignment``: applied to
        the source and its landmarks before anything else; the results are in the target's frame.
        """
        if alignment is not None and not isinstance(alignment, RigidTransform):
            raise InputError(f"alignment must be a RigidTransform, got {type(alignment).__name__}")
        self.alignment = alignment
        pairs = checked_landmarks(source_landmarks, target_landmarks, settings.landmark_weight)
        if alignment is not None:
            source = (alignment.apply(source[0]), source[1])
            if pairs is not None:
                pairs = (alignment.apply(pairs[0]), pairs[1])
        try:
            self._prepare(source, target, settings, mask, initial_momenta, pairs)
        except (KeyboardInterrupt, MemoryError, ShootingCancelled):  # a stop inside KeOps is no KeOps failure
            raise
        except Exception as exc:
            if not raised_by_keops(exc):
                raise
            n = len(source[0])
            steps, dtype = settings.model.steps, DTYPES[settings.model.dtype]
            reason = dense_fallback_check(exc, n, settings.model.control_count(n), len(source[1]), steps, dtype)
            warnings.warn(f"KeOps failed ({reason}); using dense torch reductions", stacklevel=2)
            self._prepare(source, target, settings, mask, initial_momenta, pairs)
            self.backend_fallback = reason

    def _prepare(self, source, target, settings: RegistrationSettings, mask, initial_momenta, pairs) -> None:
        settings.validate()
        self.settings = settings
        self.model = DeformationModel(source[0], source[1], mask, settings.model)
        m = self.model
        self.landmarks = None if pairs is None else LandmarkTerm(*(m.to_internal(x) for x in pairs), m.size)
        landmarks = settings.fidelity == "landmarks"
        if landmarks:
            check_vertex_correspondence((m.vertices, source[1]), target)
        self.fidelity_scale = None if landmarks else settings.fidelity_scale or default_fidelity_scale(m.size)
        self.plans = plan_levels(source, target, settings.levels, self.fidelity_scale)
        self.to_run = [p for p in self.plans if p.run]
        self.backend_fallback: str | None = None  # why KeOps was given up during the run
        self._levels: list[_Level] = [self._set_up(self.to_run[0])]
        with torch.no_grad():
            ref = self._reference_momenta()
            self.energy_unit = float(m.hamiltonian(ref))
        self.momentum_scale = float(ref.norm(dim=1).mean())
        self.z = (
            torch.zeros_like(m.q0)
            if initial_momenta is None
            else m.momenta_tensor(initial_momenta) / self.momentum_scale
        )

    def _set_up(self, plan: LevelPlan, should_stop=None) -> _Level:
        backend = "torch" if self.backend_fallback else self.settings.model.backend
        return _Level(plan, self.model, self.settings.fidelity, backend, should_stop)

    @property
    def level(self) -> _Level:
        """The level being optimised (the first one before :meth:`run`)."""
        return self._levels[-1]

    @property
    def fidelity_initial(self) -> float:
        return self.level.initial

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

    def _shoot(self, p0: torch.Tensor, mesh_points, create_graph: bool, should_stop=None):
        """(mesh along the geodesic, landmarks along it or None): lists of T+1 tensors. ``mesh_points`` as
        :meth:`DeformationModel.shoot` takes them (None: the full mesh); landmarks ride along as extra points."""
        m, lm = self.model, self.landmarks
        if lm is None:
            traj = m.shoot(p0, create_graph=create_graph, should_stop=should_stop, points=mesh_points)
            return traj.points, None
        if mesh_points is None and m.control_index is not None:
            mesh_points = m.vertices
        if mesh_points is None:  # every vertex is a control point: the mesh is q itself
            traj = m.shoot(p0, create_graph=create_graph, should_stop=should_stop, points=lm.source)
            return traj.q, traj.x
        n = len(mesh_points)
        both = torch.cat([mesh_points, lm.source])
        traj = m.shoot(p0, create_graph=create_graph, should_stop=should_stop, points=both)
        return [x[:n] for x in traj.x], [x[n:] for x in traj.x]

    def evaluate(self, z: torch.Tensor, create_graph: bool, should_stop=None):
        """(loss, fidelity, energy, mesh points along the geodesic, landmarks along it or None, landmark
        distance L) on the current level."""
        m, level = self.model, self.level
        p0 = z * self.momentum_scale
        points, marks = self._shoot(p0, level.points, create_graph, should_stop)
        fid = level.fidelity(points[-1], should_stop)
        energy = m.hamiltonian(p0) if create_graph else _no_graph_energy(m, p0)
        gamma = self.settings.regularization
        loss = gamma * energy / self.energy_unit + fid / level.unit
        lm_distance = None
        if marks is not None:
            lm_distance = self.landmarks(marks[-1])
            weight = self.settings.landmark_weight
            if weight > 0:
                loss = loss + weight * lm_distance / self.landmarks.unit
        return loss, fid, energy, points, marks, lm_distance

    def _loss_at_identity(self) -> float:
        """The loss at p0 = 0 on the current level: 1 (its own mismatch), plus w L_0 / L_unit with landmarks."""
        loss = 1.0 if self.level.initial > 0 else 0.0
        if self.landmarks is not None and self.settings.landmark_weight > 0:
            loss += self.settings.landmark_weight * self.landmarks.initial / self.landmarks.unit
        return loss

    def _use_dense(self, exc: Exception) -> None:
        """KeOps failed mid-run: go on with dense torch reductions (one warning), or say why they cannot fit."""
        m = self.model
        faces = max(len(lv.plan.source.faces) for lv in self._levels)
        reason = dense_fallback_check(exc, len(m.vertices), m.n_control, faces, m.settings.steps, m.dtype)
        warnings.warn(f"KeOps failed ({reason}); this run goes on with dense torch reductions", stacklevel=2)
        self.backend_fallback = reason
        m.backend = m.cometric.backend = "torch"
        if hasattr(m.cometric, "solver"):
            m.cometric.solver.backend = "torch"
        for level in self._levels:
            if hasattr(level.fidelity, "backend"):
                level.fidelity.backend = "torch"

    def full_trajectory(self, z: torch.Tensor, should_stop=None) -> np.ndarray:
        """(T+1, N, 3): the full mesh carried along the geodesic of momenta ``z * momentum_scale``."""
        with torch.no_grad():
            traj = self.model.shoot(z * self.momentum_scale, should_stop=should_stop)
        return np.stack([self.model.to_user(x) for x in traj.points])

    def landmark_errors(self, rep: Report) -> np.ndarray | None:
        """(K,) |phi_1(l_i) - l'_i| of a report, in the target's units; None without landmarks."""
        if self.landmarks is None or rep.landmark_trajectory is None:
            return None
        target = self.model.to_user(self.landmarks.target)
        return np.linalg.norm(rep.landmark_trajectory[-1] - target, axis=1)

    def carry(self, points, momenta=None, should_stop=None) -> np.ndarray:
        """(T+1, K, 3): points (K, 3) of the original source's frame carried along the geodesic of ``momenta``
        (a report's; default: the best state so far), in the result's frame: correspondence at every frame."""
        m = self.model
        p = np.asarray(points, dtype=np.float64).reshape(-1, 3)
        if not np.isfinite(p).all():
            raise InputError("points to carry must be finite")
        if self.alignment is not None:
            p = self.alignment.apply(p)
        p0 = self.z * self.momentum_scale if momenta is None else m.momenta_tensor(momenta)
        with torch.no_grad():
            traj = m.shoot(p0, should_stop=should_stop, points=m.to_internal(p))
        return np.stack([m.to_user(x) for x in traj.x])

    def to_original(self, points) -> np.ndarray:
        """Points of the result's frame (the target's) -> the original source's frame (undoes the alignment)."""
        p = np.asarray(points, dtype=np.float64)
        return p if self.alignment is None else self.alignment.inverse().apply(p)

    def run(
        self, should_stop: Callable[[], bool] | None = None, setting_up: Callable[[int, int, int], None] | None = None
    ) -> Iterator[Report]:
        """Yield a report per iteration, then a final report (status != 'running') with the best state.
        ``setting_up(level, levels, vertices)`` hears when a finer level's set-up begins (seconds on a large mesh,
        with no report meanwhile)."""
        stop = should_stop or (lambda: False)
        start = time.perf_counter()
        best: list[_Evaluation] = []  # the best state of the newest level that has one

        def objective(z: torch.Tensor):
            try:
                return evaluate_with_gradient(z)
            except (KeyboardInterrupt, MemoryError, _Cancelled, ShootingCancelled):
                raise
            except Exception as exc:
                if not raised_by_keops(exc) or self.backend_fallback is not None:
                    raise
                self._use_dense(exc)  # a KeOps compile or load failure, maybe in the backward pass
                return evaluate_with_gradient(z)

        def evaluate_with_gradient(z: torch.Tensor):
            if stop():
                raise _Cancelled()
            with torch.enable_grad():  # also when the caller runs under no_grad
                z = z.detach().requires_grad_(True)
                loss, fid, energy, traj_points, marks, lm_distance = self.evaluate(z, True, stop)
                if not torch.isfinite(loss):
                    return math.inf, None  # the line search steps back
                (grad,) = torch.autograd.grad(loss, z)
            if not torch.isfinite(grad).all():
                return math.inf, None
            level = len(self._levels)
            points = [x.detach() for x in traj_points] if self.level.points is None else None
            ev = _Evaluation(z.detach(), *(float(v.detach()) for v in (loss, fid, energy)), level, points)
            if marks is not None:
                ev.landmarks, ev.landmark_distance = [x.detach() for x in marks], float(lm_distance.detach())
            if not best or best[0].level != level or ev.loss < best[0].loss:
                best[:] = [ev]
            return ev.loss, grad

        def report(ev: _Evaluation, iteration: int, status="running", message="") -> Report:
            level = self._levels[ev.level - 1]
            momenta = (ev.z * self.momentum_scale).cpu().numpy().astype(np.float64)
            trajectory, carry = None, None
            if ev.points is not None:
                trajectory = np.stack([self.model.to_user(x) for x in ev.points])
            else:
                carry = lambda z=ev.z: self.full_trajectory(z)  # noqa: E731
            marks = None if ev.landmarks is None else np.stack([self.model.to_user(x) for x in ev.landmarks])
            term = 0.0 if marks is None else self.settings.landmark_weight * ev.landmark_distance / self.landmarks.unit
            return Report(iteration, ev.loss, ev.fidelity, ev.energy, time.perf_counter() - start, trajectory,
                          momenta, status, message, ev.level, len(self.to_run), level.plan.source.n_vertices,
                          level.initial, level.iterations, carry, marks, ev.landmark_distance, term)  # fmt: skip

        status, message, iteration = "finished", "", 0
        stops = contextlib.ExitStack()  # a first run compiles for seconds per formula: Stop need not wait
        try:
            stops.enter_context(stop_before_compiling(stop))
            for k, plan in enumerate(self.to_run):
                if k > 0:
                    if stop():
                        raise _Cancelled()
                    if setting_up is not None:
                        setting_up(k + 1, len(self.to_run), plan.source.n_vertices)
                    self._levels.append(self._set_up(plan, stop))
                level, level_start = self.level, time.perf_counter()
                try:
                    optimizer = LBFGS(objective, best[0].z if best else self.z)
                except FloatingPointError as exc:
                    raise NonFiniteLoss("the loss or its gradient is not finite at the level's start") from exc
                yield report(best[0], iteration)
                history = [optimizer.value]
                level_status = ""
                if self._loss_at_identity() == 0 and not best[0].z.any():  # any deformation could only add cost
                    level_status = "the source already matches the target (to the precision of the numbers)"
                for _ in range(0 if level_status else self.settings.iterations):
                    if not optimizer.step():
                        if optimizer.failed_trials:
                            raise NonFiniteLoss(
                                f"{optimizer.failed_trials} trial steps gave a non-finite loss (NaN or inf) and none "
                                "decreased it"
                            )
                        level_status = "no further decrease of the loss"
                        break
                    iteration += 1
                    level.iterations += 1
                    level.final, level.seconds = best[0].fidelity, time.perf_counter() - level_start
                    yield report(best[0], iteration)
                    history.append(optimizer.value)
                    if stalled(history, self.settings.tolerance, self._loss_at_identity()):
                        level_status = (
                            f"{PATIENCE} iterations lowered the loss by less than {self.settings.tolerance:g} "
                            "of its drop so far"
                            if history[-1] < self._loss_at_identity()
                            else f"{PATIENCE} iterations did not lower the loss below its value at the start"
                        )
                        break
                level.seconds = time.perf_counter() - level_start
                if level_status:
                    status, message = "converged", level_status
                else:
                    status, message = "finished", f"done after {iteration} iteration{'s' if iteration != 1 else ''}"
        except (_Cancelled, ShootingCancelled):
            status, message = "cancelled", "stopped by the user; keeping the best state so far"
        except (NonFiniteLoss, FloatingPointError) as exc:
            status, message = "failed", f"stopped: {exc}; keeping the best finite state so far"
        except KeyboardInterrupt:
            status, message = "cancelled", "interrupted; keeping the best state so far"
        finally:
            stops.close()  # the final frames are carried whatever the stop
        if not best:
            error = CancelledBeforeStart if status == "cancelled" else RuntimeError
            raise error(f"registration {status} before its first evaluation: {message}")
        self.z = best[0].z.clone()
        final = report(best[0], iteration, status, message)
        final.frames()
        yield final

    def describe(self) -> dict:
        s = self.settings
        info = self.model.describe()
        info.update(
            fidelity=s.fidelity,
            fidelity_scale=self.fidelity_scale,
            fidelity_backend=getattr(self.level.fidelity, "backend", "torch"),
            regularization=s.regularization,
            tolerance=s.tolerance,
            energy_unit=self.energy_unit,
            fidelity_unit=self.level.unit,
            levels=[lv.describe() for lv in self._levels] + [p.describe() for p in self.plans[len(self._levels) :]],
        )
        if self.landmarks is not None:
            info.update(landmark_pairs=len(self.landmarks.source), landmark_weight=s.landmark_weight,
                        landmark_initial=self.landmarks.initial, landmark_unit=self.landmarks.unit)  # fmt: skip
        if self.alignment is not None:
            info["alignment"] = self.alignment.to_json()
        return info


def _no_graph_energy(model: DeformationModel, p0: torch.Tensor) -> torch.Tensor:
    with torch.enable_grad():  # the Sinkhorn solve may need autograd hooks; results are detached
        return model.hamiltonian(p0.detach()).detach()
