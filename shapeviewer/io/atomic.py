"""Writes that either complete or raise: bytes synced to disk, folders built aside and renamed when whole."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path

from .output_paths import partial_prefix


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write and sync ``data``; a full disk or a read-only folder raises OSError, never a short file."""
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def partial_sibling(final: Path) -> Path:
    """A fresh hidden folder next to ``final`` (same file system, so the rename is atomic)."""
    folder = Path(tempfile.mkdtemp(prefix=partial_prefix(final), dir=final.parent))
    os.chmod(folder, 0o777 & ~_umask())  # mkdtemp makes it private; the result gets the usual mode
    return folder


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def commit_folder(partial: Path, final: Path) -> None:
    """Put the complete ``partial`` folder at ``final``, replacing an earlier result there."""
    if not final.exists():
        os.replace(partial, final)
        return
    old = Path(tempfile.mkdtemp(prefix=partial_prefix(final).replace(".partial.", ".old."), dir=final.parent))
    os.replace(final, old / "previous")
    try:
        os.replace(partial, final)
    except OSError:
        os.replace(old / "previous", final)  # put the earlier result back
        raise
    finally:
        shutil.rmtree(old, ignore_errors=True)


def remove_quietly(path: Path) -> None:
    with contextlib.suppress(OSError):
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
