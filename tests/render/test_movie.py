"""Movies: frame count and duration read back, streaming to a temporary name, clean cancellation."""

import os
import subprocess
import sys

import imageio_ffmpeg
import numpy as np
import pytest

from shapeviewer.io.demo import make_demo_pair
from shapeviewer.render import encoder
from shapeviewer.render.movie import MovieCancelled, MovieError, MovieSettings, movie_times, write_movie
from tests.hostile.full_disk import full_disk_folder  # noqa: F401  (the full_disk fixture)


@pytest.fixture
def geodesic():
    source, target = make_demo_pair(resolution=10)
    steps = np.linspace(0, 1, 6)[:, None, None]
    trajectory = source.vertices[None] + steps * (target.vertices - source.vertices)[None]
    return trajectory, source.faces, (target.vertices, target.faces)


@pytest.mark.parametrize("suffix", [".mp4", ".gif"])
def test_frame_count_and_duration_read_back(tmp_path, geodesic, suffix):
    trajectory, faces, target = geodesic
    settings = MovieSettings(size=(320, 240), fps=20, frames_per_step=3, pingpong=True, caption="demo")
    out = write_movie(tmp_path / f"m{suffix}", trajectory, faces, target, settings)
    expected = 2 * (5 * 3) + 1  # forward 16 frames, back 15
    frames, seconds = imageio_ffmpeg.count_frames_and_secs(str(out))
    assert frames == expected == len(movie_times(6, settings))
    assert abs(seconds - expected / 20) < 0.06
    assert [p.name for p in tmp_path.iterdir()] == [out.name]  # no temporary file left


def test_frames_show_the_deformation(tmp_path, geodesic):
    trajectory, faces, target = geodesic
    out = write_movie(tmp_path / "m.mp4", trajectory, faces, target, MovieSettings(size=(320, 240), fps=10))
    reader = imageio_ffmpeg.read_frames(str(out))
    meta = next(reader)
    assert tuple(meta["size"]) == (320, 240)
    frames = [np.frombuffer(f, np.uint8).reshape(240, 320, 3) for f in reader]
    assert frames[0].std() > 10  # not blank
    assert np.abs(frames[0].astype(int) - frames[-1]).mean() > 1  # the shape moved


@pytest.mark.parametrize("label", [True, False])
def test_the_time_label_says_where_each_frame_is(tmp_path, geodesic, label):
    trajectory, faces, target = geodesic
    settings = MovieSettings(size=(320, 240), fps=10, frames_per_step=1, time_label=label)
    out = write_movie(tmp_path / "m.mp4", trajectory, faces, target, settings)
    reader = imageio_ffmpeg.read_frames(str(out))
    next(reader)
    corners = [np.frombuffer(f, np.uint8).reshape(240, 320, 3)[:30, 230:].astype(int) for f in reader]
    dark = [(c.mean(axis=2) < 120).sum() for c in corners]  # text pixels in the upper right corner
    changed = np.abs(corners[0] - corners[-1]).mean()
    if label:
        assert min(dark) > 20 and changed > 1  # "t = 0.00" ... "t = 1.00"
    else:
        assert max(dark) == 0 and changed < 0.5


def test_cancelled_export_leaves_no_file(tmp_path, geodesic):
    trajectory, faces, target = geodesic
    (tmp_path / "keep.mp4").write_bytes(b"an older movie")
    with pytest.raises(MovieCancelled):
        write_movie(
            tmp_path / "keep.mp4",
            trajectory,
            faces,
            target,
            MovieSettings(size=(160, 120)),
            progress=lambda done, total: done < 5,
        )
    assert sorted(os.listdir(tmp_path)) == ["keep.mp4"]
    assert (tmp_path / "keep.mp4").read_bytes() == b"an older movie"  # the old file is untouched


@pytest.mark.parametrize(
    "name, settings, message",
    [
        ("m.avi", MovieSettings(), "unsupported movie format '.avi'"),
        ("m.mp4", MovieSettings(size=(321, 240)), "even width and height"),
        ("m.gif", MovieSettings(fps=0), "frames per second"),
    ],
)
def test_bad_settings_are_refused_before_rendering(tmp_path, geodesic, name, settings, message):
    trajectory, faces, target = geodesic
    with pytest.raises(MovieError, match=message):
        write_movie(tmp_path / name, trajectory, faces, target, settings)
    assert not list(tmp_path.iterdir())


