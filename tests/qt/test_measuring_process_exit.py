"""The process that measures surface distances ends with the app, however the app ends (killed included)."""

import os
import subprocess
import sys
import textwrap
import time

SCRIPT = textwrap.dedent(
    """
    import os
    import numpy as np
    from shapeviewer.io.meshes import Mesh
    from shapeviewer.qt.measuring_process import MeasuringProcess

    if __name__ == "__main__":
        faces = np.array([[0, 1, 2]])
        plane = Mesh(np.array([[0.0, 0, 0], [1, 0, 0], [0, 1, 0]]), faces, "t")
        process = MeasuringProcess()
        process.submit(plane.vertices + [0, 0, 1.0], faces, plane).result(timeout=120)
        with open("pid", "w") as out:
            print(*process._executor._processes, file=out)
        os._exit(9)  # as a kill would: no close(), no clean-up
    """
)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as stat:  # a zombie waits for its reaper: it has ended
            return stat.read().split(") ")[-1][0] != "Z"
    except FileNotFoundError:  # reaped meanwhile
        return False


def test_the_measuring_process_ends_when_the_app_is_killed(tmp_path):
    (tmp_path / "app.py").write_text(SCRIPT)
    done = subprocess.run(
        [sys.executable, "app.py"], cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=180
    )  # fmt: skip  (no pipe the child could hold open)
    assert done.returncode == 9
    (pid,) = map(int, (tmp_path / "pid").read_text().split())
    deadline = time.monotonic() + 10
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(pid), "the measuring process outlived the app"
