"""Notices when KeOps compiles a formula for the CPU (a few seconds each, once; cached afterwards).

pykeops compiles a formula's module in ``LoadKeOps_cpp_class.init_phase1`` when its shared library is
not in the cache yet. That method is wrapped so that listeners hear ``(count, "start" | "end")`` around
every real compilation, in the thread that triggers it (the registration's). The GPU path compiles
with NVRTC in well under a second and is not announced.
"""

from __future__ import annotations

import contextlib
import os
import sysconfig
import threading
import warnings
from collections.abc import Callable, Iterator

Listener = Callable[[int, str], None]

_listeners: list[Listener] = []
_lock = threading.Lock()
_compiling = threading.Lock()  # one compilation at a time: a second thread waits, then finds the library built
_compiled = 0
_installed = False


@contextlib.contextmanager
def compile_notices(listener: Listener, first: bool = False) -> Iterator[None]:
    """Call ``listener(k, phase)`` around each formula compiled while the block runs (k counts from 1);
    ``first``: before the listeners already there (one that may raise goes first)."""
    install()
    with _lock:
        _listeners.insert(0 if first else len(_listeners), listener)
    try:
        yield
    finally:
        with _lock:
            _listeners.remove(listener)


@contextlib.contextmanager
def stop_before_compiling(should_stop: Callable[[], bool]) -> Iterator[None]:
    """Raise ShootingCancelled before this thread's next compilation once ``should_stop()`` is true: a stop
    during a first run waits for the formula being compiled (seconds), not for all those left. Nothing is
    half-built, and the other listeners do not hear of a compilation that does not happen."""
    from .shooting import ShootingCancelled

    thread = threading.current_thread()

    def listener(_k: int, phase: str) -> None:
        if phase == "start" and threading.current_thread() is thread and should_stop():
            raise ShootingCancelled("stopped before compiling the next KeOps formula")

    with compile_notices(listener, first=True):
        yield


def compiled_count() -> int:
    """Formulas compiled by this process so far."""
    return _compiled


def _notify(phase: str) -> None:
    with _lock:
        listeners = list(_listeners)
    for listener in listeners:
        listener(_compiled, phase)


def quiet_keops() -> None:
    """KeOps prints its own notices on stdout (a CUDA warning on every CPU machine, compile messages); the
    app and the command line announce compilations themselves. A user's PYKEOPS_VERBOSE wins."""
    os.environ.setdefault("PYKEOPS_VERBOSE", "0")
    os.environ.setdefault("KEOPS_VERBOSE", os.environ["PYKEOPS_VERBOSE"])  # keopscore is imported first


def compiler_problem() -> str:
    """Why KeOps cannot compile for the CPU here ('' when a C++ compiler is found)."""
    import shutil

    cxx = os.environ.get("CXX")
    if (cxx and shutil.which(cxx)) or shutil.which("g++"):
        return ""
    return f"CXX={cxx!r} is not found and no g++ is on PATH" if cxx else "no g++ on PATH and CXX is not set"


def _library_exists(path: str) -> bool:
    return os.path.exists(path)


def install() -> None:
    """Wrap pykeops' CPU compile step once (nothing to do where pykeops is missing)."""
    global _installed
    if _installed:
        return
    _installed = True
    quiet_keops()
    try:
        from pykeops.common.keops_io.LoadKeOps_cpp import LoadKeOps_cpp_class
        from pykeops.config import pykeops_cpp_name
    except ImportError:
        return  # no KeOps: nothing ever compiles
    except Exception as exc:  # a broken install: the backends module reports it
        warnings.warn(f"KeOps compile notices unavailable ({exc})", stacklevel=2)
        return
    original = getattr(LoadKeOps_cpp_class, "init_phase1", None)
    if original is None:
        warnings.warn("this pykeops has no init_phase1: compile notices unavailable", stacklevel=2)
        return

    def init_phase1(self):
        global _compiled
        library = pykeops_cpp_name(tag=self.params.tag, extension=sysconfig.get_config_var("EXT_SUFFIX"))
        with _compiling:  # the app's warm-up and a run may ask for one formula at once (a library being linked
            # by one thread already exists on disk, half written: no look without the lock)
            if _library_exists(library):
                return original(self)
            with _lock:
                _compiled += 1
            try:
                _notify("start")  # a listener may raise to stop before a compilation (nothing is left half-built)
            except BaseException:
                with _lock:
                    _compiled -= 1
                raise
            try:
                return original(self)
            finally:
                _notify("end")

    LoadKeOps_cpp_class.init_phase1 = init_phase1
