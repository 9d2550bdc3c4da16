"""Loading .npy arrays given by users (masks, momenta) with messages that name file and problem.

The header is read and checked (type, shape, size against the file) before any data is loaded, so a
file claiming 10^8 entries is refused by its shape, not by an allocation failure.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..core.errors import InputError

MAX_ENTRIES = 10**8  # whatever the expected shape, more than this is refused from the header alone


class ArrayReadError(InputError):
    """An array file that cannot be used; the message names the file and the problem."""


def _header(path: Path, what: str, f) -> tuple[tuple[int, ...], np.dtype, bool]:
    try:
        major, _minor = np.lib.format.read_magic(f)
        read = np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0
        found, fortran, dtype = read(f, max_header_size=10000)
    except Exception as exc:  # noqa: BLE001  numpy raises ValueError, OSError, SyntaxError... for bad headers
        raise ArrayReadError(f"{what} file {path}: not a readable .npy array ({type(exc).__name__})") from None
    if dtype.hasobject or dtype.fields is not None or dtype.subdtype is not None:
        raise ArrayReadError(f"{what} file {path}: expected plain numbers, found dtype {dtype}")
    if np.issubdtype(dtype, np.complexfloating):
        raise ArrayReadError(f"{what} file {path}: complex values ({dtype}); give real numbers")
    if not (np.issubdtype(dtype, np.floating) or np.issubdtype(dtype, np.integer)):
        raise ArrayReadError(f"{what} file {path}: expected a numeric array, found dtype {dtype}")
    return tuple(found), dtype, fortran


def load_array(
    path: str | os.PathLike, what: str, shape: tuple[int | None, ...] | None = None, max_entries: int = MAX_ENTRIES
) -> np.ndarray:
    """A float64 array in native byte order; ``shape`` (None: any length) is checked from the header."""
    path = Path(path)
    if not path.is_file():
        raise ArrayReadError(f"{what} file {path}: no such file" + (" (a folder)" if path.is_dir() else ""))
    try:
        with open(path, "rb") as f:
            found, dtype, fortran = _header(path, what, f)
            entries = int(np.prod(found, dtype=object))
            if shape is not None and (
                len(found) != len(shape) or any(s is not None and s != d for s, d in zip(shape, found, strict=True))
            ):
                wanted = "(" + ", ".join("n" if s is None else str(s) for s in shape) + "," * (len(shape) == 1) + ")"
                raise ArrayReadError(f"{what} file {path}: shape {found}, expected {wanted}")
            if entries > max_entries:
                raise ArrayReadError(f"{what} file {path}: {entries} entries, more than the {max_entries} accepted")
            if entries * dtype.itemsize > os.fstat(f.fileno()).st_size - f.tell():
                raise ArrayReadError(f"{what} file {path}: the header claims shape {found}, the file is shorter (cut?)")
            arr = np.fromfile(f, dtype=dtype, count=entries).reshape(found, order="F" if fortran else "C")
    except OSError as exc:
        raise ArrayReadError(f"{what} file {path}: cannot be read ({exc.strerror or exc})") from None
    return arr.astype(np.float64)  # native byte order, whatever the file's
