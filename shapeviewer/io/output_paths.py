"""One check of an output path before any work starts: where results may go, and never onto an input."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Iterable
from pathlib import Path

# root may write there; in /usr, /usr/local and /usr/src are left to the user (a container's WORKDIR, say)
SYSTEM_TREES = tuple(Path(p) for p in ("/proc", "/sys", "/dev", "/etc", "/usr", "/bin", "/sbin", "/boot", "/lib",
                                        "/lib32", "/lib64", "/libx32"))  # fmt: skip
USER_TREES = (Path("/usr/local"), Path("/usr/src"))
RESULT_ENTRIES = {
    "frames", "result.json", "momenta.npy", "mu.npy", "lambda.npy", "mask.npy", "control_points.npy",
    "deformed.vtp", "target.vtp",
}  # fmt: skip


def os_error_words(exc: OSError) -> str:
    """An OSError as a sentence ('/x/y.vtp: its folder /x does not exist'), not Python's '[Errno 2] ...'."""
    if not exc.strerror:
        return str(exc)
    path = Path(os.fsdecode(exc.filename)) if exc.filename else None
    if path is not None and isinstance(exc, FileNotFoundError) and not path.parent.is_dir():
        return f"{path}: its folder {path.parent} does not exist"
    return f"{path}: {exc.strerror}" if path is not None else exc.strerror


class OutputPathError(ValueError):
    """An output location that cannot or must not be written; the message names it and why."""


def _resolved(path: Path) -> Path:
    return Path(os.path.realpath(path))


def _is_within(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def _existing_ancestor(path: Path) -> Path:
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return Path("/")


def _check_writable_folder(folder: Path, out: Path) -> None:
    if not folder.is_dir():
        raise OutputPathError(f"cannot write {out}: {folder} is not a folder")
    if not folder.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH):
        raise OutputPathError(f"cannot write {out}: folder {folder} is read-only")
    try:  # the only sure test: read-only mounts, permissions, quotas
        handle, probe = tempfile.mkstemp(prefix=".shapeviewer-probe.", dir=folder)
        os.close(handle)
        os.unlink(probe)
    except OSError as exc:
        raise OutputPathError(f"cannot write {out}: {folder}: {exc.strerror or exc}") from None


def _common_checks(text: str | os.PathLike, inputs: Iterable[os.PathLike]) -> tuple[Path, Path]:
    if not str(text).strip():
        raise OutputPathError("the output path is empty")
    out = Path(text)
    real = _resolved(out)
    if real == Path(real.anchor):
        raise OutputPathError(f"cannot write {out}: it is the file system's root; name a new folder")
    for tree in SYSTEM_TREES:
        if _is_within(real, tree) and not any(_is_within(real, mine) for mine in USER_TREES):
            raise OutputPathError(f"cannot write {out}: {tree} is a system folder, not a place for results")
    for given in inputs:
        source = _resolved(Path(given))
        if source == real or _is_within(source, real):
            raise OutputPathError(f"{out} would overwrite the input {given}: choose another output")
    _check_writable_folder(_existing_ancestor(real.parent), out)
    return out, real


def check_output_folder(text: str | os.PathLike, inputs: Iterable[os.PathLike] = ()) -> Path:
    """A result folder: new, or an earlier result (replaced whole); never a file or someone else's folder."""
    out, real = _common_checks(text, inputs)
    if real.exists() and not real.is_dir():
        raise OutputPathError(f"cannot write results to {out}: it is a file, not a folder")
    if _is_within(_resolved(Path.cwd()), real):
        raise OutputPathError(f"cannot write results to {out}: it is (or holds) the current folder; name a new one")
    if real.is_dir():
        foreign = sorted(p.name for p in real.iterdir() if p.name not in RESULT_ENTRIES)
        if foreign:
            raise OutputPathError(
                f"{out} exists and holds other files ({', '.join(foreign[:3])}): it is not a result folder to replace"
            )
        _check_writable_folder(real, out)
    clean_stale_partials(real)
    return out


def check_output_file(text: str | os.PathLike, inputs: Iterable[os.PathLike] = ()) -> Path:
    """A single output file (a movie): not a folder, not an input."""
    out, real = _common_checks(text, inputs)
    if real.is_dir():
        raise OutputPathError(f"cannot write {out}: it is a folder")
    if real.exists() and not real.is_file():
        raise OutputPathError(f"cannot write {out}: it is not a regular file")
    clean_stale_partials(real)
    return out


def partial_prefix(final: Path) -> str:
    """Hidden work names next to ``final`` carry the writer's process id, so stale ones can be recognised."""
    return f".{final.name}.partial.{os.getpid()}."


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_stale_partials(final: Path) -> None:
    """Remove ``.NAME.partial.PID.*`` left next to ``final`` by a run that was killed."""
    pattern = re.compile(rf"^\.{re.escape(final.name)}\.(?:partial|old)\.(\d+)\.")
    legacy = final.with_name(f".{final.stem}.partial{final.suffix}")  # what earlier exports named it
    with contextlib.suppress(OSError):
        if final.suffix and legacy.is_file():
            legacy.unlink()
        for entry in final.parent.iterdir():
            match = pattern.match(entry.name)
            if match and int(match.group(1)) != os.getpid() and not _alive(int(match.group(1))):
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry, ignore_errors=True)
                else:
                    entry.unlink(missing_ok=True)
