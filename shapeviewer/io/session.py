"""Session files (``.svsession``): meshes embedded, mask, parameters, result and playback position.

A zip holding ``session.json`` (format version, settings, names, result summary) and ``arrays.npz``
(the meshes, mask, geodesic and momenta), so the file moves between machines. Reading validates
everything before returning, so a corrupt, truncated or newer file opens nothing half.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from dataclasses import asdict, dataclass, field

import numpy as np

from .meshes import Mesh
from .results import jsonable

FORMAT = "shapeviewer-session"
VERSION = 1
SUFFIX = ".svsession"


class SessionReadError(ValueError):
    """A session file that cannot be opened; the message names the file and the problem."""


@dataclass
class SessionResult:
    trajectory: np.ndarray  # (T+1, N, 3)
    momenta: np.ndarray  # (n, 3)
    status: str = "finished"
    iteration: int = 0
    loss: float = 0.0
    fidelity: float = 0.0
    energy: float = 0.0
    info: dict = field(default_factory=dict)
    history: dict = field(default_factory=dict)


@dataclass
class Session:
    source: Mesh
    target: Mesh
    settings: dict  # RegistrationSettings as a dict (see settings_from_dict)
    mask: np.ndarray | None = None
    result: SessionResult | None = None
    frame: int = 0


def session_bytes(session: Session) -> bytes:
    arrays = {
        "source_vertices": session.source.vertices, "source_faces": session.source.faces,
        "target_vertices": session.target.vertices, "target_faces": session.target.faces,
    }  # fmt: skip
    if session.mask is not None:
        arrays["mask"] = np.asarray(session.mask, dtype=np.float64)
    meta = {
        "format": FORMAT, "version": VERSION, "settings": session.settings, "frame": session.frame,
        "source_name": session.source.name, "target_name": session.target.name, "result": None,
    }  # fmt: skip
    if session.result is not None:
        r = session.result
        arrays["trajectory"], arrays["momenta"] = r.trajectory, r.momenta
        meta["result"] = {k: v for k, v in asdict(r).items() if k not in ("trajectory", "momenta")}
    npz = io.BytesIO()
    np.savez_compressed(npz, **arrays)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("session.json", json.dumps(meta, indent=1, default=jsonable))
        z.writestr("arrays.npz", npz.getvalue())
    return out.getvalue()


def read_session(path: str | os.PathLike) -> Session:
    name = os.fspath(path)
    try:
        with zipfile.ZipFile(name) as z:
            bad = z.testzip()
            if bad is not None:
                raise SessionReadError(f"{name} is damaged (member {bad} fails its checksum)")
            meta = json.loads(z.read("session.json"))
            arrays = dict(np.load(io.BytesIO(z.read("arrays.npz")), allow_pickle=False))
    except FileNotFoundError:
        raise SessionReadError(f"{name} does not exist") from None
    except (zipfile.BadZipFile, EOFError):
        raise SessionReadError(f"{name} is not a shapeviewer session or is truncated (not a complete zip)") from None
    except KeyError as exc:
        raise SessionReadError(f"{name} lacks {exc.args[0]}: not a shapeviewer session") from None
    except (ValueError, OSError) as exc:
        raise SessionReadError(f"{name} is unreadable: {exc}") from None
    return _validated(name, meta, arrays)


def _validated(name: str, meta: dict, arrays: dict) -> Session:
    if meta.get("format") != FORMAT:
        raise SessionReadError(f"{name} is not a shapeviewer session")
    version = meta.get("version")
    if not isinstance(version, int) or version > VERSION:
        raise SessionReadError(
            f"{name} was written by a newer shapeviewer (session format {version}; this one reads up to {VERSION})"
        )
    try:
        source = _mesh(arrays, "source", meta.get("source_name", "source"))
        target = _mesh(arrays, "target", meta.get("target_name", "target"))
    except KeyError as exc:
        raise SessionReadError(f"{name} lacks the array {exc.args[0]}") from None
    mask = arrays.get("mask")
    if mask is not None and mask.shape != (source.n_vertices,):
        raise SessionReadError(f"{name}: the mask has {mask.shape} values for {source.n_vertices} vertices")
    result = None
    if meta.get("result") is not None:
        traj, momenta = arrays.get("trajectory"), arrays.get("momenta")
        if traj is None or momenta is None or traj.ndim != 3 or traj.shape[1:] != source.vertices.shape:
            raise SessionReadError(f"{name}: the stored geodesic does not fit the source mesh")
        result = SessionResult(traj, momenta, **meta["result"])
    return Session(source, target, meta.get("settings", {}), mask, result, int(meta.get("frame", 0)))


def _mesh(arrays: dict, role: str, name: str) -> Mesh:
    v, f = arrays[f"{role}_vertices"], arrays[f"{role}_faces"]
    if v.ndim != 2 or v.shape[1] != 3 or f.ndim != 2 or f.shape[1] != 3 or not np.isfinite(v).all():
        raise SessionReadError(f"the stored {role} mesh is malformed ({v.shape} vertices, {f.shape} faces)")
    if f.size and (f.min() < 0 or f.max() >= len(v)):
        raise SessionReadError(f"the stored {role} mesh has face indices outside its {len(v)} vertices")
    return Mesh(v.astype(np.float64), f.astype(np.int64), name)


def settings_from_dict(data: dict):
    """RegistrationSettings from its ``asdict`` form (unknown keys are an error, missing ones default)."""
    from ..core.model import ModelSettings
    from ..core.registration import RegistrationSettings
    from ..core.sinkhorn import SinkhornSettings

    data = dict(data)
    model = dict(data.pop("model", {}))
    sinkhorn = SinkhornSettings(**model.pop("sinkhorn", {}))
    return RegistrationSettings(model=ModelSettings(sinkhorn=sinkhorn, **model), **data)
