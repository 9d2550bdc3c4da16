"""Session files (``.svsession``): meshes embedded, mask, parameters, result, playback position and camera.

A zip holding ``session.json`` (format version, settings, names, result summary, camera) and ``arrays.npz``
(the meshes, mask, geodesic, momenta and control point indices), so the file moves between machines.
Reading trusts nothing (see session_archive.py) and validates everything before returning, so a corrupt,
truncated, hostile or newer file opens nothing half; the writer runs the same checks, so what it writes
reopens. Version 1 files (no camera, paths, control indices or levels) and version 2 files (no landmarks,
alignment or layers) still open.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import zipfile
import zlib
from dataclasses import dataclass, field

import numpy as np

from . import session_checks as checks
from .meshes import Mesh
from .results import jsonable
from .session_archive import ERRORS, file_budget, read_members
from .session_checks import SessionProblem
from .session_settings import settings_from_dict as _settings_from_dict

FORMAT = "shapeviewer-session"
VERSION = 3
SUFFIX = ".svsession"
META_KEYS = ("format", "version", "settings", "frame", "source_name", "target_name", "result", "camera",
             "source_path", "target_path", "landmarks", "alignment", "layers")  # fmt: skip
RESULT_KEYS = ("status", "iteration", "loss", "fidelity", "energy", "info", "history", "levels")


class SessionReadError(ValueError):
    """A session file that cannot be opened; the message names the file and the problem."""


@dataclass
class SessionResult:
    trajectory: np.ndarray  # (T+1, N, 3)
    momenta: np.ndarray  # (n, 3), n = len(control_index) when given
    status: str = "finished"
    iteration: int = 0
    loss: float = 0.0
    fidelity: float = 0.0
    energy: float = 0.0
    info: dict = field(default_factory=dict)
    history: dict = field(default_factory=dict)
    control_index: np.ndarray | None = None  # (n,) source vertex of each momentum; None: unknown (version 1)
    levels: list[dict] | None = None  # coarse-to-fine levels as in the registration's info
    landmark_trajectory: np.ndarray | None = None  # (T+1, K, 3) the paired source landmarks along the geodesic


@dataclass
class Session:
    source: Mesh
    target: Mesh
    settings: dict  # RegistrationSettings as a dict (see settings_from_dict)
    mask: np.ndarray | None = None
    result: SessionResult | None = None
    frame: int = 0
    camera: list[tuple[float, float, float]] | None = None  # position, focal point, view-up (pyvista)
    source_path: str | None = None  # where the meshes were first read from, when known
    target_path: str | None = None
    landmarks: dict | None = None  # {"source"|"target": {label: [x, y, z]}} on the input meshes
    alignment: dict | None = None  # core.alignment.RigidTransform.to_json() of the source's pre-alignment
    layers: dict | None = None  # how each layer is drawn (the app's own JSON)


def settings_from_dict(data: dict):
    """RegistrationSettings from its ``asdict`` form; unknown keys or wrong types raise SessionReadError."""
    try:
        return _settings_from_dict(data, validate=False)
    except SessionProblem as exc:
        raise SessionReadError(str(exc)) from None


def session_bytes(session: Session) -> bytes:
    """The file's content; ValueError (naming the problem) when the session would not reopen."""
    try:
        meta, arrays = _to_meta(session)
        text = json.dumps(meta, indent=1, default=jsonable)
        _session_from(json.loads(text), arrays)
    except (SessionProblem, TypeError, ValueError) as exc:
        raise ValueError(f"cannot save the session: {exc}") from None
    npz = io.BytesIO()
    np.savez_compressed(npz, **arrays)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("session.json", text)
        z.writestr("arrays.npz", npz.getvalue())
    return out.getvalue()


def _to_meta(session: Session) -> tuple[dict, dict]:
    s = session
    arrays = {
        "source_vertices": s.source.vertices, "source_faces": s.source.faces,
        "target_vertices": s.target.vertices, "target_faces": s.target.faces,
    }  # fmt: skip
    if s.mask is not None:
        arrays["mask"] = np.asarray(s.mask, dtype=np.float64)
    camera = None if s.camera is None else [[float(x) for x in v] for v in s.camera]
    meta = {
        "format": FORMAT, "version": VERSION, "settings": s.settings, "frame": s.frame,
        "source_name": s.source.name, "target_name": s.target.name, "result": None, "camera": camera,
        "source_path": s.source_path, "target_path": s.target_path,
        "landmarks": s.landmarks, "alignment": s.alignment, "layers": s.layers,
    }  # fmt: skip
    if s.result is not None:
        r = s.result
        arrays["trajectory"], arrays["momenta"] = np.asarray(r.trajectory), np.asarray(r.momenta)
        if r.control_index is not None:
            arrays["control_index"] = np.asarray(r.control_index)
        if r.landmark_trajectory is not None:
            arrays["landmark_trajectory"] = np.asarray(r.landmark_trajectory, dtype=np.float64)
        meta["result"] = {k: getattr(r, k) for k in RESULT_KEYS}
    return meta, {k: np.asarray(v) for k, v in arrays.items()}


