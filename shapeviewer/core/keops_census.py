"""Which KeOps formulas a computation would compile, found without compiling or reducing anything.

The computation runs once in this thread with every KeOps CPU reduction replaced by a stand-in: KeOps
still generates each formula's code and tag (Python only, milliseconds, and cached for the real call),
but nothing is compiled, loaded or reduced; the stand-in's output is filled with ones. The values are
meaningless, the formulas are the real ones (they depend on the code path, not on the numbers), so the
census tells "formula k of n" before the first compilation starts. Other threads are not affected.
"""

from __future__ import annotations

import os
import sysconfig
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

_local = threading.local()
_installed = False
_install_lock = threading.Lock()


@dataclass
class Census:
    used: list[str] = field(default_factory=list)  # formula tags, in order of first use
    missing: list[str] = field(default_factory=list)  # those not compiled on this machine yet
    stopped_by: str = ""  # the stand-in values made the computation stop early: the census may be short

    @property
    def to_compile(self) -> int:
        return len(self.missing)


def _library_path(tag: str) -> str:
    from pykeops.config import pykeops_cpp_name

    return pykeops_cpp_name(tag=tag, extension=sysconfig.get_config_var("EXT_SUFFIX"))


def _stand_in_class():
    from pykeops.common.keops_io.LoadKeOps import LoadKeOps

    class StandInReduction(LoadKeOps):
        """A LoadKeOps that records its formula's tag and returns ones instead of compiling and reducing."""

        def init_phase1(self):
            census: Census = _local.census
            tag = self.params.tag
            if tag not in census.used:
                census.used.append(tag)
                if not self.params.tagZero and not os.path.exists(_library_path(tag)):
                    census.missing.append(tag)

        def call_keops(self, nx, ny):
            pass  # genred's output is filled below

        def genred(self, device_args, ranges, nx, ny, nbatchdims, out, *args):
            out = LoadKeOps.genred(self, device_args, ranges, nx, ny, nbatchdims, out, *args)
            return out if self.params.tagZero else out.fill_(1.0)

        genred_pytorch = genred

    return StandInReduction


class _Binder:
    """Stands in for pykeops' CPU binder: the real one, except in a thread taking a census."""

    def __init__(self, real, stand_in):
        self.real, self.stand_in = real, stand_in

    def __call__(self, *args):
        if getattr(_local, "census", None) is None:
            return self.real(*args)
        return self.stand_in(*args, fast_init=False)

    def __getattr__(self, name):  # reset(), library...: pykeops' own calls reach the real binder
        return getattr(self.real, name)


def install() -> bool:
    """Put the census-aware binder in place (once); False where pykeops is missing or laid out otherwise."""
    global _installed
    with _install_lock:
        if _installed:
            return True
        try:
            from pykeops.common.keops_io import keops_binder
        except Exception:  # no KeOps (or a broken one, which the backends module reports): no census
            return False
        if "cpp" not in keops_binder:
            return False
        keops_binder["cpp"] = _Binder(keops_binder["cpp"], _stand_in_class())
        _installed = True
        return True


def taking_census() -> bool:
    """Whether this thread is taking a census: its numbers are stand-ins, and warnings about them would mislead."""
    return getattr(_local, "census", None) is not None


def take_census(computation: Callable[[], object]) -> Census | None:
    """Run ``computation`` with stand-in reductions and list the formulas it used; None without pykeops.

    An exception raised by the computation (the stand-in values are not real ones) ends the census
    early and is kept in ``stopped_by``: the formulas seen so far are still listed."""
    if not install():
        return None
    census = Census()
    _local.census = census
    try:
        computation()
    except Exception as exc:
        census.stopped_by = f"{type(exc).__name__}: {exc}".splitlines()[0]
    finally:
        _local.census = None
    return census
