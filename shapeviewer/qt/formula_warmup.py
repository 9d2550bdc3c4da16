"""KeOps formulas compiled in the background as soon as meshes and settings are known (core.warmup).

After the settings have been still for SETTLE_MS and the run would use KeOps, a background thread
counts the formulas that will compile (core.keops_census, without compiling), then evaluates the run's
first level once (not when the census is whole and finds nothing to compile), announcing "compiling formula
k of n" with a progress bar. A Run pressed meanwhile stops it and starts at once, unless a formula is being compiled:
then it waits for that one (core.keops_compile lets one thread compile at a time), with a status line that
says so.
"""

from __future__ import annotations

import threading
from dataclasses import replace

from PySide6.QtCore import QObject, QTimer, Signal

from ..core.keops_compile import compile_notices, stop_before_compiling
from ..core.shooting import ShootingCancelled
from ..core.warmup import CompileCount, first_level_census, structure_key, warm_formulas, will_use_keops
from .worker import lower_thread_priority

SETTLE_MS = 1500


class FormulaWarmup(QObject):
    status = Signal(str)
    progress = Signal(int, int, str)  # formulas compiled, of n, a label (as RunController.progress)
    finished = Signal()  # queued from the warm-up thread

    def __init__(self, doc, parent=None):
        super().__init__(parent)
        self.doc = doc
        self.warmed: set = set()  # structures whose warm-up started (never twice)
        self.completed: set = set()  # those whose warm-up ran to its end: a run of theirs compiles nothing new
        self.thread: threading.Thread | None = None
        self.running_key = None  # the structure the running warm-up compiles
        self.compiling = False  # a formula is being compiled by the warm-up now (a Run waits for it)
        self.closed = False  # shut down with its window
        self.stop_flag = threading.Event()
        self.stopped_as_stale = False  # stopped because the settings changed (not for a run or a closing window)
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(SETTLE_MS)
        self.timer.timeout.connect(self.start)
        self.finished.connect(self._ended)
        for signal in (doc.meshes_changed, doc.settings_changed, doc.mask_changed):
            signal.connect(self.schedule)

    @property
    def busy(self) -> bool:
        return self.thread is not None

    def schedule(self, *_) -> None:
        """Warm once the settings have been still for SETTLE_MS; a warm-up for other settings stops first."""
        stale = self.busy and self.running_key is not None and self._current_key() != self.running_key
        if stale and not self.stop_flag.is_set():
            self.stop_flag.set()  # it ends at its next time step or compilation; _ended schedules again
            self.stopped_as_stale = True
            self.status.emit("Settings changed: the background compilation stops after this formula")
        self.timer.start()

    def _current_key(self):
        """structure(), or None where there are no meshes yet or the settings will be refused."""
        try:
            return self.structure() if self.doc.ready else None
        except ValueError:
            return None

    def structure(self):
        """The formula structure of a run started now, or None where it would not use KeOps.
        Raises ValueError for settings the run itself will refuse."""
        doc = self.doc
        src, tgt = doc.meshes["source"], doc.meshes["target"]
        mask = doc.mask_for_run()
        if not will_use_keops(src.n_vertices, max(len(src.faces), len(tgt.faces)), doc.settings):
            return None
        return structure_key(doc.settings, mask is not None and bool((mask == 0).any()), src.n_vertices)

    def run_may_compile(self) -> bool:
        """Whether a run started now may compile formulas no warm-up has (so it counts them first)."""
        key = self._current_key()
        return key is not None and key not in self.completed

    def start(self) -> bool:
        """Warm now if it is worth it (KeOps, a structure not warmed yet, nothing running, not shut down)."""
        doc = self.doc
        if self.closed or self.busy or doc.running or not doc.ready or doc.run_problem():
            return False
        try:
            key = self.structure()
        except ValueError as exc:  # settings the run itself will refuse, with its own message
            self.status.emit(f"No formula warm-up: {exc}")
            return False
        if key is None or key in self.warmed:
            return False
        self.warmed.add(key)
        src, tgt = doc.meshes["source"], doc.meshes["target"]
        # landmarks ride along the shooting as extra points (the same formulas); their term is plain torch
        settings = replace(doc.settings, landmark_weight=0.0)
        job = ((src.vertices.copy(), src.faces.copy()), (tgt.vertices.copy(), tgt.faces.copy()), settings)
        self.stop_flag.clear()
        self.stopped_as_stale = False
        self.running_key = key
        self.thread = threading.Thread(
            target=self._warm, args=(key, *job, doc.mask_for_run()), name="shapeviewer-keops-warmup", daemon=True
        )
        self.thread.start()
        return True

    def _warm(self, key, source, target, settings, mask) -> None:
        lower_thread_priority()
        count = CompileCount()

        def notice(_total: int, phase: str) -> None:
            if threading.current_thread() is not self.thread:
                return  # a compilation of another thread (the influence view's): not this warm-up's
            self.compiling = phase == "start"
            if phase == "start":
                k, n = count.start()
                self.progress.emit(k - 1, n, f"compiling {CompileCount.words(k, n)}")
                self.status.emit(f"Compiling KeOps {CompileCount.words(k, n)} in the background for the coming run…")
            else:
                self.progress.emit(
                    count.started, count.total, f"compiled {CompileCount.words(count.started, count.total)}"
                )

        try:
            census = first_level_census(source, target, settings, mask, self.stop_flag.is_set)
            if self.stop_flag.is_set():  # a Run, new settings or a closing window: not one formula
                raise ShootingCancelled("stopped during the census")
            count.expected = census.to_compile if census is not None else 0
            # nothing to compile, by a whole census: an evaluation would only make a Run pressed now wait
            if census is None or census.to_compile or census.stopped_by:
                # a run waits, or the settings changed: not one formula more (core.keops_compile)
                with compile_notices(notice), stop_before_compiling(self.stop_flag.is_set):
                    warm_formulas(source, target, settings, mask, self.stop_flag.is_set)
            self.completed.add(key)
            if count.started:
                self.progress.emit(count.started, count.started, "KeOps formulas ready")
                self.status.emit(f"KeOps formulas ready ({count.started} compiled in the background)")
        except ShootingCancelled:
            self.progress.emit(0, 0, "")  # no stale "compiling formula k of n" left in the strip
            self.warmed.discard(key)  # cancelled for a run, new settings or a closing window: may warm again later
            if self.stopped_as_stale:  # "stops after this formula" was said: say it has
                self.status.emit("Background compilation stopped for the changed settings")
        except Exception as exc:  # the run will meet the same problem and report it; say it here too
            self.status.emit(f"Background formula warm-up stopped: {type(exc).__name__}: {exc}".splitlines()[0])
        finally:
            self.compiling = False
            self.finished.emit()

    def _ended(self) -> None:
        if self.thread is not None:
            self.thread.join()
            self.thread = None
            self.running_key = None
        if not self.doc.running and not self.closed:
            self.schedule()  # settings changed meanwhile may need other formulas

    def shutdown(self, wait_s: float = 120.0) -> bool:
        """For good (the window closes): no warm-up starts again; a compilation in progress ends first, since
        a cut one would leave a broken cache and a thread still in C++ aborts the process at exit. True when
        the thread has ended."""
        self.closed = True
        self.cancel(wait_s)
        return self.thread is None or not self.thread.is_alive()

    def cancel(self, wait_s: float = 10.0) -> None:
        """Stop the warm-up at its next time step (a compilation in progress completes first) and wait."""
        self.timer.stop()
        self.stop_flag.set()
        if self.thread is not None:
            self.thread.join(wait_s)
