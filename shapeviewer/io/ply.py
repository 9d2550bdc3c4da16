"""PLY read and written by the project, not by VTK: every size is checked against the file before use.

VTK's PLY reader crashes on truncated or lying files and reads coordinates as float32; this one refuses
anything incomplete, keeps double coordinates double, and writes binary little-endian doubles.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .mesh_errors import MeshReadError
from .polygons import MAX_POLYGON, triangles

TYPES = {
    "char": "i1", "int8": "i1", "uchar": "u1", "uint8": "u1", "short": "i2", "int16": "i2",
    "ushort": "u2", "uint16": "u2", "int": "i4", "int32": "i4", "uint": "u4", "uint32": "u4",
    "float": "f4", "float32": "f4", "double": "f8", "float64": "f8",
}  # fmt: skip
ENDIAN = {"binary_little_endian": "<", "binary_big_endian": ">", "ascii": None}
MAX_HEADER = 64 * 1024
FACE_LISTS = ("vertex_indices", "vertex_index")


class _Element:
    def __init__(self, name: str, count: int):
        self.name, self.count = name, count
        self.props: list[tuple[str, str, str | None]] = []  # (name, value type, list count type or None)


def _header(path, data: bytes) -> tuple[str, list[_Element], int]:
    end = data.find(b"end_header", 0, MAX_HEADER)
    if not data.startswith(b"ply") or end < 0:
        raise MeshReadError(f"{path}: not a PLY file, or a corrupt one (no 'ply' ... 'end_header' header)")
    body = data.find(b"\n", end) + 1
    if body == 0:
        raise MeshReadError(f"{path}: the PLY header is not followed by any data")
    try:
        lines = data[:end].decode("ascii").splitlines()[1:]
    except UnicodeDecodeError:
        raise MeshReadError(f"{path}: the PLY header holds bytes that are not text") from None
    fmt, elements = None, []
    for line in lines:
        words = line.split()
        if not words or words[0] in ("comment", "obj_info"):
            continue
        if words[0] == "format" and len(words) == 3 and words[1] in ENDIAN:
            fmt = words[1]
        elif words[0] == "element" and len(words) == 3 and words[2].isdigit():
            elements.append(_Element(words[1], int(words[2])))
        elif words[0] == "property" and elements and len(words) == 3 and words[1] in TYPES:
            elements[-1].props.append((words[2], TYPES[words[1]], None))
        elif words[0] == "property" and elements and len(words) == 5 and words[1] == "list":
            if words[2] not in TYPES or words[3] not in TYPES or TYPES[words[2]][0] == "f":
                raise MeshReadError(f"{path}: PLY list property '{line.strip()}' has an unusable type")
            elements[-1].props.append((words[4], TYPES[words[3]], TYPES[words[2]]))
        else:
            raise MeshReadError(f"{path}: unreadable PLY header line '{line.strip()[:60]}'")
    if fmt is None:
        raise MeshReadError(f"{path}: the PLY header has no valid 'format' line")
    return fmt, elements, body


def _check_vertex_element(path, elements: list[_Element]) -> None:
    vertex = next((e for e in elements if e.name == "vertex"), None)
    if vertex is None or not {"x", "y", "z"} <= {p[0] for p in vertex.props if p[2] is None}:
        raise MeshReadError(f"{path}: the PLY file declares no vertex element with x, y, z")


def _min_bytes(element: _Element, ascii: bool) -> int:
    """The least bytes one row can take: every count 0 in lists."""
    if ascii:
        return 2 * len(element.props)
    return sum(np.dtype(p[2] or p[1]).itemsize for p in element.props)


def read_ply(path: Path, data: bytes) -> tuple[np.ndarray, np.ndarray]:
    """(N, 3) float64 vertices and (M, 3) int64 triangles of a PLY file held in ``data``."""
    fmt, elements, body = _header(path, data)
    _check_vertex_element(path, elements)
    ascii = fmt == "ascii"
    need = sum(e.count * _min_bytes(e, ascii) for e in elements)
    if need > len(data) - body:
        raise MeshReadError(
            f"{path}: the PLY header declares elements needing at least {need} bytes, the file holds "
            f"{len(data) - body} (truncated or corrupt)"
        )
    reader = _AsciiRows(path, data, body) if ascii else _BinaryRows(path, data, body, ENDIAN[fmt])
    vertices, faces = None, (np.zeros(0, np.int64), np.zeros(0, np.int64))
    for element in elements:
        rows = reader.element(element)
        if element.name == "vertex":
            vertices = np.stack([rows["x"], rows["y"], rows["z"]], axis=1).astype(np.float64)
        elif element.name == "face":
            name = next((p[0] for p in element.props if p[0] in FACE_LISTS and p[2]), None)
            if name is None:
                raise MeshReadError(f"{path}: the PLY face element has no vertex_indices list")
            faces = rows[name]
    reader.finish()
    return vertices, triangles(path, faces[0], faces[1], len(vertices))


class _BinaryRows:
    def __init__(self, path, data: bytes, pos: int, endian: str):
        self.path, self.data, self.pos, self.endian = path, data, pos, endian

    def _take(self, dtype: np.dtype, count: int, what: str) -> np.ndarray:
        size = dtype.itemsize * count
        if self.pos + size > len(self.data):
            raise MeshReadError(f"{self.path}: the PLY file ends inside its {what} (truncated)")
        out = np.frombuffer(self.data, dtype, count, self.pos)
        self.pos += size
        return out

    def element(self, element: _Element) -> dict:
        e = self.endian
        if all(p[2] is None for p in element.props):
            rows = self._take(np.dtype([(p[0], e + p[1]) for p in element.props]), element.count, element.name)
            return {p[0]: rows[p[0]] for p in element.props}
        if len(element.props) == 1:  # the usual face element: try all-triangles first
            name, value, count = element.props[0]
            tri = np.dtype([("n", e + count), ("i", e + value, 3)])
            if self.pos + tri.itemsize * element.count <= len(self.data):
                rows = np.frombuffer(self.data, tri, element.count, self.pos)
                if (rows["n"] == 3).all():
                    self.pos += tri.itemsize * element.count
                    return {name: (rows["n"].astype(np.int64), rows["i"].astype(np.int64).ravel())}
        return self._general(element)

    def _general(self, element: _Element) -> dict:
        e = self.endian
        values: dict = {p[0]: [] for p in element.props}
        for _ in range(element.count):
            for name, value, count in element.props:
                if count is None:
                    values[name].append(self._take(np.dtype(e + value), 1, element.name)[0])
                    continue
                n = int(self._take(np.dtype(e + count), 1, element.name)[0])
                if not 0 <= n <= MAX_POLYGON:
                    raise MeshReadError(f"{self.path}: a PLY {element.name} list declares {n} entries (corrupt)")
                values[name].append(self._take(np.dtype(e + value), n, element.name))
        return {p[0]: _lists(values[p[0]]) if p[2] else np.asarray(values[p[0]]) for p in element.props}

    def finish(self) -> None:
        pass  # trailing bytes after the declared elements are tolerated, as other readers do


def _lists(items: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    counts = np.array([len(x) for x in items], dtype=np.int64)
    flat = np.concatenate(items).astype(np.int64) if items else np.zeros(0, np.int64)
    return counts, flat


class _AsciiRows:
    def __init__(self, path, data: bytes, pos: int):
        self.path = path
        text = data[pos:]
        if text.strip() and not text.endswith((b"\n", b"\r")):
            raise MeshReadError(f"{path}: the PLY file ends inside a line (truncated)")
        self.tokens = text.split()
        self.pos = 0

    def _take(self, count: int, what: str) -> list[bytes]:
        if self.pos + count > len(self.tokens):
            raise MeshReadError(
                f"{self.path}: the PLY file ends inside its {what} (truncated: fewer values than declared)"
            )
        out = self.tokens[self.pos : self.pos + count]
        self.pos += count
        return out

    def _numbers(self, tokens: list[bytes], dtype: str, what: str) -> np.ndarray:
        try:
            values = np.array([float(t) for t in tokens], dtype=np.float64)
        except ValueError:
            raise MeshReadError(f"{self.path}: the PLY {what} holds a value that is not a number") from None
        if dtype[0] != "f" and (not np.isfinite(values).all() or (values != np.round(values)).any()):
            raise MeshReadError(f"{self.path}: the PLY {what} holds a fractional or non-finite index")
        return values

    def element(self, element: _Element) -> dict:
        if all(p[2] is None for p in element.props):
            k = len(element.props)
            flat = self._numbers(self._take(k * element.count, element.name), "f8", element.name)
            rows = flat.reshape(element.count, k)
            return {p[0]: rows[:, i] for i, p in enumerate(element.props)}
        if len(element.props) == 1 and self.pos + 4 * element.count <= len(self.tokens):  # all triangles?
            name, value, count = element.props[0]
            try:
                rows = self._numbers(self.tokens[self.pos : self.pos + 4 * element.count], value, element.name)
            except MeshReadError:
                rows = np.zeros((0, 4))  # not all triangles: the row-by-row reading below says what is wrong
            rows = rows.reshape(-1, 4)
            if len(rows) == element.count and (rows[:, 0] == 3).all():
                self.pos += 4 * element.count
                return {name: (np.full(element.count, 3, np.int64), rows[:, 1:].astype(np.int64).ravel())}
        values: dict = {p[0]: [] for p in element.props}
        for _ in range(element.count):
            for name, value, count in element.props:
                if count is None:
                    values[name].append(self._numbers(self._take(1, element.name), value, element.name)[0])
                    continue
                n = self._numbers(self._take(1, element.name), count, element.name)[0]
                if not 0 <= n <= MAX_POLYGON:
                    raise MeshReadError(f"{self.path}: a PLY {element.name} list declares {n:g} entries (corrupt)")
                values[name].append(self._numbers(self._take(int(n), element.name), value, element.name))
        return {p[0]: _lists(values[p[0]]) if p[2] else np.asarray(values[p[0]]) for p in element.props}

    def finish(self) -> None:
        if self.pos != len(self.tokens):
            extra = len(self.tokens) - self.pos
            raise MeshReadError(f"{self.path}: the PLY file holds {extra} values more than its header declares")


def ply_bytes(vertices: np.ndarray, faces: np.ndarray, point_data: dict | None = None) -> bytes:
    """A binary little-endian PLY of double vertices and int triangles; ``point_data``: name -> (N,) values,
    written as extra double properties of each vertex (what MeshLab, plyfile, trimesh and Open3D read)."""
    vertices = np.asarray(vertices, dtype="<f8")
    extra = {}
    for name, values in (point_data or {}).items():
        values = np.asarray(values, dtype="<f8")
        if not name.isascii() or not name.isidentifier() or name in ("x", "y", "z"):
            raise ValueError(f"point data '{name}' cannot be a PLY property name (letters, digits, '_')")
        if values.shape != (len(vertices),):
            raise ValueError(f"point data '{name}' has shape {values.shape}, expected ({len(vertices)},)")
        extra[name] = values
    table = np.zeros(len(vertices), dtype=[(k, "<f8") for k in ("x", "y", "z", *extra)])
    table["x"], table["y"], table["z"] = vertices[:, 0], vertices[:, 1], vertices[:, 2]
    for name, values in extra.items():
        table[name] = values
    rows = np.zeros(len(faces), dtype=[("n", "u1"), ("i", "<i4", 3)])
    rows["n"], rows["i"] = 3, faces
    props = "".join(f"property double {k}\n" for k in ("x", "y", "z", *extra))
    header = (
        f"ply\nformat binary_little_endian 1.0\ncomment shapeviewer\nelement vertex {len(vertices)}\n{props}"
        f"element face {len(faces)}\nproperty list uchar int vertex_indices\nend_header\n"
    )
    return header.encode("ascii") + table.tobytes() + rows.tobytes()
