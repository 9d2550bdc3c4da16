"""Drives one registration at a time: starts the worker and writes its reports into the document.

Every report goes into the loss history at once; the newest geodesic among them is applied at most
every APPLY_INTERVAL_MS (older ones are skipped), so a fast run cannot flood the 3D view.
"""

from __future__ import annotations

import time

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal

from ..core.model import MASK_UNUSED
from ..core.warmup import CompileCount
from ..document.wording import levels_sentence, mismatch_change, passive_words, vertex_count
from .worker import CANCELLED_EARLY, RegistrationJob, RegistrationRunner

APPLY_INTERVAL_MS = 100


class RunController(QObject):
    status = Signal(str)  # one line for the status bar
    progress = Signal(int, int, str)  # done, total (iterations over all levels), a label replacing the count
    log = Signal(str)
    error = Signal(str, str, str)  # title, message, details
    result_ready = Signal(object)  # the final Report

    def __init__(self, doc, parent=None):
        super().__init__(parent)
        self.doc = doc
        self.runner = RegistrationRunner(self)
        self.stop_requested = False
        self.pending = None
        self.final = None  # the final report of the last run
        self.max_iterations = 0
        self.reports_received = 0
        self.frames_applied = 0
        self.pressed_at: float | None = None  # time.monotonic() when the run started: set-up included
        self.closed = False  # its window has closed: late signals from the worker change nothing
        self.timer = QTimer(self)
        self.timer.setInterval(APPLY_INTERVAL_MS)
        self.timer.timeout.connect(self.apply_pending)
        r = self.runner
        for signal, slot in (
            (r.started, self._started),
            (r.report, self._report),
            (r.described, self._described),
            (r.finished, self._finished),
            (r.failed, self._failed),
            (r.idle, self._idle),
            (r.compiling, self._compiling),
            (r.setting_up, self._setting_up),
        ):
            signal.connect(self._unless_closed(slot))

    def _unless_closed(self, slot):
        """The worker's signals are queued: some arrive after the window (and its 3D views) has closed."""

        def call(*args):
            if not self.closed:
                slot(*args)

        return call

    @property
    def running(self) -> bool:
        return self.runner.running

    @property
    def last(self):
        """The report whose geodesic is shown (running or final), or None."""
        return None if self.doc.result is None else self.doc.result.report

    def start(self, job: RegistrationJob) -> None:
        self.pending, self.final, self.stop_requested = None, None, False
        self.reports_received = 0
        self.pressed_at = job.pressed_at or time.monotonic()  # a run queued behind a warm-up counts its wait
        self.max_iterations = job.settings.iterations
        self.doc.begin_run()
        self.runner.start(job)
        self.timer.start()
        self.progress.emit(0, 0, "setting up")
        self.status.emit("Setting up the registration (mesh areas, initial fidelity, energy unit)…")
        self.log.emit(f"run: {len(job.source[0])} source vertices -> {len(job.target[0])} target vertices")

    def stop(self) -> None:
        if self.running:
            self.stop_requested = True
            self.runner.stop()
            self.status.emit("Stopping after the current time step…")
            self.log.emit("stop requested")

    def shutdown(self, msecs: int = 10_000) -> bool:
        """Stops the run for a closing window; False (and nothing closed) when it did not stop in time."""
        self.timer.stop()
        self.closed = self.runner.wait(msecs)
        return self.closed

    def _started(self, info: dict) -> None:
        control_index = info.pop("control_index", None)
        self.doc.run_started(info, control_index)
        where = f"{info['backend']} on {info['device']} ({info['dtype']})"
        self.log.emit(f"{info['cometric']} {info['kernel']}, {info['control_points']} control points, {where}")
        if info.get("passive_vertices"):
            self.log.emit(passive_words(info["passive_vertices"]))
        if info.get("mask_unused"):
            self.log.emit(MASK_UNUSED)
        levels = info.get("levels", [])
        if len(levels) > 1:
            self.log.emit(levels_sentence([(lv["source_vertices"], lv["run"]) for lv in levels]))
        self.progress.emit(0, self._total(), "")
        self.status.emit(f"First iteration with {where}…")

    def _setting_up(self, level: int, levels: int, vertices: int) -> None:
        """Between two levels: the finer one's meshes and data term are being built (no report comes meanwhile)."""
        self.apply_pending()  # the coarser level's last state first, then this line over its status
        self.status.emit(f"level {level}/{levels}, {vertex_count(vertices)} vertices · setting up (its meshes and "
                         "data term)…")  # fmt: skip
        self.log.emit(f"setting up level {level}/{levels} ({vertices} vertices)")

    def _compiling(self, k: int, n: int, phase: str) -> None:
        """Said only when KeOps really compiles (the first use of a formula on this machine); n from a census."""
        words = CompileCount.words(k, n)
        if phase == "start":
            self.status.emit(
                f"Compiling KeOps {words} for this machine (a few seconds each, only the first time; "
                "later runs reuse them)…"
            )
            self.progress.emit(k - 1, n, f"compiling {words}")
            self.log.emit(f"KeOps: compiling {words}")
        else:
            self.progress.emit(k, n, f"compiled {words}")

    def _total(self) -> int:
        levels = [lv for lv in self.doc.run_info.get("levels", []) if lv.get("run", True)]
        return max(len(levels), 1) * self.max_iterations

    def _report(self, rep) -> None:
        self.reports_received += 1
        starts = self.doc.history.level_starts
        new_level = rep.levels > 1 and bool(starts) and starts[-1].level != rep.level
        self.pending = rep
        self.doc.record(rep)
        if new_level:  # said at once, however fast the levels go by
            self.status.emit(self._running_status(rep))

    def _described(self, info: dict) -> None:
        """The set-up as the run ended (each level's iterations and seconds, the solver's counts), before its
        result is kept with it."""
        self.doc.run_info.update(info)

    def _finished(self, rep) -> None:
        self.final = rep
        if self._ended_before_first_iteration():  # its start point is not worth the result it would replace
            self.pending = None
            failure = rep.message.partition("; keeping")[0] if rep.status == "failed" else ""  # nothing is kept
            self._said_nothing_gained(failure, "Registration stopped")
            return
        self.pending = rep
        self.apply_pending()
        mismatch = f"mismatch {mismatch_change(1 - rep.fidelity_drop)}"
        shown = self.last
        said = shown is None or f" {shown.iteration} iteration" in rep.message  # "done after 12 iterations"
        at = "" if said else f" — iteration {shown.iteration}"
        seconds = self._seconds(rep)
        self.log.emit(f"{rep.status}: {rep.message}; {mismatch}, {seconds:.1f} s ({rep.elapsed:.1f} s optimising)")
        warning = self._credibility(rep)
        if warning:
            self.log.emit(f"warning: the result may not be credible: {warning}")
        doubt = f" — may not be credible: {warning}" if warning else ""
        self.status.emit(f"{rep.status.capitalize()}: {rep.message}{at}, {mismatch}, {seconds:.1f} s{doubt}")
        if rep.status == "failed":
            self.error.emit("Registration stopped", rep.message, "")
        self.result_ready.emit(rep)

    def _credibility(self, rep) -> str:
        """As 'register' says it (document.credibility), in the app's words; '' for a run stopped or failed."""
        result = self.doc.result
        if rep.status not in ("finished", "converged") or result is None or result.report is not rep:
            return ""
        from ..document.credibility import MIN_FIDELITY_DROP, credibility_of

        start, deformed = result.trajectory[0], result.trajectory[-1]
        target = self.doc.meshes["target"]
        rms = None
        if rep.fidelity_drop < MIN_FIDELITY_DROP:  # only then is closeness asked: no index of a large target else
            from scipy.spatial import cKDTree

            gaps = cKDTree(target.vertices).query(deformed)[0]  # vertex to vertex: above the distance to the surface
            rms = float(np.sqrt((gaps**2).mean()))
        alignment = None if self.doc.alignment is None else self.doc.alignment.kind
        return credibility_of(start, deformed, self.doc.meshes["source"].faces, (target.vertices, target.faces),
                              rep.status, rep.fidelity_drop, rms, alignment, "app")  # fmt: skip

    def _failed(self, message: str, details: str) -> None:
        if self.stop_requested and details.startswith(CANCELLED_EARLY):  # Stop pressed during the set-up
            self._said_nothing_gained()
            return
        if self._ended_before_first_iteration():
            self._said_nothing_gained(message, "Registration failed", details)
            return
        self.status.emit(f"Registration failed: {message}")
        self.error.emit("Registration failed", message, details)

    def _ended_before_first_iteration(self) -> bool:
        """Stopped or failed before any L-BFGS iteration (in the set-up or the first iteration): nothing gained."""
        if self.final is not None and self.final.status not in ("cancelled", "failed"):
            return False
        return not any(self.doc.history.iterations)  # none, or iteration 0 (the start point) only

    def _said_nothing_gained(self, failure: str = "", title: str = "", details: str = "") -> None:
        """A run that ended before its first iteration: the error (if any), then what is kept."""
        kept = "the previous result is kept" if self.doc.previous_result is not None else "there is no result to keep"
        if failure:
            self.error.emit(title, failure, details)
            self.status.emit(f"{title} before the first iteration: {' '.join(failure.split())}; {kept}")
        else:
            self.status.emit(f"Stopped before the first iteration; {kept}")
        self.log.emit(f"ended before the first iteration; {kept}")

    def _idle(self) -> None:
        self.timer.stop()
        nothing_gained = self._ended_before_first_iteration()
        if nothing_gained:
            self.pending = None
        self.apply_pending()
        history = self.doc.history
        done = self.final.iteration if self.final is not None else (history.iterations[-1] if len(history) else 0)
        outcome = self.final.status if self.final is not None else ("cancelled" if self.stop_requested else "failed")
        self.doc.end_run(gained_nothing=nothing_gained)
        kept = self.doc.result.report if nothing_gained and self.doc.result is not None else None
        if kept is not None:  # the strip speaks of the result on screen, not of the run that gained nothing
            outcome, done = f"kept, {kept.status}", kept.iteration
        self.progress.emit(done, max(done, 1), f"{outcome}: {done} iteration{'' if done == 1 else 's'}")

    def _seconds(self, rep) -> float:
        """Seconds since the run started, its set-up included (a report's ``elapsed`` starts after the set-up,
        which takes seconds for a large mesh: its pyramid, the first level's data term)."""
        since = 0.0 if self.pressed_at is None else time.monotonic() - self.pressed_at
        return max(since, rep.elapsed)

    @staticmethod
    def _level(rep) -> str:
        if rep.levels <= 1:
            return ""
        return f"level {rep.level}/{rep.levels}, {vertex_count(rep.level_vertices)} vertices · "

    def _running_status(self, rep) -> str:
        where = f"{self.doc.run_info.get('backend', '?')} on {self.doc.run_info.get('device', '?')}"
        # L-BFGS has no curvature yet: its first line search tries several steps (often 3-5x a later iteration)
        first = " · finding the first step, the slowest iteration" if rep.level_iteration == 0 else ""
        return (
            f"{self._level(rep)}Iteration {rep.level_iteration}/{self.max_iterations} · loss {rep.loss:.4g} · "
            f"mismatch {mismatch_change(1 - rep.fidelity_drop)} · {self._seconds(rep):.1f} s · {where}{first}"
        )

    def _start_point_over_previous(self, rep) -> bool:
        """The run's start point (iteration 0) is no news: the previous result stays until iteration 1."""
        return rep.iteration == 0 and not rep.done and self.doc.previous_result is not None

    def apply_pending(self) -> None:
        rep, self.pending = self.pending, None
        if rep is None:
            return
        rest = self.doc.meshes["source"].vertices.shape
        has_frames = rep.trajectory is not None and rep.trajectory.shape[1:] == rest  # coarse levels may lack them
        if has_frames and not self._start_point_over_previous(rep):
            self.doc.set_result(rep)
            self.frames_applied += 1
        if not rep.done:
            self.status.emit(self._running_status(rep))
            self.progress.emit((rep.level - 1) * self.max_iterations + rep.level_iteration, self._total(), "")
