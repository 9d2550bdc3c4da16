"""What needs a real process: readers that used to crash it, signals, a missing compiler, the X warning."""

import os
import signal
import subprocess
import sys
import time

from tests.hostile.hostile import FAST, count

CLI = [sys.executable, "-m", "shapeviewer"]

CHILD = """
import contextlib, io, sys
from shapeviewer.cli import main
for bad in sys.argv[2:]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(["register", bad, sys.argv[1], "--out", bad + ".out", "--iterations", "1"])
    print(code, len(err.getvalue().strip().splitlines()), "Traceback" in err.getvalue(), flush=True)
"""


def _crash_class_files(valid, folder):
    """The files that made VTK's readers crash the process (segmentation faults) or read garbage."""
    binary = valid["source.ply"].read_bytes()
    legacy = valid["v42.vtk"].read_bytes()
    files = {
        "half.ply": binary[: len(binary) // 2],
        "last_byte.ply": binary[:-1],
        "random_header.ply": b"ply\n" + bytes(range(1, 256)) + b"\nend_header\n" + binary[-200:],
        "trillion.ply": b"ply\nformat binary_little_endian 1.0\nelement vertex 1000000000000\nproperty float x\n"
        b"property float y\nproperty float z\nend_header\n" + binary[-100:],
        "half.vtk": legacy[: len(legacy) // 2],
        "last_byte.vtk": valid["v51.vtk"].read_bytes()[:-20],
        "half.stl": valid["mesh.stl"].read_bytes()[:1000],
        "half.vtp": valid["mesh.vtp"].read_bytes()[:2000],
    }
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return [folder / name for name in files]


def test_crash_class_files_are_refused_in_a_process_of_their_own(valid, tmp_path):
    files = _crash_class_files(valid, tmp_path)
    done = subprocess.run([sys.executable, "-c", CHILD, valid["target.ply"], *files], capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]  # a signal would show as a negative status
    assert done.stdout.split("\n")[: len(files)] == ["2 1 False"] * len(files), done.stdout
    assert not list(tmp_path.glob("*.out"))
    real = subprocess.run([*CLI, "register", files[0], files[3], "--out", tmp_path / "o"], capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    assert real.returncode == 2 and real.stderr.count("\n") == 1 and "half.ply" in real.stderr
    count(len(files) + 1)


def test_ctrl_c_during_start_up_exits_130_with_one_line(valid, tmp_path):
    for delay in (0.4, 1.0):
        out = tmp_path / f"o{delay}"
        proc = subprocess.Popen([*CLI, "register", valid["source.ply"], valid["target.ply"], "--out", out, *FAST],
                                stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True)  # fmt: skip
        time.sleep(delay)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 130, err
        assert "Traceback" not in err and err.strip().splitlines()[-1].startswith("shapeviewer: interrupted")
        count()


def test_keops_without_a_compiler_is_one_line_saying_what_to_do(valid, tmp_path):
    env = {**os.environ, "PATH": os.path.dirname(sys.executable), "CXX": "/nowhere/g++"}
    done = subprocess.run([*CLI, "register", valid["source.ply"], valid["target.ply"], "--backend", "keops",
                           "--out", tmp_path / "o"], capture_output=True, text=True, env=env, timeout=120)  # fmt: skip
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert "C++ compiler" in done.stderr and "--backend torch" in done.stderr
    assert not (tmp_path / "o").exists()
    count()


def test_movie_prints_no_x_server_warning(valid, tmp_path):
    from tests.hostile.hostile import run

    assert run(["register", valid["source.ply"], valid["target.ply"], *FAST, "--out", tmp_path / "r"])[0] == 0
    env = {**os.environ, "DISPLAY": ":97"}  # no such display
    done = subprocess.run([*CLI, "movie", tmp_path / "r", "--out", tmp_path / "m.gif", "--size", "64x48"],
                          capture_output=True, text=True, env=env, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "X server" not in done.stderr and "\x1b[" not in done.stderr and (tmp_path / "m.gif").stat().st_size > 0
