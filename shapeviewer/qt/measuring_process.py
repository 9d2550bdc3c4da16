"""One separate process that measures surface distances frame after frame, so that libigl, which holds the
GIL throughout, never pauses the GUI thread (building a 200k-vertex frame's tree alone took 0.5 s of it on
a thread), and each query uses every core (a thread had to query in slices to let the GUI in: twice slower).

Started on first use (spawned: a fresh interpreter, no Qt; about a second, once), one job at a time; the
target's index stays in the process while the target is the same. ``close`` ends it without waiting for a
measurement under way (the app's exit must not wait for seconds of distances nobody will see).
As with any spawned process, a script that starts the app itself must do so under
``if __name__ == "__main__":`` (the ``shapeviewer`` command and ``python -m shapeviewer`` do).
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
import threading
import time
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

import numpy as np

from ..core.surface_distance import measure_both_ways

PROCESS_ENDED = "the process measuring surface distances ended unexpectedly (out of memory?); a new one starts"


def ended_unexpectedly(exc: BaseException) -> bool:
    """Whether a job's exception says its process died (then ``close`` it: the next job starts a new one)."""
    return isinstance(exc, BrokenProcessPool)


PARENT_POLL_SECONDS = 1.0


def exit_with_parent(parent: int) -> None:
    """In the measuring process: end it once the app's process is gone (killed, or ended without ``close``),
    which a pool's worker would not notice, living on and holding the app's output pipes open."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_POLL_SECONDS)
        os._exit(0)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


class MeasuringProcess:
    def __init__(self):
        self._executor: ProcessPoolExecutor | None = None
        self._tokens = itertools.count(1)
        self._target, self._token = None, 0  # the last target sent, and its token

    def submit(self, points: np.ndarray, source_faces: np.ndarray, target) -> Future:
        """Both directions between the source at ``points`` and ``target`` (a Mesh) -> SurfaceDistances."""
        if self._target is not target:
            self._target, self._token = target, next(self._tokens)
        if self._executor is None:
            self._executor = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                                                 initializer=exit_with_parent, initargs=(os.getpid(),))  # fmt: skip
        args = (np.asarray(points), source_faces, target.vertices, target.faces, self._token)
        try:
            return self._executor.submit(measure_both_ways, *args)
        except BrokenProcessPool:  # it died since the last job: a new one
            self.close()
            return self.submit(points, source_faces, target)

    def close(self) -> None:
        executor, self._executor = self._executor, None
        if executor is None:
            return
        processes = list((getattr(executor, "_processes", None) or {}).values())  # CPython's executor keeps them
        executor.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            if process.is_alive():
                process.terminate()
