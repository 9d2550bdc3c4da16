"""Make KeOps CPU reductions release the GIL, so other Python threads (the GUI) run meanwhile.

pykeops 2.3 binds its CPU entry point with pybind11 and keeps the GIL for the whole reduction: a
two-second reduction in a worker thread freezes the GUI thread for two seconds. We add
``py::gil_scoped_release`` once the arguments have been read (the reduction touches no Python
object) and build these bindings in a sub-folder of the KeOps cache, so that a binding compiled
without the release is never reused. Without pykeops, or with another pykeops layout, nothing changes.
"""

from __future__ import annotations

import os
import warnings

SUBFOLDER = "shapeviewer-gil-released"
_MARKER = "    return launch_keops_cpu_"
_RELEASE = "    py::gil_scoped_release shapeviewer_release;  // the reduction reads no Python object\n"


def release_gil_in_cpu_reductions() -> bool:
    """Patch pykeops' CPU binding template (once); True when reductions will release the GIL."""
    import torch

    if torch.cuda.is_available():  # GPU machines: the build folder also holds the CUDA binder; left as is
        return False
    try:
        import keopscore
        import pykeops
        from pykeops.common.keops_io import LoadKeOps_cpp as binding
    except Exception:  # no pykeops: the caller already reports that KeOps is unavailable
        return False
    cls = getattr(binding, "LoadKeOps_cpp_class", None)
    if cls is None or not hasattr(cls, "get_pybind11_code"):
        warnings.warn("unknown pykeops layout: KeOps CPU reductions will hold the GIL", stacklevel=2)
        return False
    if getattr(cls, "_gil_released", False):
        return True
    original = cls.get_pybind11_code

    def code_releasing_gil(self):
        code = original(self)
        return code.replace(_MARKER, _RELEASE + _MARKER, 1) if _MARKER in code else code

    if _MARKER not in _template_probe(original):
        warnings.warn("pykeops binding template changed: KeOps CPU reductions will hold the GIL", stacklevel=2)
        return False
    cls.get_pybind11_code = code_releasing_gil
    cls._gil_released = True
    base = pykeops.get_build_folder()
    if os.path.basename(os.path.normpath(base)) != SUBFOLDER:
        path = os.path.join(base, SUBFOLDER)
        # pykeops.set_build_folder would also record the folder in the user's KeOps settings; we do not
        keopscore.config.set_different_build_folder(path, write_save_file=False)
        for cache in pykeops.common.keops_io.keops_binder.values():
            cache.reset(new_save_folder=path)
    return True


def _template_probe(method) -> str:
    """The template's text without a compiled formula (the method only formats strings)."""

    class _Params:
        source_name, tag, dtype = "probe.h", "probe", "float32"

    class _Probe:
        params = _Params()

    try:
        return method(_Probe())
    except Exception:
        return ""
