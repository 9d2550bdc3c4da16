"""'shapeviewer batch template|pairwise|modes' as users call it, on a LocalCluster of two workers."""

import csv
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from shapeviewer.cli import main
from shapeviewer.io.results import read_result_dir
from tests.batch.conftest import FAST, pick, stretched, unit


def summary(out):
    with open(out / "summary.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_template_batch_with_a_bad_subject_and_a_resume(tmp_path, data_dir, population, cluster, capsys):
    bad = tmp_path / "shapes" / "broken.ply"
    bad.write_text("not a mesh at all")
    out = tmp_path / "batch"
    args = ["batch", "template", str(data_dir / "human.ply"), str(tmp_path / "shapes"), "--out", str(out), *FAST]
    scheduler = cluster.scheduler.address
    assert main([*args, "--scheduler", scheduler, "--keops-cache", str(tmp_path / "keops")]) == 1  # one failed
    err = capsys.readouterr().err
    assert "dashboard: http" in err and "jobs: 4/4 done" not in err
    assert "workers: 2 ready; warm-up" in err  # the plugin ran on both workers before the jobs
    on_workers = cluster.run(lambda: os.environ.get("KEOPS_CACHE_FOLDER"))  # a lambda runs there, by value
    assert set(on_workers.values()) == {str(tmp_path / "keops")}
    assert "failed: broken: " in err and "not a PLY file" in err
    rows = summary(out)
    assert list(rows[0]) == ["job", "source", "target", "status", "fidelity_drop", "distance", "seconds", "worker",
                             "message", "warning"]  # fmt: skip
    assert sorted(r["job"] for r in rows) == ["broken", "sx0.90", "sx1.10", "sx1.20"]
    broken = pick(rows, "broken")
    assert broken["status"] == "failed" and "broken.ply" in broken["message"] and "\n" not in broken["message"]
    assert not (out / "jobs" / "broken").exists()
    for name in ("sx0.90", "sx1.10", "sx1.20"):
        row = pick(rows, name)
        assert row["status"] == "done" and row["worker"].startswith("tcp://") and row["warning"] == ""
        assert float(row["fidelity_drop"]) > 0.5 and float(row["distance"]) > 0
        result = read_result_dir(out / "jobs" / name)  # what 'shapeviewer movie' reads
        assert result.trajectory.shape == (5, 127, 3) and result.target is not None
        assert result.info["distance"] == pytest.approx(float(row["distance"]), rel=1e-5)
    # the PCA of the three momenta
    modes = np.load(out / "pca" / "modes.npy")
    assert modes.shape == (2, 127, 3) and np.load(out / "pca" / "mean_momenta.npy").shape == (127, 3)
    assert json.loads((out / "pca" / "pca.json").read_text())["explained_variance_ratio"][0] > 0.5

    # Resumed: the finished jobs are kept as they are, only the failed one runs again.
    stamps = {n: (out / "jobs" / n / "result.json").stat().st_mtime_ns for n in ("sx0.90", "sx1.10", "sx1.20")}
    bad.unlink()
    stretched(data_dir / "human.ply", tmp_path / "shapes", (0.8,))
    assert main([*args, "--scheduler", scheduler]) == 0
    err = capsys.readouterr().err
    assert "3 from an earlier run" in err
    assert {n: (out / "jobs" / n / "result.json").stat().st_mtime_ns for n in stamps} == stamps
    rows = summary(out)
    assert sorted(r["job"] for r in rows) == ["sx0.80", "sx0.90", "sx1.10", "sx1.20"]
    assert all(r["status"] == "done" for r in rows)

    # Other options on the same folder: refused, nothing touched
    assert main([*args, "--scheduler", scheduler, "--iterations", "7"]) == 2
    assert "--iterations was 4, now 7" in capsys.readouterr().err


def test_pairwise_batch_on_its_own_local_cluster(tmp_path, population, data_dir, capsys):
    out = tmp_path / "pairs"
    shapes = [str(data_dir / "human.ply"), str(tmp_path / "shapes" / "sx*.ply")]  # a file and a glob
    assert main(["batch", "pairwise", *shapes, "--out", str(out), "--workers", "2", *FAST]) == 0
    err = capsys.readouterr().err
    assert "a local cluster: 2 worker processes, one thread each" in err and "dashboard: http" in err
    names = ["human", "sx0.90", "sx1.10", "sx1.20"]
    assert len(summary(out)) == 6 and all(r["status"] == "done" for r in summary(out))
    d = np.load(out / "distances.npy")
    assert d.shape == (4, 4) and np.allclose(d, d.T) and np.all(np.diag(d) == 0)
    off = d[~np.eye(4, dtype=bool)]
    assert np.all(np.isfinite(off)) and np.all(off > 0)
    assert d[1, 3] > d[1, 2]  # 0.9 is farther from 1.2 than from 1.1
    with open(out / "distances.csv", newline="") as f:
        table = list(csv.reader(f))
    assert table[0] == ["shape", *names] and [row[0] for row in table[1:]] == names
    assert float(table[2][4]) == pytest.approx(d[1, 3], rel=1e-5)
    png = (out / "distances.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000


def test_pca_first_mode_recovers_the_deformation_and_modes_shoot_it(tmp_path, data_dir, scheduler, capsys):
    """Subjects made by shooting the template with t * P (t = -1 .. 1, plus a little of another direction):
    the first mode of the recovered momenta is P's direction, and 'batch modes' shoots it."""
    from shapeviewer.core.model import DeformationModel, ModelSettings
    from shapeviewer.io.meshes import read_mesh, write_mesh

    human = read_mesh(data_dir / "human.ply")
    model = DeformationModel(human.vertices, human.faces, None, ModelSettings(steps=4, dtype="float64",
                                                                              backend="torch"))  # fmt: skip
    mu, x = model.mu.numpy(), model.q0.numpy()
    p, q = np.zeros_like(x), np.zeros_like(x)
    p[:, 0] = mu * (x[:, 0] - x[:, 0].mean()) / model.size  # a stretch along x...
    q[:, 1] = mu * (x[:, 1] - x[:, 1].mean()) / model.size  # ...and, 10 times weaker, one along y
    folder = tmp_path / "population"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i, t in enumerate((-1.0, -0.5, 0.25, 0.5, 1.0)):
        traj = model.shoot(model.momenta_tensor(t * p + 0.1 * rng.standard_normal() * q))
        write_mesh(folder / f"s{i}.ply", model.to_user(traj.points[-1]), human.faces)
    out = tmp_path / "batch"
    fit = [*FAST[:-1], "15"]  # more iterations: the momenta must be recovered, not just a start
    assert main(["batch", "template", str(data_dir / "human.ply"), str(folder), "--out", str(out), *fit,
                 "--scheduler", scheduler]) == 0  # fmt: skip
    modes = np.load(out / "pca" / "modes.npy")
    info = json.loads((out / "pca" / "pca.json").read_text())
    assert abs(unit(modes[0]) @ unit(p)) > 0.85
    assert info["explained_variance_ratio"][0] > 0.8 and len(info["subjects"]) == 5

    movies = tmp_path / "modes"
    assert main(["batch", "modes", str(out), "--out", str(movies), "--modes", "1", "--movie", "gif",
                 "--size", "96x64", "--fps", "5"]) == 0  # fmt: skip
    assert sorted(p.name for p in movies.iterdir()) == ["mode_1.gif", "mode_1_minus", "mode_1_plus"]
    assert np.array_equal(np.load(movies / "mode_1_plus" / "mask.npy"), np.ones(human.n_vertices))
    all_modes = tmp_path / "all_modes"
    assert main(["batch", "modes", str(out), "--out", str(all_modes), "--modes", "9", "--movie", "none"]) == 0
    err = capsys.readouterr().err
    assert "--modes 9: the PCA has 4 modes" in err and "wrote 4 modes" in err
    plus, minus = read_result_dir(movies / "mode_1_plus"), read_result_dir(movies / "mode_1_minus")
    assert np.allclose(plus.trajectory[0], human.vertices) and np.allclose(minus.trajectory[0], human.vertices)
    width = [np.ptp(r.trajectory[-1][:, 0]) for r in (minus, plus)]
    assert sorted(width)[0] < np.ptp(human.vertices[:, 0]) < sorted(width)[1]  # +-2 sd: narrower and wider
    assert (movies / "mode_1.gif").read_bytes()[:3] == b"GIF"


def test_ctrl_c_stops_the_batch_and_keeps_every_finished_job(tmp_path, data_dir):
    """Ctrl-C on a terminal reaches the whole process group, local workers included: they leave it to the
    command, which stops the running jobs (they write nothing), keeps the finished ones and exits 130."""
    folder = tmp_path / "shapes"
    folder.mkdir()
    stretched(data_dir / "human.ply", folder, np.linspace(0.8, 1.25, 8))
    out = tmp_path / "batch"
    slow = [*FAST[:-1], "40", "--tolerance", "0"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "shapeviewer", "batch", "template", str(data_dir / "human.ply"), str(folder),
         "--out", str(out), *slow, "--workers", "2"],
        stderr=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and not list((out / "jobs").glob("*/result.json")):
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "interrupt: stopping the running jobs" in err and "Traceback" not in err
    rows = summary(out)
    done = [r["job"] for r in rows if r["status"] == "done"]
    assert 1 <= len(done) < 8 and {r["status"] for r in rows} <= {"done", "cancelled", "not run"}
    for name in done:
        read_result_dir(out / "jobs" / name)
    assert sorted(p.name for p in (out / "jobs").iterdir()) == sorted(done)  # nothing half-written, nothing late


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--gpu"], "--gpu needs"),
        (["--mask", "m.npy"], "applies to 'batch template'"),
        (["--kernel", "cauchy(1e9)"], "kernel scale"),
        (["--workers", "1000"], "--workers 1000: shapeviewer may use"),
        (["--scheduler", "notanaddress"], "not a scheduler's address"),
        (["--scheduler", "tcp://localhost"], "not a scheduler's address"),
        (["--scheduler", "http://127.0.0.1:99999"], "not a scheduler's address"),
        (["--keops-cache", "/proc/keops"], "--keops-cache /proc/keops: cannot be made a folder"),
        (["--keops-cache", "{data}/human.ply"], "cannot be made a folder"),
    ],
)
def test_refusals_are_one_line_before_any_cluster(tmp_path, data_dir, capsys, extra, message, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda n, *a: None if n == "dask_cuda" else real(n, *a))
    start = time.perf_counter()
    extra = [word.format(data=data_dir) for word in extra]
    code = main(["batch", "pairwise", str(data_dir / "human.ply"), str(data_dir / "finger0.ply"),
                 "--out", str(tmp_path / "b"), *FAST, *extra])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and message in err and err.count("\n") == 1, err
    assert time.perf_counter() - start < 10
    assert not (tmp_path / "b").exists()  # nothing written


