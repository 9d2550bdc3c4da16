"""The one assertion of the hostile suite: refused with exit 2, one line naming the problem, nothing else."""

from __future__ import annotations

import collections
import contextlib
import hashlib
import io
import sys
from pathlib import Path

from shapeviewer.cli import main

CASES: collections.Counter = collections.Counter()  # generated cases checked, per test module (summary at the end)


def count(n: int = 1) -> None:
    CASES[sys._getframe(1).f_globals["__name__"].rsplit(".", 1)[-1]] += n


FAST = ["--iterations", "1", "--steps", "2", "--control-points", "20", "--backend", "torch"]


def run(argv: list) -> tuple[int, list[str]]:
    """main(argv) in this process: exit status and the lines of stderr."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            code = main([str(a) for a in argv])
        except SystemExit as exc:  # argparse
            code = exc.code
    return code, err.getvalue().strip().splitlines()


def digest(*paths: Path) -> dict:
    """Hashes of every file under ``paths``: inputs must read the same after a refusal."""
    out = {}
    for root in paths:
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for f in files:
            out[str(f)] = hashlib.sha256(f.read_bytes()).hexdigest()
    return out


def assert_refused(argv: list, out: Path, inputs: list[Path], mentions: str | tuple[str, ...] = ()) -> str:
    """Exit 2, one line on stderr (no traceback) naming the problem, nothing at ``out``, inputs untouched."""
    before = digest(*inputs)
    siblings = set(out.parent.iterdir()) if out.parent.is_dir() else set()
    code, lines = run(argv)
    text = "\n".join(lines)
    assert code == 2, f"exit {code} for {argv}: {text}"
    assert len(lines) == 1 and lines[0].startswith("shapeviewer: error: "), text
    assert "Traceback" not in text
    for word in (mentions,) if isinstance(mentions, str) else mentions:
        assert word.lower() in text.lower(), f"'{word}' not in: {text}"
    assert not out.exists() or out in siblings, f"{out} was written"
    if out.parent.is_dir():
        assert set(out.parent.iterdir()) == siblings, "something was written next to the output"
    assert digest(*inputs) == before, "an input changed"
    CASES[sys._getframe(1).f_globals["__name__"].rsplit(".", 1)[-1]] += 1
    return lines[0]
