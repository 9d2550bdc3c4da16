"""Reading a session zip without trusting it: sizes checked before reading, reads bounded, no pickle.

Only named members are read, in memory (nothing is extracted, so member names such as ``../x`` or
``/etc/x`` never reach the file system). Every member's declared size is checked against deflate's
physical limit and a budget proportional to the file's size before a byte of it is inflated, and the
reader stops at the declared size, so a lying header cannot fill memory.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
import zlib

import numpy as np
from numpy.lib import format as npy_format

from .session_checks import SessionProblem

MAX_VERTICES = 10_000_000  # meshes of up to a few million vertices, with room to spare
MAX_FRAMES = 100_001  # geodesic time steps + 1
MAX_ARRAY_BYTES = 8 << 30  # one array (a long geodesic of a big mesh)
MAX_JSON_BYTES = 64 << 20  # session.json: settings, history, info
BUDGET_FLOOR = 8 << 20  # any file may inflate to this much...
BUDGET_RATIO = 1000  # ...or this many times its own size (about deflate's best ratio)
DEFLATE_MAX_RATIO = 1032  # deflate cannot do better: a member claiming more lies
NPZ_MAX_RATIO = 20  # arrays.npz holds compressed arrays: deflating it again gains little (a nested bomb does)
CHUNK = 1 << 20
ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, RuntimeError, NotImplementedError)


class Budget:
    """Bytes the whole file may inflate to; each member's declared size is taken before it is read."""

    def __init__(self, file_size: int):
        self.left = max(BUDGET_FLOOR, BUDGET_RATIO * file_size)

    def take(self, n: int, what: str) -> None:
        if n > self.left:
            raise SessionProblem(f"{what} would inflate to {n} bytes, too many for a file of this size (zip bomb?)")
        self.left -= n


def read_members(fh, budget: Budget) -> tuple[object, dict]:
    """(parsed session.json, {array name: array}) from an open session file."""
    with zipfile.ZipFile(fh) as z:
        meta = _parse_json(_read(z, "session.json", MAX_JSON_BYTES, budget))
        npz = _read(z, "arrays.npz", 2 * MAX_ARRAY_BYTES, budget, NPZ_MAX_RATIO)
    with zipfile.ZipFile(io.BytesIO(npz)) as z:
        names = [n[:-4] for n in z.namelist() if n.endswith(".npy")]
        arrays = {name: _read_npy(z, name, budget) for name in sorted(set(names)) if name in ARRAY_NAMES}
    return meta, arrays


ARRAY_NAMES = {
    "source_vertices", "source_faces", "target_vertices", "target_faces",
    "mask", "trajectory", "momenta", "control_index", "landmark_trajectory",
}  # fmt: skip


def _info(z: zipfile.ZipFile, name: str, limit: int, budget: Budget, ratio: int = DEFLATE_MAX_RATIO):
    infos = [i for i in z.infolist() if i.filename == name]
    if not infos:
        raise KeyError(name)
    if len(infos) > 1:
        raise SessionProblem(f"holds {name} {len(infos)} times")
    info = infos[0]
    if info.flag_bits & 0x1:
        raise SessionProblem(f"{name} is encrypted")
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise SessionProblem(f"{name} uses an unsupported compression (method {info.compress_type})")
    most = info.compress_size if info.compress_type == zipfile.ZIP_STORED else ratio * info.compress_size
    if info.file_size > most + 1024:
        raise SessionProblem(
            f"{name} would inflate {info.compress_size} bytes to {info.file_size}: a zip bomb or a damaged header"
        )
    if info.file_size > limit:
        raise SessionProblem(f"{name} is too large ({info.file_size} bytes; at most {limit})")
    budget.take(info.file_size, name)
    return info


def _read(z: zipfile.ZipFile, name: str, limit: int, budget: Budget, ratio: int = DEFLATE_MAX_RATIO) -> bytearray:
    info = _info(z, name, limit, budget, ratio)
    with z.open(info) as stream:
        data = _read_exactly(stream, info.file_size, name)
        _expect_end(stream, name)
    return data


def _read_exactly(stream, n: int, name: str) -> bytearray:
    buf = bytearray(n)
    view, pos = memoryview(buf), 0
    while pos < n:
        got = stream.readinto(view[pos : pos + CHUNK])
        if not got:
            raise SessionProblem(f"{name} ends after {pos} of its {n} bytes")
        pos += got
    return buf


def _expect_end(stream, name: str) -> None:
    """Reading past the end also makes zipfile check the member's CRC."""
    if stream.read(1):
        raise SessionProblem(f"{name} is longer than its header says")


def _parse_json(data: bytes):
    try:
        return json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise SessionProblem("session.json is not UTF-8 text") from None
    except RecursionError:
        raise SessionProblem("session.json is nested too deeply") from None
    except ValueError as exc:
        raise SessionProblem(f"session.json is not valid JSON ({exc})") from None


def _read_npy(z: zipfile.ZipFile, name: str, budget: Budget) -> np.ndarray:
    info = _info(z, f"{name}.npy", MAX_ARRAY_BYTES + 65536, budget)
    with z.open(info) as stream:
        shape, fortran, dtype = _npy_header(stream, name)
        size = int(np.prod(shape, dtype=object)) * dtype.itemsize
        if stream.tell() + size != info.file_size:
            raise SessionProblem(
                f"the array {name} holds {info.file_size - stream.tell()} bytes, its header says {size}"
            )
        buf = _read_exactly(stream, size, name)
        _expect_end(stream, name)
    return np.frombuffer(buf, dtype).reshape(shape, order="F" if fortran else "C")


def _npy_header(stream, name: str):
    """Shape, order and dtype of an .npy stream, refused when they could not be a session array."""
    version = npy_format.read_magic(stream)
    if version not in ((1, 0), (2, 0)):
        raise SessionProblem(f"the array {name} has an unsupported .npy version {version}")
    read = npy_format.read_array_header_1_0 if version == (1, 0) else npy_format.read_array_header_2_0
    shape, fortran, dtype = read(stream, max_header_size=10_000)
    if dtype.hasobject or dtype.kind not in "biuf" or dtype.itemsize > 8:
        raise SessionProblem(f"the array {name} has dtype {dtype}: only real numbers are read (never unpickled)")
    if len(shape) > 3 or any(not 0 <= d <= MAX_VERTICES * 4 for d in shape):
        raise SessionProblem(f"the array {name} has an impossible shape {shape}")
    if int(np.prod(shape, dtype=object)) * dtype.itemsize > MAX_ARRAY_BYTES:
        raise SessionProblem(f"the array {name} is too large ({shape} of {dtype})")
    return shape, fortran, dtype


def file_budget(fh) -> Budget:
    return Budget(os.fstat(fh.fileno()).st_size)
