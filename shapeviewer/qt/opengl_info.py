"""What OpenGL renders the views: software renderers (llvmpipe under Xvfb) get no multisampling."""

from __future__ import annotations

import functools

SOFTWARE_RENDERERS = ("llvmpipe", "softpipe", "swrast", "software")


@functools.cache
def renderer_name() -> str:
    """GL_RENDERER of a throwaway context ('' if none can be made)."""
    from PySide6.QtGui import QOffscreenSurface, QOpenGLContext

    context = QOpenGLContext()
    if not context.create():
        return ""
    surface = QOffscreenSurface()
    surface.create()
    if not context.makeCurrent(surface):
        return ""
    try:
        return str(context.functions().glGetString(0x1F01) or "")  # GL_RENDERER
    finally:
        context.doneCurrent()


def multi_samples() -> int:
    """4x MSAA on a GPU; none in software, where it doubles the cost of every frame."""
    name = renderer_name().lower()
    return 0 if not name or any(s in name for s in SOFTWARE_RENDERERS) else 4
