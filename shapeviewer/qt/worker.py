"""Runs the core registration generator in a QThread (a QObject worker moved to the thread).

The worker only sends plain numpy arrays and dicts through signals; the GUI thread owns all VTK objects.
Cancellation is cooperative: :meth:`RegistrationRunner.stop` sets a flag that the core checks between
and inside iterations (at every time step of the shooting).
"""

from __future__ import annotations

import os
import sys
import threading
import time
import traceback
import warnings
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot


@dataclass
class RegistrationJob:
    """Everything one run needs, copied so the GUI may change its own state meanwhile."""

    source: tuple[np.ndarray, np.ndarray]
    target: tuple[np.ndarray, np.ndarray]
    settings: object  # core.registration.RegistrationSettings
    mask: np.ndarray | None = None
    landmarks: tuple[list, np.ndarray, np.ndarray] | None = None  # labels, paired (K, 3) source and target points
    alignment: object = None  # core.alignment.RigidTransform applied to the source first, or None
    count_formulas: bool = False  # count the KeOps formulas to compile first (no warm-up compiled them)
    pressed_at: float | None = None  # time.monotonic() of the Run that asked for it (it may wait for a warm-up)


CANCELLED_EARLY = "cancelled during the set-up"  # the details of ``failed`` when Stop came before any state


class RegistrationWorker(QObject):
    started = Signal(dict)  # the set-up actually used: backend, device, kernel, control points...
    report = Signal(object)  # core.registration.Report, numpy only
    finished = Signal(object)  # the final Report (status finished|converged|cancelled|failed)
    described = Signal(dict)  # just before ``finished``: the set-up as it ended (each level's iterations, seconds...)
    failed = Signal(str, str)  # message, traceback
    compiling = Signal(int, int, str)  # KeOps formula k of n (0: not counted), "start" | "end"
    setting_up = Signal(int, int, int)  # a finer level's set-up begins: level, levels, its source's vertices

    def __init__(self, job: RegistrationJob):
        super().__init__()
        self.job = job
        self._stop = threading.Event()

    def request_stop(self) -> None:
        self._stop.set()

    @Slot()
    def run(self) -> None:
        from ..core.keops_compile import compile_notices
        from ..core.warmup import CompileCount

        lower_thread_priority()
        self._thread = threading.current_thread()
        self.compile_count = CompileCount()
        with compile_notices(self._compile_notice):
            self._run()

    def _compile_notice(self, _total: int, phase: str) -> None:
        if threading.current_thread() is not self._thread:
            return  # the background warm-up's compilation (a run may now overlap its end): not this run's
        count = self.compile_count
        k, n = count.start() if phase == "start" else (count.started, count.total)
        self.compiling.emit(k, n, phase)

    def _count_formulas(self) -> None:
        """Before the set-up (which compiles too): how many formulas this run will compile, without compiling."""
        from dataclasses import replace

        from ..core.warmup import formulas_to_compile

        job = self.job
        settings = replace(job.settings, landmark_weight=0.0)  # the landmark term is plain torch
        self.compile_count.expected = formulas_to_compile(job.source, job.target, settings, job.mask) or 0

    def _run(self) -> None:
        from ..core.keops_compile import stop_before_compiling
        from ..core.registration import CancelledBeforeStart, Registration
        from ..core.shooting import ShootingCancelled

        try:
            job = self.job
            if job.count_formulas:
                self._count_formulas()
            labels, src_lm, tgt_lm = job.landmarks if job.landmarks is not None else (None, None, None)
            with stop_before_compiling(self._stop.is_set):  # the set-up compiles too (the target's fidelity term)
                reg = Registration(
                    job.source, job.target, job.settings, job.mask,
                    source_landmarks=src_lm, target_landmarks=tgt_lm, alignment=job.alignment,
                )  # fmt: skip
            info = reg.describe()
            index = reg.model.control_index
            info["control_index"] = None if index is None else index.cpu().numpy()
            info["fidelity_initial"] = reg.fidelity_initial
            if labels is not None:
                info["landmark_labels"] = list(labels)
                info["target_landmarks"] = np.asarray(tgt_lm, dtype=np.float64).tolist()
                info["source_landmarks"] = np.asarray(src_lm, dtype=np.float64).tolist()  # before any alignment
            self.started.emit(info)
            frames = FrameThrottle()
            for rep in reg.run(should_stop=self._stop.is_set, setting_up=self.setting_up.emit):
                if not rep.done and not self._stop.is_set():  # after Stop, no carrying (nor compiling for it)
                    frames.maybe_carry(rep)
                if rep.done:
                    self.described.emit(reg.describe())
                (self.finished if rep.done else self.report).emit(rep)
        except (CancelledBeforeStart, ShootingCancelled) as exc:  # Stop during the set-up: said, not a failure
            self.failed.emit(str(exc), CANCELLED_EARLY)
        except Exception as exc:  # delivered to the GUI as a dialog and a log entry, never lost
            self.failed.emit(_describe(exc), traceback.format_exc())


