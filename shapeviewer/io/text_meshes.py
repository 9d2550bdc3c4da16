"""OFF and OBJ read by the project (VTK has no OFF reader; its OBJ reader reads cut files as smaller meshes)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .mesh_errors import MeshReadError
from .polygons import MAX_POLYGON


def _text(path: Path, data: bytes) -> str:
    if data.strip() and not data.endswith((b"\n", b"\r")):
        raise MeshReadError(f"{path}: the file ends inside a line (truncated)")
    return data.decode("utf-8", errors="replace")


def _floats(path: Path, tokens: list[str], what: str) -> np.ndarray:
    try:
        return np.array([float(t) for t in tokens], dtype=np.float64)
    except ValueError:
        raise MeshReadError(f"{path}: malformed {what} (a value is not a number)") from None


def read_off(path: Path, data: bytes):
    """(N, 3) points and polygon (counts, connectivity) of an OFF file; counts checked against the file."""
    tokens = [w for line in _text(path, data).splitlines() for w in line.split("#")[0].split()]
    if not tokens or not tokens[0].endswith("OFF"):
        raise MeshReadError(f"{path}: not an OFF file (no 'OFF' header)")
    tokens = [tokens[0][:-3], *tokens[1:]] if tokens[0][:-3] else tokens[1:]
    if len(tokens) < 3 or not (tokens[0].isdigit() and tokens[1].isdigit()):
        raise MeshReadError(f"{path}: malformed OFF file (no vertex and face counts)")
    nv, nf = int(tokens[0]), int(tokens[1])
    if 3 * nv + nf > len(tokens):
        raise MeshReadError(f"{path}: malformed OFF file (truncated: declares {nv} vertices and {nf} faces)")
    points = _floats(path, tokens[3 : 3 + 3 * nv], "OFF file").reshape(nv, 3)
    pos, counts, flat = 3 + 3 * nv, [], []
    for _ in range(nf):
        if pos >= len(tokens) or not tokens[pos].isdigit() or int(tokens[pos]) > MAX_POLYGON:
            raise MeshReadError(f"{path}: malformed OFF file (truncated or corrupt face list)")
        k = int(tokens[pos])
        face = tokens[pos + 1 : pos + 1 + k]
        if len(face) != k or not all(t.lstrip("-").isdigit() for t in face):
            raise MeshReadError(f"{path}: malformed OFF file (truncated face list)")
        counts.append(k)
        flat.extend(int(t) for t in face)
        line_end = pos + 1 + k
        pos = line_end
        while pos < len(tokens) and not tokens[pos].isdigit() and _is_number(tokens[pos]):
            pos += 1  # optional face colour values
    if flat and min(flat) < 0:
        raise MeshReadError(f"{path}: negative vertex index in the face list")
    return points, (np.array(counts, np.int64), np.array(flat, np.int64))


def _is_number(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def read_obj(path: Path, data: bytes):
    """(N, 3) points and polygon (counts, connectivity) of a Wavefront OBJ ('v' and 'f' lines)."""
    points, counts, flat = [], [], []
    for number, line in enumerate(_text(path, data).splitlines(), 1):
        words = line.split("#")[0].split()
        if not words:
            continue
        if words[0] == "v":
            if len(words) < 4:
                raise MeshReadError(f"{path}: line {number}: a vertex needs x y z")
            points.append(words[1:4])
        elif words[0] == "f":
            try:
                idx = [int(w.split("/")[0]) for w in words[1:]]
            except ValueError:
                raise MeshReadError(f"{path}: line {number}: a face index is not a whole number") from None
            if 0 in idx:
                raise MeshReadError(f"{path}: line {number}: OBJ indices start at 1, found 0")
            counts.append(len(idx))
            flat.extend(i - 1 if i > 0 else len(points) + i for i in idx)
    pts = _floats(path, [t for p in points for t in p], "OBJ vertex").reshape(-1, 3)
    return pts, (np.array(counts, np.int64), np.array(flat, np.int64))
