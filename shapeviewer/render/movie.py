"""Movies of a geodesic deformation, rendered off screen and streamed frame by frame to ffmpeg.

MP4 (H.264) or GIF (a palette made for the movie), chosen by the suffix. Frames go straight to the
encoder, never into memory as a whole; the file appears under its name only once complete (written in
a hidden ``.NAME.partial.PID.*`` folder, then renamed), so a cancelled, failed or terminated export
leaves nothing half-written behind, and what a killed one left is removed by the next export.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .encoder import EncoderError, FramePipe, work_folder

FORMATS = (".mp4", ".gif")
CAPTION_MARGIN = 0.02  # of the frame's height, above and beside the caption and the time label
UPPER_RIGHT = 3  # vtkCornerAnnotation's corner index
CHAR_WIDTH = 0.6  # of the font size: a sans-serif character's mean width
SMALLEST_FONT = 7  # pixels: texts smaller than this cannot be read


class MovieError(ValueError):
    """Settings or a path that cannot give a movie; the message names the problem."""


class MovieCancelled(Exception):
    pass


@dataclass
class MovieSettings:
    size: tuple[int, int] = (1280, 720)
    fps: int = 30
    frames_per_step: int = 4  # rendered frames per time step of the geodesic (interpolated in between)
    pingpong: bool = False
    show_target: bool = True
    color_by_displacement: bool = True
    caption: str = ""
    time_label: bool = True  # "t = 0.50" in the upper right corner: where along the geodesic the frame is

    def validate(self, path: Path) -> None:
        if path.suffix.lower() not in FORMATS:
            raise MovieError(f"unsupported movie format '{path.suffix}' for {path.name} (use .mp4 or .gif)")
        w, h = self.size
        if not (16 <= w <= 7680 and 16 <= h <= 4320):
            raise MovieError(f"movie size {w}x{h} is out of range (16x16 to 7680x4320)")
        if path.suffix.lower() == ".mp4" and (w % 2 or h % 2):
            raise MovieError(f"MP4 (H.264) needs an even width and height, got {w}x{h}")
        if not 1 <= self.fps <= 120:
            raise MovieError(f"frames per second must be within 1-120, got {self.fps}")
        if not 1 <= self.frames_per_step <= 100:
            raise MovieError(f"frames per step must be within 1-100, got {self.frames_per_step}")


def parse_size(text: str) -> tuple[int, int]:
    """'1280x720' -> (1280, 720)."""
    parts = text.lower().split("x")
    if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
        raise MovieError(f"size must look like 1280x720, got '{text}'")
    return int(parts[0]), int(parts[1])


def movie_times(n_frames: int, settings: MovieSettings) -> np.ndarray:
    """Times in frame units (0 .. n_frames-1) of every movie frame, forward then back for ping-pong."""
    last = n_frames - 1
    forward = np.linspace(0.0, last, last * settings.frames_per_step + 1) if last > 0 else np.zeros(1)
    return np.concatenate([forward, forward[-2::-1]]) if settings.pingpong and last > 0 else forward


def interpolate(trajectory: np.ndarray, time: float) -> np.ndarray:
    """Linear interpolation of the (T+1, N, 3) trajectory at a fractional frame index."""
    if len(trajectory) == 1:
        return trajectory[0]
    i = min(int(np.floor(time)), len(trajectory) - 2)
    a = time - i
    return (1 - a) * trajectory[i] + a * trajectory[i + 1]


@contextlib.contextmanager
def _terminate_cleanly():
    """SIGTERM (in the main thread) raises SystemExit, so that the partial files are removed on the way out."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum, frame):
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def _quiet_stderr():
    """Keep what VTK and Xlib print while opening an off-screen window (a 'bad X server connection'
    warning when no display is reachable, though the off-screen rendering works) off the terminal."""
    import vtk

    vtk.vtkLogger.SetStderrVerbosity(vtk.vtkLogger.VERBOSITY_OFF)
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):
        yield
        return
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _plotter(settings: MovieSettings):
    import pyvista as pv

    with _quiet_stderr():
        plotter = pv.Plotter(off_screen=True, window_size=list(settings.size))
        plotter.set_background("white")
        plotter.render()
    return plotter


def _corner_texts(plotter, settings: MovieSettings):
    """The caption (upper left) and the time label (upper right, set per frame) in one corner annotation,
    drawn in an overlay inset by CAPTION_MARGIN of the frame's height from its top and sides (an annotation
    keeps only 5 pixels from its viewport's edges)."""
    import vtk

    window = plotter.render_window
    overlay = vtk.vtkRenderer()
    overlay.SetLayer(window.GetNumberOfLayers())
    window.SetNumberOfLayers(overlay.GetLayer() + 1)
    side = CAPTION_MARGIN * settings.size[1] / settings.size[0]  # the same pixels as at the top
    overlay.SetViewport(side, 0.0, 1.0 - side, 1.0 - CAPTION_MARGIN)
    overlay.InteractiveOff()
    window.AddRenderer(overlay)
    texts = plotter.add_text(settings.caption, font_size=10, position="upper_left", color="black", render=False)
    plotter.renderer.RemoveActor(texts)
    overlay.AddActor(texts)
    texts.SetMaximumFontSize(caption_font_size(settings))  # both texts alike, whatever their length
    return texts


