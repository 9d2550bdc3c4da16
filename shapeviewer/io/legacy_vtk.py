"""Legacy ``.vtk`` POLYDATA (ASCII or binary, file versions 2-5.1) read by the project, sizes checked.

VTK's own legacy reader zero-fills (with uninitialised memory) what a truncated file lacks; this one
refuses a file that holds fewer values than it declares.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .mesh_errors import MeshReadError

TYPES = {
    "bit": None, "char": "i1", "unsigned_char": "u1", "short": "i2", "unsigned_short": "u2", "int": "i4",
    "unsigned_int": "u4", "long": "i8", "unsigned_long": "u8", "float": "f4", "double": "f8",
    "vtktypeint64": "i8", "vtktypeint32": "i4", "vtkidtype": "i8",
}  # fmt: skip
CELL_SECTIONS = ("VERTICES", "LINES", "POLYGONS", "TRIANGLE_STRIPS")
STOP = ("POINT_DATA", "CELL_DATA", "FIELD")
ATTRIBUTE_WIDTH = {"VECTORS": 3, "NORMALS": 3, "TENSORS": 9}
ATTRIBUTES = (*ATTRIBUTE_WIDTH, "SCALARS", "COLOR_SCALARS", "LOOKUP_TABLE", "TEXTURE_COORDINATES")


class _Cursor:
    """Walks the file: keyword lines as text, data blocks as ASCII tokens or big-endian binary."""

    def __init__(self, path, data: bytes, binary: bool, pos: int):
        self.path, self.data, self.binary, self.pos = path, data, binary, pos

    def bad(self, problem: str) -> MeshReadError:
        return MeshReadError(f"{self.path}: {problem}")

    def line(self) -> list[str] | None:
        """The next non-blank keyword line's words, or None at the end of the file."""
        while self.pos < len(self.data):
            end = self.data.find(b"\n", self.pos)
            if end < 0 and self.data[self.pos :].strip():
                raise self.bad("the file ends inside a line (truncated)")
            end = len(self.data) if end < 0 else end
            raw, self.pos = self.data[self.pos : end], end + 1
            if raw.strip():
                try:
                    return raw.decode("ascii").split()
                except UnicodeDecodeError:
                    raise self.bad("a legacy VTK keyword line holds bytes that are not text") from None
        return None

    def values(self, count: int, dtype: str, what: str) -> np.ndarray:
        if self.binary:
            size = np.dtype(dtype).itemsize * count
            if self.pos + size > len(self.data):
                raise self.bad(f"the file ends inside its {what} (truncated)")
            out = np.frombuffer(self.data, ">" + dtype, count, self.pos).astype(dtype)
            self.pos += size
            return out
        out, tokens = [], 0
        while tokens < count:
            words = self.line()
            if words is None:
                raise self.bad(f"the file ends inside its {what} (truncated: {tokens} of {count} values)")
            out.extend(words)
            tokens += len(words)
        if tokens != count:
            raise self.bad(f"the {what} holds {tokens} values where {count} are declared")
        try:
            return np.array([float(w) for w in out], dtype=np.float64).astype(dtype)
        except (ValueError, OverflowError):
            raise self.bad(f"the {what} holds a value that is not a number") from None


def _count(cursor: _Cursor, word: str) -> int:
    if not word.isdigit():
        raise cursor.bad(f"'{word}' is not a count")
    return int(word)


def _dtype(cursor: _Cursor, word: str) -> str:
    dtype = TYPES.get(word.lower())
    if dtype is None:
        raise cursor.bad(f"unsupported data type '{word}'")
    return dtype


def _header(path, data: bytes) -> _Cursor:
    head = _Cursor(path, data, False, 0)
    first = data[:256].split(b"\n", 1)[0]
    if not first.startswith(b"# vtk DataFile"):
        raise head.bad("not a legacy VTK file (no '# vtk DataFile' line)")
    parts = data.split(b"\n", 3)
    if len(parts) < 4:
        raise head.bad("the legacy VTK header is incomplete")
    mode = parts[2].strip().upper()
    if mode not in (b"ASCII", b"BINARY"):
        raise head.bad("the third line must say ASCII or BINARY")
    cursor = _Cursor(path, data, mode == b"BINARY", len(parts[0]) + len(parts[1]) + len(parts[2]) + 3)
    if not cursor.binary and not data.endswith((b"\n", b"\r")):
        raise cursor.bad("the file ends inside a line (truncated)")
    words = cursor.line()
    if words is None or words[:1] != ["DATASET"] or words[1:2] != ["POLYDATA"]:
        found = " ".join(words or [])[:40]
        raise cursor.bad(f"only legacy VTK POLYDATA is read ('DATASET POLYDATA'), found '{found}'; save it as .vtp")
    return cursor


