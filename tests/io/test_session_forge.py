"""Helpers (no tests): a small valid session, zip surgery on it, and the invariants every opened session keeps."""

import io
import json
import zipfile
from dataclasses import asdict

import numpy as np

from shapeviewer.core.registration import RegistrationSettings
from shapeviewer.io.meshes import Mesh
from shapeviewer.io.session import Session, SessionResult, session_bytes, settings_from_dict


def small_session(n_frames: int = 4) -> Session:
    """A synthetic tetrahedron pair with every optional field set."""
    v = np.array([[0.0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]])
    f = np.array([[0, 1, 2], [0, 1, 3], [0, 2, 3], [1, 2, 3]])
    settings = RegistrationSettings(iterations=7)
    settings.model.kernel = "gaussian(0.3)"
    traj = np.stack([v + 0.1 * t for t in range(n_frames)])
    result = SessionResult(
        traj, np.ones((2, 3)), "cancelled", 5, 0.2, 0.1, 0.05, {"backend": "torch"},
        {"iteration": [0, 1], "loss": [1.0, 0.5]}, np.array([1, 3]), [{"source_vertices": 4, "run": True}],
    )  # fmt: skip
    camera = [(3.0, 2.0, 1.0), (0.0, 0.0, 0.0), (0.0, 0.0, 1.0)]
    return Session(
        Mesh(v, f, "a.ply"), Mesh(v * 2, f, "b.ply"), asdict(settings), np.linspace(0, 1, 4), result, 2, camera,
        "/data/a.ply", "/data/b.ply",
    )  # fmt: skip


def members(data: bytes) -> dict:
    z = zipfile.ZipFile(io.BytesIO(data))
    return {name: z.read(name) for name in z.namelist()}


def zip_of(items: dict, compression=zipfile.ZIP_DEFLATED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression) as z:
        for name, content in items.items():
            z.writestr(name, content)
    return out.getvalue()


def meta_of(data: bytes) -> dict:
    return json.loads(members(data)["session.json"])


def arrays_of(data: bytes) -> dict:
    return members(members(data)["arrays.npz"])


def npy(arr: np.ndarray) -> bytes:
    out = io.BytesIO()
    np.save(out, arr, allow_pickle=True)
    return out.getvalue()


def npy_raw(header: str, payload: bytes = b"") -> bytes:
    """A version 1.0 .npy with a header saying anything."""
    text = header.encode("latin1")
    pad = 64 - (10 + len(text) + 1) % 64
    text += b" " * pad + b"\n"
    return b"\x93NUMPY\x01\x00" + len(text).to_bytes(2, "little") + text + payload


def with_meta(data: bytes, meta) -> bytes:
    items = members(data)
    items["session.json"] = meta if isinstance(meta, bytes) else json.dumps(meta).encode()
    return zip_of(items)


def with_arrays(data: bytes, **npy_members) -> bytes:
    """Replace (bytes), add, or drop (None) members of arrays.npz, given as ``name=...`` without ``.npy``."""
    inner = arrays_of(data)
    for name, content in npy_members.items():
        inner.pop(f"{name}.npy", None)
        if content is not None:
            inner[f"{name}.npy"] = content if isinstance(content, bytes) else npy(content)
    items = members(data)
    items["arrays.npz"] = zip_of(inner)
    return zip_of(items)


def good_bytes() -> bytes:
    return session_bytes(small_session())


def assert_valid(s: Session) -> None:
    """The invariants of an opened session: nothing half-valid ever comes back."""
    for mesh in (s.source, s.target):
        v, f = mesh.vertices, mesh.faces
        assert v.dtype == np.float64 and v.ndim == 2 and v.shape[1] == 3 and len(v) and np.isfinite(v).all()
        assert f.dtype == np.int64 and f.ndim == 2 and f.shape[1] == 3 and len(f)
        assert f.min() >= 0 and f.max() < len(v) and isinstance(mesh.name, str)
    n = s.source.n_vertices
    if s.mask is not None:
        assert s.mask.shape == (n,) and np.isfinite(s.mask).all() and (s.mask >= 0).all()
    settings_from_dict(s.settings).validate()
    assert isinstance(s.frame, int) and not isinstance(s.frame, bool) and s.frame >= 0
    r = s.result
    if r is None:
        assert s.frame == 0
    else:
        t = r.trajectory
        assert t.dtype.kind == "f" and t.ndim == 3 and t.shape[1:] == (n, 3) and len(t) and np.isfinite(t).all()
        assert s.frame < len(t)
        m = r.momenta
        assert m.dtype.kind == "f" and m.ndim == 2 and m.shape[1] == 3 and 1 <= len(m) <= n and np.isfinite(m).all()
        if r.control_index is not None:
            c = r.control_index
            assert c.shape == (len(m),) and c.min() >= 0 and c.max() < n and len(np.unique(c)) == len(c)
        assert isinstance(r.status, str) and isinstance(r.iteration, int) and r.iteration >= 0
        assert isinstance(r.info, dict) and isinstance(r.history, dict)
        assert r.levels is None or all(isinstance(level, dict) for level in r.levels)
    if s.camera is not None:
        assert np.isfinite(np.asarray(s.camera, dtype=float)).all() and np.shape(s.camera) == (3, 3)
    assert all(p is None or isinstance(p, str) for p in (s.source_path, s.target_path))