@pytest.mark.slow
def test_cli_movie_without_x_server(tmp_path):
    source, target = make_demo_pair(resolution=10)
    from shapeviewer.io.meshes import write_mesh

    write_mesh(tmp_path / "s.ply", source.vertices, source.faces)
    write_mesh(tmp_path / "t.ply", target.vertices, target.faces)
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
    run = [sys.executable, "-m", "shapeviewer"]
    subprocess.run(
        [
            *run,
            "register",
            str(tmp_path / "s.ply"),
            str(tmp_path / "t.ply"),
            "--out",
            str(tmp_path / "r"),
            "--iterations",
            "2",
            "--steps",
            "3",
            "--backend",
            "torch",
        ],
        check=True,
        env=env,
        capture_output=True,
    )
    done = subprocess.run(
        [
            *run,
            "movie",
            str(tmp_path / "r"),
            "--out",
            str(tmp_path / "m.gif"),
            "--size",
            "200x150",
            "--fps",
            "12",
            "--frames-per-step",
            "2",
        ],
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert imageio_ffmpeg.count_frames_and_secs(str(tmp_path / "m.gif"))[0] == 3 * 2 + 1
    bad = subprocess.run(
        [*run, "movie", str(tmp_path / "nowhere"), "--out", str(tmp_path / "x.mp4")],
        env=env,
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2 and "result folder" in bad.stderr and "does not exist" in bad.stderr


def test_a_failing_encoder_is_one_clear_line_and_leaves_nothing(tmp_path, geodesic, monkeypatch):
    trajectory, faces, target = geodesic
    fake = tmp_path / "bin" / "ffmpeg"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\necho 'Error opening output: No space left on device' >&2\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setattr(encoder, "_ffmpeg", lambda: str(fake))
    with pytest.raises(MovieError, match="No space left on device") as info:
        write_movie(tmp_path / "m.mp4", trajectory, faces, target, MovieSettings(size=(160, 120)))
    assert "\n" not in str(info.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bin"]  # no movie, no partial file


def test_a_full_disk_is_an_error_not_a_cut_movie(full_disk, geodesic):
    trajectory, faces, target = geodesic
    with pytest.raises(MovieError, match="cannot write"):
        write_movie(full_disk / "m.mp4", trajectory, faces, target, MovieSettings(size=(320, 240)))
    assert not [p for p in full_disk.iterdir() if p.name != "filler"]


def test_gif_uses_a_palette_of_the_movie(tmp_path, geodesic, monkeypatch):
    """Decoded GIF frames match the rendered ones closely, and the file is not many times the MP4."""
    trajectory, faces, target = geodesic
    sent, send = [], encoder.FramePipe.send
    monkeypatch.setattr(encoder.FramePipe, "send", lambda self, f: (sent.append(np.array(f)), send(self, f)))
    settings = MovieSettings(size=(320, 240), fps=10, caption="demo")
    gif = write_movie(tmp_path / "m.gif", trajectory, faces, target, settings)
    rendered = list(sent)
    mp4 = write_movie(tmp_path / "m.mp4", trajectory, faces, target, settings)
    reader = imageio_ffmpeg.read_frames(str(gif))
    next(reader)
    decoded = [np.frombuffer(f, np.uint8).reshape(240, 320, 3) for f in reader]
    assert len(decoded) == len(rendered)
    errors = [np.abs(d.astype(int) - r).mean() for d, r in zip(decoded, rendered, strict=True)]
    assert max(errors) < 2.0  # of 255: no halos, no 3-3-2 banding
    assert gif.stat().st_size < 4 * mp4.stat().st_size


def test_sigterm_removes_the_partial_movie_and_stale_ones_are_cleaned(tmp_path):
    stale = tmp_path / ".m.mp4.partial.999999999.abc"  # a run killed by SIGKILL left this
    stale.mkdir()
    (stale / "movie.mp4").write_bytes(b"half")
    (tmp_path / ".m.partial.mp4").write_bytes(b"half")  # the name earlier exports used
    script = (
        "import os, signal, numpy as np\n"
        "from shapeviewer.io.demo import make_demo_pair\n"
        "from shapeviewer.render.movie import MovieSettings, write_movie\n"
        "s, t = make_demo_pair(resolution=8)\n"
        "traj = np.stack([s.vertices, t.vertices])\n"
        "stop = lambda done, total: os.kill(os.getpid(), signal.SIGTERM) if done == 3 else True\n"
        f"write_movie({str(tmp_path / 'm.mp4')!r}, traj, s.faces, None, MovieSettings(size=(64, 48)), progress=stop)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 128 + 15, done.stderr
    assert list(tmp_path.iterdir()) == []  # neither the stale partial nor this run's