def _cells(cursor: _Cursor, words: list[str], n_bytes: int) -> tuple[np.ndarray, np.ndarray]:
    """(counts, connectivity) of one cell section, old (counts inline) or 5.1 (OFFSETS, CONNECTIVITY)."""
    a, b = _count(cursor, words[1]), _count(cursor, words[2])
    section = words[0].lower()
    if (a + b) * (1 if not cursor.binary else 4) > n_bytes:
        raise cursor.bad(f"the {section} section declares more values than the file holds (truncated or corrupt)")
    if cursor.data[cursor.pos : cursor.pos + 64].lstrip().startswith(b"OFFSETS"):
        following = cursor.line()
        offsets = cursor.values(a, _dtype(cursor, following[1]), f"{section} offsets")
        conn_words = cursor.line()
        if conn_words is None or conn_words[0] != "CONNECTIVITY":
            raise cursor.bad(f"the {section} section has OFFSETS but no CONNECTIVITY (truncated)")
        connectivity = cursor.values(b, _dtype(cursor, conn_words[1]), f"{section} connectivity")
        offsets = offsets.astype(np.int64)
        if a == 0 or offsets[0] != 0 or (np.diff(offsets) < 0).any() or offsets[-1] != b:
            raise cursor.bad(f"the {section} offsets are inconsistent (corrupt)")
        return np.diff(offsets), connectivity.astype(np.int64)
    flat = cursor.values(b, "i4", section).astype(np.int64)
    counts, pos = np.zeros(a, np.int64), 0
    for i in range(a):  # counts inline: k i1 .. ik
        if pos >= len(flat) or not 0 <= flat[pos] <= len(flat) - pos - 1:
            raise cursor.bad(f"the {section} list is inconsistent with its declared size (corrupt)")
        counts[i] = flat[pos]
        pos += flat[pos] + 1
    if pos != len(flat):
        raise cursor.bad(f"the {section} list is inconsistent with its declared size (corrupt)")
    keep = np.ones(len(flat), bool)
    keep[np.concatenate([[0], np.cumsum(counts + 1)[:-1]]).astype(np.int64)] = False
    return counts, flat[keep]


def _skip_attributes(cursor: _Cursor, n: int) -> None:
    """Read past POINT_DATA / CELL_DATA arrays, checking that each holds its declared values."""
    while True:
        words = cursor.line()
        if words is None:
            return
        kind = words[0]
        if kind in ATTRIBUTE_WIDTH and len(words) >= 3:
            cursor.values(ATTRIBUTE_WIDTH[kind] * n, _dtype(cursor, words[2]), f"{kind.lower()} array")
        elif kind == "SCALARS" and len(words) >= 3:
            width = _count(cursor, words[3]) if len(words) > 3 else 1
            table = cursor.line()
            if table is None or table[0] != "LOOKUP_TABLE":
                raise cursor.bad("a SCALARS array lacks its LOOKUP_TABLE line (truncated or corrupt)")
            cursor.values(width * n, _dtype(cursor, words[2]), "scalars array")
        elif kind == "COLOR_SCALARS" and len(words) == 3:
            cursor.values(_count(cursor, words[2]) * n, "u1" if cursor.binary else "f4", "colour array")
        elif kind == "LOOKUP_TABLE" and len(words) == 3:
            cursor.values(4 * _count(cursor, words[2]), "u1" if cursor.binary else "f4", "lookup table")
        elif kind == "TEXTURE_COORDINATES" and len(words) == 4:
            cursor.values(_count(cursor, words[2]) * n, _dtype(cursor, words[3]), "texture coordinates")
        elif kind == "FIELD" and len(words) == 3:
            for _ in range(_count(cursor, words[2])):
                array = cursor.line()
                if array is None or len(array) != 4:
                    raise cursor.bad("the file ends inside a FIELD (truncated or corrupt)")
                count = _count(cursor, array[1]) * _count(cursor, array[2])
                cursor.values(count, _dtype(cursor, array[3]), "field array")
        elif kind == "METADATA":
            _skip_metadata(cursor)
        elif kind in ("POINT_DATA", "CELL_DATA") and len(words) == 2:
            n = _count(cursor, words[1])
        else:
            raise cursor.bad(f"unexpected legacy VTK line '{' '.join(words)[:40]}' (corrupt or unsupported)")


def _skip_metadata(cursor: _Cursor) -> None:
    """METADATA/INFORMATION lines up to the next section, which is left to read."""
    while True:
        before = cursor.pos
        words = cursor.line()
        if words is None or words[0] in (*CELL_SECTIONS, *STOP, *ATTRIBUTES, "POINTS"):
            cursor.pos = before
            return


def read_legacy_vtk(path: Path, data: bytes):
    """(N, 3) float64 points and the polygon (counts, connectivity) of a legacy POLYDATA file."""
    cursor = _header(path, data)
    points, polygons = None, (np.zeros(0, np.int64), np.zeros(0, np.int64))
    while (words := cursor.line()) is not None:
        if words[0] in ("POINT_DATA", "CELL_DATA") and len(words) == 2:
            n = _count(cursor, words[1])
            if words[0] == "POINT_DATA" and (points is None or n != len(points)):
                raise cursor.bad(
                    f"POINT_DATA declares {n} values, the file has {0 if points is None else len(points)} points"
                )
            _skip_attributes(cursor, n)
        elif words[0] == "POINTS" and len(words) == 3:
            n = _count(cursor, words[1])
            dtype = _dtype(cursor, words[2])
            if 3 * n * (np.dtype(dtype).itemsize if cursor.binary else 2) > len(data):
                raise cursor.bad(f"POINTS declares {n} points, more than the file holds (truncated or corrupt)")
            points = cursor.values(3 * n, dtype, "points").astype(np.float64).reshape(n, 3)
        elif words[0] in CELL_SECTIONS and len(words) == 3:
            counts, connectivity = _cells(cursor, words, len(data))
            if words[0] == "POLYGONS":
                polygons = (counts, connectivity)
            elif words[0] == "TRIANGLE_STRIPS" and counts.size:
                raise cursor.bad("triangle strips are not read; save the mesh with polygons (.vtp or .ply)")
        elif words[0] == "METADATA":
            _skip_metadata(cursor)
        else:
            raise cursor.bad(f"unexpected legacy VTK line '{' '.join(words)[:40]}' (corrupt or unsupported)")
    if points is None:
        raise cursor.bad("the legacy VTK file has no POINTS")
    return points, polygons
