"""A movie's caption and time label keep off the frame's edges, by a margin that grows with the frame."""

import numpy as np
import pytest
from PIL import Image

from shapeviewer.io.demo import make_demo_pair
from shapeviewer.render.movie import MovieSettings, write_movie


def first_frame(path) -> np.ndarray:
    with Image.open(path) as movie:
        return np.asarray(movie.convert("RGB")).astype(int)


def first_text_row(image: np.ndarray) -> int:
    """The topmost row with a black or grey pixel (the texts; the plain orange source is saturated)."""
    grey = (image.max(axis=2) - image.min(axis=2) < 30) & (image.mean(axis=2) < 128)
    rows = np.flatnonzero(grey.any(axis=1))
    assert len(rows), "no text drawn"
    return int(rows[0])


@pytest.mark.parametrize("size", [(480, 360), (640, 720)])
def test_caption_and_time_label_stand_clear_of_the_top_edge(tmp_path, size):
    source, target = make_demo_pair(resolution=10)
    trajectory = np.stack([source.vertices, target.vertices])
    settings = MovieSettings(size=size, fps=5, frames_per_step=1, color_by_displacement=False, caption="Demo pair")
    frame = first_frame(write_movie(tmp_path / "m.gif", trajectory, source.faces, None, settings))
    height, width = size[1], size[0]
    caption, time_label = frame[: height // 4, : width // 3], frame[: height // 4, -width // 4 :]
    for corner in (caption, time_label):
        assert first_text_row(corner) >= 0.025 * height
    assert first_text_row(caption.transpose(1, 0, 2)) >= 0.025 * height  # its first column: off the left edge
    assert first_text_row(time_label[:, ::-1].transpose(1, 0, 2)) >= 0.025 * height  # and off the right one


def text_mask(image: np.ndarray) -> np.ndarray:
    return (image.max(axis=2) - image.min(axis=2) < 30) & (image.mean(axis=2) < 160)


def test_a_small_movie_keeps_a_long_caption_apart_from_the_time_label_and_its_legend_whole(tmp_path):
    source, target = make_demo_pair(resolution=10)
    trajectory = np.stack([source.vertices, target.vertices])
    caption = "normalized cauchy(0.7697)   geodesic distance 2.354"  # what `shapeviewer movie` writes
    settings = MovieSettings(size=(320, 180), fps=5, frames_per_step=1, caption=caption)
    frame = first_frame(write_movie(tmp_path / "m.gif", trajectory, source.faces, None, settings))
    top_line = text_mask(frame[:24]).any(axis=0)
    columns = np.flatnonzero(top_line)
    widest_gap = np.diff(columns).max()  # the caption has a gap of 3 spaces, about 10 px, itself
    assert widest_gap >= 16, f"caption and time label {widest_gap - 1} px apart"
    assert not text_mask(frame[:, -4:]).any(), "the colour bar's title runs off the right edge"