def caption_font_size(settings: MovieSettings) -> int:
    """The caption's largest font: a 22nd of the height, and small enough that caption and time label
    share the top line of a narrow frame without overlapping."""
    width, height = settings.size
    characters = len(settings.caption) + len("   t = 1.00")
    fitting = (1 - 3 * CAPTION_MARGIN) * width / (CHAR_WIDTH * characters)
    return max(SMALLEST_FONT, min(height // 22, int(fitting)))


def _fit_legends(plotter, settings: MovieSettings) -> None:
    """Colour bars' texts in proportion to the frame (VTK's own sizing does not shrink them, and cut
    the title at the right edge of a small frame)."""
    height = settings.size[1]
    for bar in plotter.scalar_bars.values():
        bar.UnconstrainedFontSizeOn()
        bar.GetTitleTextProperty().SetFontSize(round(5 + height / 65))  # 8 px at 180p, 16 px at 720p
        bar.GetLabelTextProperty().SetFontSize(round(5 + height / 55))  # 8 px at 180p, 18 px at 720p


def write_movie(
    path: str | os.PathLike,
    trajectory: np.ndarray,
    faces: np.ndarray,
    target: tuple[np.ndarray, np.ndarray] | None,
    settings: MovieSettings,
    camera=None,
    progress: Callable[[int, int], bool] | None = None,
) -> Path:
    """Render the geodesic into ``path``; ``progress(done, total)`` returning False cancels.

    camera: a pyvista camera position (position, focal point, view up) or None to fit everything.
    """
    from ..io.output_paths import clean_stale_partials
    from .scene import DeformationScene

    path = Path(path)
    settings.validate(path)
    if not path.parent.is_dir():
        raise MovieError(f"folder {path.parent} does not exist")
    if path.is_dir():
        raise MovieError(f"cannot write {path}: it is a folder")
    trajectory = np.asarray(trajectory, dtype=np.float64)
    times = movie_times(len(trajectory), settings)
    clean_stale_partials(path)
    pipe = None
    try:
        with _terminate_cleanly(), work_folder(path) as work:
            partial = Path(work) / f"movie{path.suffix.lower()}"
            plotter = _plotter(settings)
            try:
                tv, tf = target if target is not None else (trajectory[-1], faces)
                scene = DeformationScene(plotter, trajectory[0], faces, tv, tf)
                scene.set_trajectory(trajectory)
                scene.show_target(settings.show_target and target is not None)
                scene.color_by_displacement(settings.color_by_displacement)
                _fit_legends(plotter, settings)
                texts = _corner_texts(plotter, settings)
                if camera is not None:
                    plotter.camera_position = camera
                else:
                    plotter.view_isometric()
                    plotter.reset_camera(bounds=_bounds(trajectory, tv))
                pipe = FramePipe(partial, settings.size, settings.fps, Path(work))
                last = max(len(trajectory) - 1, 1)
                for done, t in enumerate(times):
                    scene.show_points(interpolate(trajectory, t))
                    if settings.time_label:
                        texts.SetText(UPPER_RIGHT, f"t = {t / last:.2f}")
                    plotter.render()
                    pipe.send(plotter.screenshot(return_img=True)[..., :3])
                    if progress is not None and progress(done + 1, len(times)) is False:
                        raise MovieCancelled(f"export of {path.name} cancelled")
                pipe.close()
                pipe = None
            finally:
                if pipe is not None:
                    pipe.kill()
                plotter.close()
            if not partial.is_file() or partial.stat().st_size == 0:
                raise EncoderError("ffmpeg wrote nothing")
            os.replace(partial, path)
    except EncoderError as exc:
        raise MovieError(f"cannot write {path}: {exc}") from None
    except OSError as exc:  # the disk is full, the folder is read-only...
        raise MovieError(f"cannot write {path}: {exc.strerror or exc}") from None
    return path


def _bounds(trajectory: np.ndarray, target_vertices: np.ndarray) -> list[float]:
    lo = np.minimum(trajectory.min(axis=(0, 1)), target_vertices.min(0))
    hi = np.maximum(trajectory.max(axis=(0, 1)), target_vertices.max(0))
    return [lo[0], hi[0], lo[1], hi[1], lo[2], hi[2]]