class FrameThrottle:
    """Coarse levels never shoot the full mesh; carrying it for the live view costs one shooting, so it is
    done at most every FRAME_INTERVAL_S and never for more than a fifth of the worker's time."""

    FRAME_INTERVAL_S = 0.5

    def __init__(self, clock=time.perf_counter):
        self.clock = clock
        self.last, self.cost = -float("inf"), 0.0

    def maybe_carry(self, rep) -> None:
        if rep.trajectory is not None:
            return
        now = self.clock()
        if now - self.last < max(self.FRAME_INTERVAL_S, 4 * self.cost):
            return
        rep.frames()
        self.last = self.clock()
        self.cost = self.last - now


WORKER_NICENESS = 19


def lower_thread_priority() -> None:
    """Let the GUI thread (and the GL rasteriser) win the CPU whenever it needs it.

    Linux: the nice value of this thread only; the OpenMP threads it starts (torch, KeOps) inherit it.
    The computation still gets every core the GUI leaves idle.
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, max(os.getpriority(os.PRIO_PROCESS, tid), WORKER_NICENESS))
    except OSError as exc:  # not permitted in some sandboxes: run at normal priority, say so
        warnings.warn(f"could not lower the registration thread's priority ({exc})", stacklevel=2)


def _describe(exc: Exception) -> str:
    short = getattr(exc, "short", None)  # KernelSpecError
    return short or str(exc) or type(exc).__name__


class RegistrationRunner(QObject):
    """Owns at most one worker thread; forwards its signals; ``idle`` fires once the thread has ended."""

    started = Signal(dict)
    report = Signal(object)
    finished = Signal(object)
    described = Signal(dict)
    failed = Signal(str, str)
    compiling = Signal(int, int, str)
    setting_up = Signal(int, int, int)
    idle = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self._thread: QThread | None = None
        self._worker: RegistrationWorker | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None

    def start(self, job: RegistrationJob) -> None:
        if self.running:
            raise RuntimeError("a registration is already running")
        thread = QThread()
        thread.setObjectName("shapeviewer-registration")
        worker = RegistrationWorker(job)
        worker.moveToThread(thread)
        thread.started.connect(worker.run)
        worker.started.connect(self.started)
        worker.report.connect(self.report)
        worker.finished.connect(self.finished)
        worker.described.connect(self.described)
        worker.failed.connect(self.failed)
        worker.compiling.connect(self.compiling)
        worker.setting_up.connect(self.setting_up)
        # direct: quit() is thread-safe, and a queued call would never arrive while the GUI waits at quit
        worker.finished.connect(thread.quit, Qt.ConnectionType.DirectConnection)
        worker.failed.connect(thread.quit, Qt.ConnectionType.DirectConnection)
        thread.finished.connect(worker.deleteLater)
        # No thread.deleteLater: Python owns the QThread and frees it in _on_thread_finished, after wait()
        thread.finished.connect(self._on_thread_finished)
        self._thread, self._worker = thread, worker
        thread.start()

    def stop(self) -> None:
        if self._worker is not None:
            self._worker.request_stop()

    def wait(self, msecs: int = 10_000) -> bool:
        """Stop and block until the thread has ended (used at quit); True if it did."""
        if self._thread is None:
            return True
        self.stop()
        done = self._thread.wait(msecs)
        if done:
            self._on_thread_finished()
        return done

    @Slot()
    def _on_thread_finished(self) -> None:
        if self._thread is None:
            return
        # ``finished`` is emitted from the thread before it has wound down (thread-local clean-up,
        # OpenMP teams); freeing the QThread before that crashed one run in a few. wait() is then brief.
        self._thread.wait()
        self._thread = self._worker = None
        self.idle.emit()
