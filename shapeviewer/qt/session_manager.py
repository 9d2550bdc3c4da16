"""Save and reopen sessions (QSaveFile: all or nothing), the modified flag, autosave and crash recovery."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, QSaveFile, QStandardPaths, QTimer, Signal
from PySide6.QtWidgets import QFileDialog, QMessageBox

from ..core.errors import InputError
from ..document.sessions import (
    restore_landmarks_and_alignment,
    restored_result,
    session_paths,
    session_settings,
    to_session,
)
from ..io.session import SUFFIX, Session, SessionReadError, read_session, session_bytes
from . import settings_store
from .busy import busy_cursor
from .layers import layers_state, restore_layers

AUTOSAVE_MS = 60_000
FILTER = f"shapeviewer sessions (*{SUFFIX})"


def recovery_folder() -> Path:
    return Path(QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation))


def default_recovery_path() -> Path:
    """One autosave file per running app (several may run at once), named after its process."""
    return recovery_folder() / f"recovery-{os.getpid()}{SUFFIX}"


def orphaned_recoveries(folder: Path) -> list[Path]:
    """Autosave files of apps that are no longer running (they crashed or were killed), newest first."""
    found = []
    for path in folder.glob(f"recovery*{SUFFIX}"):
        pid = path.stem.removeprefix("recovery-")
        if pid.isdigit() and _alive(int(pid)):
            continue
        found.append(path)
    return sorted(found, key=lambda p: p.stat().st_mtime, reverse=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True


def _commit(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` all or nothing (QSaveFile: the old file stays intact when anything fails)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    out = QSaveFile(str(path))
    if not out.open(QSaveFile.OpenModeFlag.WriteOnly):
        raise OSError(f"cannot write {path}: {out.errorString()}")
    out.write(data)
    if not out.commit():
        raise OSError(f"cannot write {path}: {out.errorString()}")


class SessionManager(QObject):
    autosave_failed = Signal(str)  # from the autosave thread

    def __init__(self, window, recovery_path: Path | None = None):
        super().__init__(window)
        self.window = window
        self.path: Path | None = None
        self.recovery_path = recovery_path or default_recovery_path()
        self._autosaving: threading.Thread | None = None
        self.autosave_failed.connect(lambda message: window.log_panel.add(f"autosave failed: {message}"))
        self.autosave_timer = QTimer(self)
        self.autosave_timer.setInterval(AUTOSAVE_MS)
        self.autosave_timer.timeout.connect(self.autosave)
        self.autosave_timer.start()
        self.update_title()

    # ---- state -> file ------------------------------------------------------------------------
    def capture(self) -> Session:
        """The document as a session, with the result view's camera of the moment."""
        w = self.window
        w.doc.set_camera(w.result.view.camera_position.to_list())
        session = to_session(w.doc)
        session.layers = {**layers_state(w), "display": w.display.state(), "tracked": w.correspondence.state()}
        return session

    def _write(self, path: Path) -> None:
        _commit(path, session_bytes(self.capture()))

    def save(self, path: Path | None = None) -> bool:
        path = path or self.path
        if path is None:
            return self.save_as()
        if self.window.run.running:
            self.window.show_error("Registration running", "Stop the registration before saving the session.")
            return False
        try:
            self._write(Path(path))
        except (OSError, ValueError, KeyError) as exc:
            self.window.show_error("Cannot save the session", str(exc).removeprefix("cannot save the session: "))
            return False
        self.path = Path(path)
        self.window.setWindowModified(False)
        if Path(path) != self.recovery_path:
            settings_store.remember_session(Path(path))
            self.window.actions.refresh_recent()
        self.update_title()
        self.window.status_line.setText(f"Saved the session to {path}")
        self.window.log_panel.add(f"saved session {path}")
        return True

    def save_as(self) -> bool:
        start = str(self.path or Path(settings_store.last_folder()) / f"registration{SUFFIX}")
        name, _ = QFileDialog.getSaveFileName(self.window, "Save session", start, FILTER)
        if not name:
            return False
        path = Path(name) if name.endswith(SUFFIX) else Path(name + SUFFIX)
        settings_store.remember_folder(path)
        return self.save(path)

    def autosave(self, wait: bool = False) -> None:
        """Write the recovery file when there are unsaved changes, also during a run (its newest geodesic is
        kept as an interrupted result), so that a crash or a kill loses at most a minute. The state is taken
        here; compressing and writing it (2 s for a 200k-vertex result) happen in a thread, not to freeze the
        window; one at a time (a tick meanwhile is skipped). ``wait``: the state of now, written when it returns."""
        w = self.window
        if wait:
            self._join_autosave()
        busy = self._autosaving is not None and self._autosaving.is_alive()
        if w.isWindowModified() and w.doc.ready and not busy:
            session = self.capture()
            if session.mask is not None:
                session.mask = np.array(session.mask)  # a brush stroke may change it meanwhile
            self._autosaving = threading.Thread(
                target=self._autosave, args=(session, self.recovery_path), name="shapeviewer-autosave", daemon=True
            )
            self._autosaving.start()
        if wait:
            self._join_autosave()

    def _autosave(self, session: Session, path: Path) -> None:
        try:
            _commit(path, session_bytes(session))
        except Exception as exc:  # any failure is said in the log (queued to the window's thread)
            said = isinstance(exc, (OSError, ValueError, KeyError))  # these name the problem themselves
            self.autosave_failed.emit(str(exc) if said else f"{type(exc).__name__}: {exc}")

    def _join_autosave(self) -> None:
        if self._autosaving is not None:
            self._autosaving.join()

    def discard_recovery(self) -> None:
        """A clean exit: nothing to recover next time (no autosave after this, the one being written ends first)."""
        self.autosave_timer.stop()
        self._join_autosave()
        self.recovery_path.unlink(missing_ok=True)

    # ---- file -> state ------------------------------------------------------------------------
    def open_dialog(self) -> None:
        name, _ = QFileDialog.getOpenFileName(self.window, "Open session", settings_store.last_folder(), FILTER)
        if name:
            self.open(Path(name))

    def open(self, path: Path, recovered: bool = False) -> bool:
        """Read, validate, then show: a file that fails opens nothing (a dialog says why)."""
        w = self.window
        if w.run.running:
            w.show_error("Registration running", "Stop the registration before opening a session.")
            return False
        if not recovered and not w.may_replace_result(f"opening {Path(path).name}"):
            return False
        try:
            session = read_session(path)
            settings = session_settings(session)
            restored = restored_result(session)
        except (SessionReadError, InputError, TypeError, ValueError) as exc:
            w.show_error("Cannot open the session", f"{path}: {exc}" if str(path) not in str(exc) else str(exc))
            return False
        meshes = {"source": session.source, "target": session.target}
        with busy_cursor():
            w.install_meshes(meshes, session_paths(session), remember=False)
            w.parameters.apply_settings(settings)
            w.doc.set_settings(settings)
            if session.mask is not None:
                w.paint.set_weights(session.mask, record=False)
            restore_landmarks_and_alignment(w.doc, session)
            if w.doc.alignment is not None:
                w.parameters.measure_by(w.doc.aligned_source())  # as after Align: the run's source is that one
            if session.camera is not None:
                w.doc.set_camera(session.camera)
                w.result.view.camera_position = session.camera
            if restored is not None:
                w.doc.restore(*restored, session.frame)
            self._restore_layers(session.layers)
        self.path = None if recovered else Path(path)
        if not recovered:
            settings_store.remember_session(Path(path))
            w.actions.refresh_recent()
        w.setWindowModified(recovered)
        self.update_title()
        w.status_line.setText(f"{'Recovered' if recovered else 'Opened'} the session {path}")
        w.log_panel.add(f"opened session {path}")
        return True

    def _restore_layers(self, state: dict | None) -> None:
        """How the layers were drawn; a state this version cannot apply is said, and the rest still opens."""
        if state is None:
            return
        try:
            display = state.get("display")
            if display is not None:
                self.window.display.restore(display)
            self.window.correspondence.restore(state.get("tracked"))
            restore_layers(self.window, {k: v for k, v in state.items() if k not in ("display", "tracked")})
        except (ValueError, TypeError, AttributeError) as exc:
            self.window.log_panel.add(f"warning: the session's layer settings were not applied: {exc}")

    def update_title(self) -> None:
        name = self.path.name if self.path else "untitled"
        self.window.setWindowTitle(f"{name}[*] — shapeviewer")

    def offer_recovery(self, ask=None) -> bool:
        """After a crash: offer the newest autosave left by an app that is not running any more (or this
        window's own file, when set). ``ask()`` -> bool replaces the dialog in tests."""
        own = self.recovery_path if self.recovery_path.exists() else None
        orphans = [own] if own is not None else orphaned_recoveries(self.recovery_path.parent)
        if not orphans:
            return False
        if ask is None:
            answer = QMessageBox.question(
                self.window,
                "Restore the last session?",
                "shapeviewer did not close normally. Restore the autosaved session?",
            )
            keep = answer == QMessageBox.StandardButton.Yes
        else:
            keep = ask()
        restored = keep and self.open(orphans[0], recovered=True)
        if restored:
            self.autosave(wait=True)  # under this window's own name, before the orphan goes
        for path in orphans:  # restored (now this window's unsaved work, autosaved under its own name) or declined
            if path != self.recovery_path or not restored:
                path.unlink(missing_ok=True)
        return restored
