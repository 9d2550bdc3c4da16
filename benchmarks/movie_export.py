"""Time and memory of exporting 120 frames at 1280x720 of a 50k-vertex deformation (off screen, CPU).

    .venv/bin/python benchmarks/movie_export.py [--vertices 50000] [--frames 120]

Prints the wall time against the 60 s target, and the resident memory after the first quarter of the
frames and at the end: frames are streamed to ffmpeg, so the second should not grow with the frames.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from meshes import mesh_of_size, smooth_deformation  # noqa: E402


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--vertices", type=int, default=50_000)
    parser.add_argument("--frames", type=int, default=120)
    args = parser.parse_args()
    from shapeviewer.render.movie import MovieSettings, write_movie

    vertices, faces = mesh_of_size(args.vertices)
    target = smooth_deformation(vertices)
    steps = 10
    trajectory = np.stack([vertices + t * (target - vertices) for t in np.linspace(0, 1, steps + 1)])
    per_step = max(1, round((args.frames - 1) / steps))
    settings = MovieSettings(size=(1280, 720), fps=30, frames_per_step=per_step, caption="benchmark")
    samples: dict[int, float] = {}
    quarter = (steps * per_step + 1) // 4

    def progress(done: int, total: int) -> bool:
        if done in (1, quarter, total):
            samples[done] = rss_mb()
        return True

    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        out = write_movie(Path(folder) / "bench.mp4", trajectory, faces, (target, faces), settings, progress=progress)
        seconds = time.perf_counter() - start
        size_mb = out.stat().st_size / 1e6
    total = steps * per_step + 1
    print(
        f"{total} frames of {len(vertices)} vertices at 1280x720: {seconds:.1f} s "
        f"({1000 * seconds / total:.0f} ms per frame; target 60 s: ratio {seconds / 60:.2f}); file {size_mb:.1f} MB"
    )
    print(
        f"resident memory: {samples[1]:.0f} MB after frame 1, {samples[quarter]:.0f} MB after frame {quarter}, "
        f"{samples[total]:.0f} MB after frame {total} (growth over the last 3/4: "
        f"{samples[total] - samples[quarter]:+.0f} MB)"
    )


if __name__ == "__main__":
    main()
