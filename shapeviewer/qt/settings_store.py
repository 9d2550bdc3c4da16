"""Persistent preferences (QSettings): recent source/target pairs, last folder, window layout."""

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
    entry = (str(source), str(target))
    pairs = [entry] + [p for p in recent_pairs() if p != entry]
    app_settings().setValue("recentPairs", [f"{s}|{t}" for s, t in pairs[:MAX_RECENT]])


def last_folder() -> str:
    return str(app_settings().value("lastFolder", str(Path.home())))


def remember_folder(path: Path) -> None:
    app_settings().setValue("lastFolder", str(path.parent))
