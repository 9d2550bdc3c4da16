"""Drives one registration at a time: starts the worker, throttles its frames into the result view."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal

from .worker import RegistrationJob, RegistrationRunner

APPLY_INTERVAL_MS = 100  # newest report shown at most 10 times a second; older ones are skipped
PLOT_DELAY_MS = 30  # the loss plot redraws this long after a new geodesic, in its own event-loop turn


class RunController(QObject):
    running_changed = Signal(bool)
    status = Signal(str)  # one line for the status bar
    progress = Signal(int, int)  # iteration, maximum
    log = Signal(str)
    error = Signal(str, str, str)  # title, message, details
    frames_shown = Signal(int)  # T+1 after a new trajectory was applied
    result_ready = Signal(object)  # the final Report

    def __init__(self, result_view, loss_plot, parent=None):
        super().__init__(parent)
        self.result_view = result_view
        self.loss_plot = loss_plot
        self.runner = RegistrationRunner(self)
        self.info: dict = {}
        self.pending = None
        self.last = None  # the newest report applied (running or final)
        self.final = None
        self.max_iterations = 0
        self.reports_received = 0
        self.frames_applied = 0
        self.timer = QTimer(self)
        self.timer.setInterval(APPLY_INTERVAL_MS)
        self.timer.timeout.connect(self.apply_pending)
        self.plot_timer = QTimer(self)  # owned here: it cannot fire once the window is gone
        self.plot_timer.setSingleShot(True)
        self.plot_timer.setInterval(PLOT_DELAY_MS)
        self.plot_timer.timeout.connect(self.loss_plot.refresh)
        r = self.runner
        r.started.connect(self._started)
        r.report.connect(self._report)
        r.finished.connect(self._finished)
        r.failed.connect(self._failed)
        r.idle.connect(self._idle)

    @property
    def running(self) -> bool:
        return self.runner.running

    def start(self, job: RegistrationJob) -> None:
        self.info, self.pending, self.final, self.last = {}, None, None, None
        self.reports_received = 0
        self.max_iterations = job.settings.iterations
        self.loss_plot.reset()
        self.runner.start(job)
        self.timer.start()
        self.running_changed.emit(True)
        self.progress.emit(0, self.max_iterations)
        self.status.emit("Setting up the registration (mesh areas, initial fidelity, energy unit)…")
        self.log.emit(f"run: {len(job.source[0])} source vertices -> {len(job.target[0])} target vertices")

    def forget(self) -> None:
        """Drop the last result (new meshes make it meaningless)."""
        self.info, self.pending, self.final, self.last = {}, None, None, None
        self.loss_plot.reset()

    def restore(self, report, info: dict, history: dict) -> None:
        """Show a result that was computed earlier (a reopened session) as if a run had just ended."""
        self.info, self.final, self.pending = dict(info), report, report
        self.loss_plot.reset()
        iterations = history.get("iteration", [])
        self.loss_plot.iterations = list(iterations)
        for name in self.loss_plot.series:
            self.loss_plot.series[name] = list(history.get(name, []))[: len(iterations)]
        self.max_iterations = max(self.max_iterations, report.iteration)
        self.apply_pending()

    def stop(self) -> None:
        if self.running:
            self.runner.stop()
            self.status.emit("Stopping after the current time step…")
            self.log.emit("stop requested")

    def shutdown(self, msecs: int = 10_000) -> bool:
        self.timer.stop()
        self.plot_timer.stop()
        return self.runner.wait(msecs)

    def _started(self, info: dict) -> None:
        self.info = info
        where = f"{info['backend']} on {info['device']} ({info['dtype']})"
        self.log.emit(f"{info['cometric']} {info['kernel']}, {info['control_points']} control points, {where}")
        if info.get("passive_vertices"):
            self.log.emit(f"{info['passive_vertices']} vertices of weight 0 follow the flow passively")
        levels = info.get("levels", [])
        if len(levels) > 1:
            sizes = ", ".join(f"{lv['source_vertices']}" + ("" if lv["run"] else " (skipped)") for lv in levels)
            self.log.emit(f"coarse to fine over {sum(lv['run'] for lv in levels)} levels: {sizes} vertices")
        if info["backend"] == "keops":
            self.status.emit(
                f"First iteration with {where}: KeOps compiles each new formula once "
                "(a few seconds each, cached afterwards)…"
            )
        else:
            self.status.emit(f"First iteration with {where}…")

    def _report(self, rep) -> None:
        self.reports_received += 1
        self.pending = rep
        self.loss_plot.add(rep)

    def _finished(self, rep) -> None:
        self.final = rep
        self.pending = rep
        self.apply_pending()
        drop = self._drop(rep)
        self.log.emit(f"{rep.status}: {rep.message}; fidelity -{drop:.1f}%, {rep.elapsed:.1f} s")
        self.status.emit(
            f"{rep.status.capitalize()}: {rep.message} — iteration {rep.iteration}, "
            f"fidelity -{drop:.1f}%, {rep.elapsed:.1f} s"
        )
        if rep.status == "failed":
            self.error.emit("Registration stopped", rep.message, "")
        self.result_ready.emit(rep)

    def _failed(self, message: str, details: str) -> None:
        self.log.emit(f"error: {message}\n{details}")
        self.status.emit(f"Registration failed: {message}")
        self.error.emit("Registration failed", message, details)

    def _idle(self) -> None:
        self.timer.stop()
        self.apply_pending()
        self.running_changed.emit(False)

    def _drop(self, rep) -> float:
        return 100 * rep.fidelity_drop

    @staticmethod
    def _level(rep) -> str:
        return f"level {rep.level}/{rep.levels}, {rep.level_vertices // 1000}k vertices · " if rep.levels > 1 else ""

    def apply_pending(self) -> None:
        rep, self.pending = self.pending, None
        if rep is None:
            return
        scene = self.result_view.scene
        if rep.trajectory is not None:  # coarse levels' reports may come without the full mesh's frames
            if scene is not None and rep.trajectory.shape[1:] == scene.rest.shape:
                scene.set_trajectory(np.asarray(rep.trajectory))
                self.frames_applied += 1
                self.frames_shown.emit(len(rep.trajectory))
            self.last = rep  # what sessions, exports and the momentum arrows show
        self.plot_timer.start()  # the plot redraws after the 3D paint: two short stalls, not one long
        if not rep.done:
            where = f"{self.info.get('backend', '?')} on {self.info.get('device', '?')}"
            self.status.emit(
                f"{self._level(rep)}Iteration {rep.level_iteration}/{self.max_iterations} · loss {rep.loss:.4g} · "
                f"fidelity -{self._drop(rep):.1f}% · {rep.elapsed:.1f} s · {where}"
            )
            self.progress.emit((rep.level - 1) * self.max_iterations + rep.level_iteration,
                               rep.levels * self.max_iterations)  # fmt: skip
        else:
            total = rep.levels * self.max_iterations
            done = (rep.level - 1) * self.max_iterations + rep.level_iteration
            self.progress.emit(total if rep.status != "cancelled" else done, total)
