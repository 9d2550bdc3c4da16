"""Wall time of ``shapeviewer register finger0.ply finger1.ply`` with default settings until the
fidelity has dropped by 95%, read from the command's own progress lines (KeOps cache warmed first).
    .venv/bin/python benchmarks/registration_time.py [--iterations 15] [extra CLI options...]
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "tests" / "data"
# "iter    3  loss ...  fidelity ... (mismatch down 93.5%)  energy ...  12.3 s"; "unchanged" and "up" count as 0
PROGRESS = re.compile(
    r"iter\s+(\d+)\s+loss \S+\s+fidelity \S+ \(mismatch (?:down [<>]? ?([\d.]+)%|[^)]*)\).*?([\d.]+) s$"
)


def run(extra: list[str], iterations: int) -> tuple[float, list[tuple[int, float, float]]]:
    with tempfile.TemporaryDirectory() as out:
        cmd = [sys.executable, "-m", "shapeviewer", "register", str(DATA / "finger0.ply"), str(DATA / "finger1.ply"),
               "--out", out, "--iterations", str(iterations), *extra]  # fmt: skip
        start = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, check=True)
        wall = time.perf_counter() - start
    rows = [(int(m[1]), float(m[2] or 0), float(m[3])) for m in map(PROGRESS.search, proc.stderr.splitlines()) if m]
    return wall, rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--iterations", type=int, default=15)
    a, extra = parser.parse_known_args()
    run(extra, 1)  # compiles any KeOps formula the run needs
    wall, rows = run(extra, a.iterations)
    hit = next((r for r in rows if r[1] >= 95.0), None)
    print(f"register finger0 -> finger1 {' '.join(extra) or '(defaults)'}: process wall {wall:.1f} s")
    if hit:
        print(f"95% fidelity drop at iteration {hit[0]}, {hit[2]:.1f} s into the optimisation "
              f"(target 60 s): ratio {hit[2] / 60:.2f}")  # fmt: skip
    else:
        print(f"95% not reached in {a.iterations} iterations; best drop {max(r[1] for r in rows):.1f}%")
    print(f"final drop {rows[-1][1]:.1f}% after {rows[-1][0]} iterations, {rows[-1][2]:.1f} s")


if __name__ == "__main__":
    main()
