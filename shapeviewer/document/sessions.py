"""The document to and from a session file's contents (``io.session``): what Save writes and Open restores."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import numpy as np

from ..core.alignment import RigidTransform
from ..core.registration import Report
from ..io.session import Session, SessionResult, settings_from_dict
from .history import LossHistory
from .landmarks import LandmarkPairs
from .state import Document, Result


def to_session(doc: Document) -> Session:
    result = None
    if doc.result is not None:
        rep, info = doc.result.report, dict(doc.result.info)
        info["report_fidelity_initial"] = rep.fidelity_initial  # of the level the result comes from
        status = "interrupted" if rep.status == "running" else rep.status  # saved while its run went on
        result = SessionResult(
            rep.trajectory, rep.momenta, status, rep.iteration, rep.loss, rep.fidelity, rep.energy,
            info, doc.history.as_dict(), control_index=doc.result.control_index, levels=info.get("levels"),
            landmark_trajectory=rep.landmark_trajectory,
        )  # fmt: skip
    return Session(
        doc.meshes["source"], doc.meshes["target"], asdict(doc.settings), doc.mask, result, doc.frame,
        camera=doc.camera, source_path=_path(doc, "source"), target_path=_path(doc, "target"),
        landmarks=doc.landmarks.to_json() if doc.landmarks else None,
        alignment=None if doc.alignment is None else doc.alignment.to_json(),
    )  # fmt: skip


def _path(doc: Document, role: str) -> str | None:
    path = doc.paths.get(role)
    return None if path is None else str(path)


def session_paths(session: Session) -> dict[str, Path]:
    """Where the meshes came from when the session knows, else their names."""
    known = {"source": session.source_path, "target": session.target_path}
    return {role: Path(known[role] or getattr(session, role).name) for role in known}


def saved_report(trajectory, momenta, status, iteration, loss, fidelity, energy, info: dict, message: str,
                 landmark_trajectory=None) -> Report:  # fmt: skip
    """A finished run's Report rebuilt from saved numbers (a session's result, a result folder's result.json);
    ``info`` gives the initial fidelity of the level the result comes from."""
    initial = float(info.get("report_fidelity_initial") or info.get("fidelity_initial") or 0.0)
    return Report(
        iteration, loss, fidelity, energy, 0.0, np.asarray(trajectory), np.asarray(momenta), status, message,
        fidelity_initial=initial, landmark_trajectory=landmark_trajectory,
    )  # fmt: skip


def restored_result(session: Session) -> tuple[Result, LossHistory] | None:
    r = session.result
    if r is None:
        return None
    info = dict(r.info)
    report = saved_report(r.trajectory, r.momenta, r.status, r.iteration, r.loss, r.fidelity, r.energy, info,
                          "restored from a session", r.landmark_trajectory)  # fmt: skip
    index = None if r.control_index is None else np.asarray(r.control_index, dtype=np.int64)
    return Result(report, index, info), LossHistory.from_dict(r.history or {})


def restore_landmarks_and_alignment(doc: Document, session: Session) -> None:
    """The session's landmarks and pre-alignment into ``doc`` (after its meshes; before its result)."""
    doc.landmarks.restore(LandmarkPairs.from_json(session.landmarks or {}))
    doc.set_alignment(None if session.alignment is None else RigidTransform.from_json(session.alignment))


def session_settings(session: Session):
    settings = settings_from_dict(session.settings)
    settings.validate()
    return settings
