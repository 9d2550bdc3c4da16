"""The app's state without Qt: meshes, settings, mask, run, result, loss history, frame and camera."""

from .history import LossHistory
from .state import Document, Result

__all__ = ["Document", "LossHistory", "Result"]
