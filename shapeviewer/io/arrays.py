"""Loading .npy arrays given by users (masks, momenta) with messages that name file and problem."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np


class ArrayReadError(ValueError):
    pass


def load_array(path: str | os.PathLike, what: str) -> np.ndarray:
    path = Path(path)
    if not path.exists():
        raise ArrayReadError(f"{what} file {path}: no such file")
    try:
        arr = np.load(path, allow_pickle=False)
    except Exception as exc:
        raise ArrayReadError(f"{what} file {path}: not a readable .npy array ({type(exc).__name__}: {exc})") from exc
    if not isinstance(arr, np.ndarray) or not np.issubdtype(arr.dtype, np.number):
        raise ArrayReadError(f"{what} file {path}: expected a numeric array, found dtype {getattr(arr, 'dtype', '?')}")
    return arr
