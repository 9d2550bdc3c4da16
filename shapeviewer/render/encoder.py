"""ffmpeg (imageio-ffmpeg's binary) fed raw RGB frames through a pipe; every exit status checked.

MP4: H.264 in one pass. GIF: frames go losslessly (FFV1) to a work file, then a palette made for this
movie (palettegen) is applied to it (paletteuse): colours close to the rendering, a file a few times the MP4's
size, and memory bounded whatever the movie's length.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import numpy as np


class EncoderError(OSError):
    """ffmpeg failed; the message is its last line of output."""


def _ffmpeg() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def _last_line(log: Path, returncode: int) -> str:
    try:
        lines = [ln.strip() for ln in log.read_text(errors="replace").splitlines() if ln.strip()]
    except OSError:
        lines = []
    return f"ffmpeg failed ({lines[-1][:200] if lines else f'exit status {returncode}'})"


def _run(args: list[str], work: Path) -> None:
    log = work / "ffmpeg.log"
    with open(log, "wb") as err:
        done = subprocess.run([_ffmpeg(), "-nostdin", "-y", "-loglevel", "error", *args], stderr=err, check=False)
    if done.returncode != 0:
        raise EncoderError(_last_line(log, done.returncode))


class FramePipe:
    """Raw (H, W, 3) uint8 frames into ffmpeg; ``close()`` waits and raises EncoderError if it failed."""

    def __init__(self, path: Path, size: tuple[int, int], fps: int, work: Path):
        self.path, self.work = path, work
        self.gif = path.suffix.lower() == ".gif"
        w, h = size
        source = ["-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}", "-r", str(fps), "-i", "-"]
        if self.gif:
            self.lossless = work / "frames.mkv"
            target = ["-c:v", "ffv1", "-pix_fmt", "bgr0", str(self.lossless)]
        else:
            target = ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-crf", "18", "-f", "mp4", str(path)]
        self.log = work / "pipe.log"
        self._err = open(self.log, "wb")  # noqa: SIM115  closed in close()/kill()
        self.process = subprocess.Popen(
            [_ffmpeg(), "-nostdin", "-y", "-loglevel", "error", *source, *target],
            stdin=subprocess.PIPE,
            stderr=self._err,
        )

    def send(self, frame: np.ndarray) -> None:
        try:
            self.process.stdin.write(np.ascontiguousarray(frame, dtype=np.uint8).tobytes())
        except (BrokenPipeError, OSError):
            self.process.wait()
            raise EncoderError(_last_line(self.log, self.process.returncode)) from None

    def close(self) -> None:
        try:
            self.process.stdin.close()
        except OSError:
            pass  # ffmpeg already gone: its exit status says why
        returncode = self.process.wait()
        self._err.close()
        if returncode != 0:
            raise EncoderError(_last_line(self.log, returncode))
        if self.gif:
            palette = self.work / "palette.png"
            _run(
                ["-i", str(self.lossless), "-vf", "palettegen=stats_mode=full:max_colors=128", str(palette)], self.work
            )
            lavfi = "paletteuse=dither=none:diff_mode=rectangle"
            inputs = ["-i", str(self.lossless), "-i", str(palette)]
            _run([*inputs, "-lavfi", lavfi, "-f", "gif", str(self.path)], self.work)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        self._err.close()


def work_folder(next_to: Path) -> tempfile.TemporaryDirectory:
    """Scratch space next to the movie (same disk): the partial movie, ffmpeg's logs, a GIF's lossless frames.

    Named ``.NAME.partial.PID.*`` so that what a killed run leaves is recognised and removed by the next.
    """
    from ..io.output_paths import partial_prefix

    return tempfile.TemporaryDirectory(prefix=partial_prefix(next_to), dir=next_to.parent)
