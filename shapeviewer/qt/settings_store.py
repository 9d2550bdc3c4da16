"""Persistent preferences (QSettings): recent pairs and sessions, what to reopen, last folder, window layout."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings

MAX_RECENT = 8


def app_settings() -> QSettings:
    return QSettings("shapeviewer", "shapeviewer")


def recent_pairs() -> list[tuple[str, str]]:
    raw = app_settings().value("recentPairs", [])
    if isinstance(raw, str):
        raw = [raw]
    pairs = []
    for item in raw or []:
        source, sep, target = str(item).partition("|")
        if sep:
            pairs.append((source, target))
    return pairs


def remember_pair(source: Path, target: Path) -> None:
    """A recent pair, unless it is the bundled demo's (as File > Open demo, also when opened by its paths)."""
    if _in_demo_folder(source) and _in_demo_folder(target):
        return
    entry = (str(source), str(target))
    pairs = [entry] + [p for p in recent_pairs() if p != entry]
    store = app_settings()
    store.setValue("recentPairs", [f"{s}|{t}" for s, t in pairs[:MAX_RECENT]])
    store.setValue("lastOpened", f"pair|{source}|{target}")


def last_folder() -> str:
    return str(app_settings().value("lastFolder", str(Path.home())))


def remember_folder(path: Path) -> None:
    """The folder of ``path`` for the next file dialog; not the bundled demo's (read-only when installed, and not
    where the user keeps files), also when the demo pair is opened by its paths."""
    if _in_demo_folder(path):
        return
    app_settings().setValue("lastFolder", str(Path(path).parent))


def _in_demo_folder(path: Path) -> bool:
    from ..io.demo import demo_folder

    return Path(path).parent.resolve() == demo_folder().resolve()


def recent_sessions() -> list[str]:
    raw = app_settings().value("recentSessions", [])
    return [str(p) for p in ([raw] if isinstance(raw, str) else raw or [])]


def remember_session(path: Path) -> None:
    entry = str(path)
    sessions = [entry] + [p for p in recent_sessions() if p != entry]
    s = app_settings()
    s.setValue("recentSessions", sessions[:MAX_RECENT])
    s.setValue("lastOpened", f"session|{entry}")
    remember_folder(path)


def last_opened() -> tuple[str, ...] | None:
    """('session', path) or ('pair', source, target): what a plain start reopens; None the first time."""
    kind, _, rest = str(app_settings().value("lastOpened", "") or "").partition("|")
    if kind == "session" and rest:
        return ("session", rest)
    source, sep, target = rest.partition("|")
    if kind == "pair" and sep:
        return ("pair", source, target)
    return None