def read_session(path: str | os.PathLike) -> Session:
    """The checked session; SessionReadError (one line naming the file and the problem) for anything else."""
    name = os.fspath(path)
    try:
        with open(name, "rb") as fh:
            meta, arrays = read_members(fh, file_budget(fh))
        return _session_from(meta, arrays)
    except FileNotFoundError:
        problem = "does not exist"
    except IsADirectoryError:
        problem = "is a folder, not a session file"
    except KeyError as exc:
        problem = f"lacks {exc.args[0]}: not a shapeviewer session"
    except zipfile.BadZipFile as exc:
        problem = _not_a_zip(name, exc)
    except (zlib.error, EOFError) as exc:
        problem = f"is damaged (corrupt compressed data: {exc})"
    except SessionProblem as exc:
        problem = str(exc)
    except (*ERRORS, MemoryError, RecursionError) as exc:
        problem = f"is unreadable ({type(exc).__name__}: {exc})"
    raise SessionReadError(f"{name}: {' '.join(problem.split())}")


MESH_STARTS = {b"ply": "a PLY mesh", b"# vtk": "a legacy VTK file", b"<?xml": "an XML file (a VTP mesh?)",
               b"<VTKFile": "a VTP mesh", b"OFF": "an OFF mesh", b"solid": "an STL mesh"}  # fmt: skip


def _not_a_zip(name: str, exc: Exception) -> str:
    """Why a file is no session: damaged (it starts like a zip) or something else, named when recognised."""
    try:
        with open(name, "rb") as fh:
            head = fh.read(16)
    except OSError:
        head = b""
    if head.startswith(b"PK"):
        return f"is truncated or damaged (not a complete zip: {exc})"
    kind = next((what for start, what in MESH_STARTS.items() if head.lstrip().startswith(start)), None)
    if kind is None and head.lstrip()[:2] in (b"v ", b"# ", b"o ", b"mt"):
        kind = "an OBJ mesh"
    suffix = os.path.splitext(name)[1].lower()
    if kind is None and suffix in (".ply", ".obj", ".stl", ".vtk", ".vtp", ".off"):
        kind = f"a{'n' if suffix in ('.obj', '.stl', '.off') else ''} {suffix[1:].upper()} mesh (by its name)"
    if kind is not None:
        return f"is not a shapeviewer session: it looks like {kind}; open meshes with File > Open source or Open target"
    what = "is empty" if not head else "is not a zip archive"
    return f"not a shapeviewer session or is truncated or damaged ({what}: {exc})"


def _session_from(meta, arrays: dict) -> Session:
    if checks.check_dict(meta, "session.json").get("format") != FORMAT:
        raise SessionProblem("not a shapeviewer session (session.json names another format)")
    version = meta.get("version")
    if not checks.is_int(version) or version < 1:
        raise SessionProblem(f"not a shapeviewer session (format version {version!r:.40})")
    if version > VERSION:
        raise SessionProblem(
            f"written by a newer shapeviewer (session format {version}; this one reads up to {VERSION})"
        )
    checks.check_keys(meta, META_KEYS, "session.json")
    settings = checks.check_dict(meta.get("settings", {}), "the settings")
    _settings_from_dict(settings)
    source = Mesh(*checks.check_mesh(arrays, "source"), checks.check_text(meta.get("source_name", ""), "source_name"))
    target = Mesh(*checks.check_mesh(arrays, "target"), checks.check_text(meta.get("target_name", ""), "target_name"))
    mask = checks.check_mask(arrays.get("mask"), source.n_vertices)
    result = _result(meta.get("result"), arrays, source.n_vertices)
    frame = meta.get("frame", 0)
    if result is None and version == 1 and checks.is_int(frame) and frame > 0:
        frame = 0  # version 1 kept a stale playback position after the result was cleared
    frame = checks.check_frame(frame, 0 if result is None else len(result.trajectory))
    camera = checks.check_camera(meta.get("camera"))
    paths = [checks.check_text(meta.get(f"{r}_path"), f"{r}_path", optional=True) for r in ("source", "target")]
    landmarks = checks.check_landmarks(meta.get("landmarks"))
    alignment = checks.check_alignment(meta.get("alignment"))
    layers = None if meta.get("layers") is None else checks.check_dict(meta["layers"], "the layers")
    if result is not None and landmarks is not None:
        result.landmark_trajectory = checks.check_landmark_trajectory(
            arrays.get("landmark_trajectory"), len(result.trajectory)
        )
    return Session(source, target, settings, mask, result, frame, camera, *paths, landmarks, alignment, layers)


def _result_defaults() -> dict:
    fields = {f.name: f for f in dataclasses.fields(SessionResult) if f.name in RESULT_KEYS}
    return {k: f.default if f.default is not dataclasses.MISSING else f.default_factory() for k, f in fields.items()}


def _result(summary, arrays: dict, n_vertices: int) -> SessionResult | None:
    if summary is None:
        return None
    checks.check_keys(checks.check_dict(summary, "the result"), RESULT_KEYS, "the result")
    r = {**_result_defaults(), **summary}
    checks.check_text(r["status"], "the result's status")
    if not checks.is_int(r["iteration"]) or r["iteration"] < 0:
        raise SessionProblem(f"the result's iteration {r['iteration']!r:.40} is not a count")
    for key in ("loss", "fidelity", "energy"):
        if not checks.is_number(r[key]):
            raise SessionProblem(f"the result's {key} {r[key]!r:.40} is not a number")
    control = checks.check_control_index(arrays.get("control_index"), n_vertices)
    return SessionResult(
        checks.check_geodesic(arrays.get("trajectory"), n_vertices),
        checks.check_momenta(arrays.get("momenta"), control, n_vertices),
        r["status"], r["iteration"], r["loss"], r["fidelity"], r["energy"],
        checks.check_dict(r["info"], "the result's info"), checks.check_history(r["history"]),
        control, checks.check_levels(r["levels"]),
    )  # fmt: skip