def test_a_scheduler_that_does_not_answer_leaves_no_batch_folder(tmp_path, data_dir, capsys):
    code = main(["batch", "pairwise", str(data_dir / "human.ply"), str(data_dir / "finger0.ply"),
                 "--out", str(tmp_path / "b"), *FAST, "--scheduler", "tcp://127.0.0.1:9"])  # fmt: skip
    assert code == 2 and "cannot reach the scheduler at tcp://127.0.0.1:9" in capsys.readouterr().err
    assert not (tmp_path / "b").exists()


def test_shapes_that_make_no_batch_are_refused(tmp_path, data_dir, capsys):
    assert main(["batch", "pairwise", str(tmp_path / "none*.ply"), "--out", str(tmp_path / "b")]) == 2
    assert "matches no file" in capsys.readouterr().err
    assert main(["batch", "template", str(data_dir / "human.ply"), str(data_dir / "human.ply"),
                 "--out", str(tmp_path / "b")]) == 2  # fmt: skip
    assert "no subject besides the template" in capsys.readouterr().err
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    assert main(["batch", "pairwise", str(data_dir / "human.ply"), str(data_dir / "finger0.ply"),
                 "--out", str(tmp_path / "busy")]) == 2  # fmt: skip
    assert "holds other files (notes.txt)" in capsys.readouterr().err
