"""The batch engine below the command line: a worker dying mid-job, the progress line, the shapes."""

import io
import os
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from shapeviewer.batch.inputs import BatchInputError, expand_shapes, pairwise_jobs, shape_names, template_jobs
from shapeviewer.batch.runner import Progress, run_jobs
from shapeviewer.batch.statistics import momentum_pca
from shapeviewer.cli import build_parser
from tests.batch.conftest import FAST, stretched


def test_a_job_whose_worker_is_killed_mid_run_is_retried_elsewhere(tmp_path, data_dir, cluster):
    (subject,) = stretched(data_dir / "human.ply", tmp_path, (1.2,))
    out = tmp_path / "batch"
    slow = [*FAST[:-1], "60", "--tolerance", "0"]  # several seconds: time to kill its worker mid-run
    args = build_parser().parse_args(["batch", "template", str(data_dir / "human.ply"), str(subject),
                                      "--out", str(out), *slow])  # fmt: skip
    jobs = template_jobs(data_dir / "human.ply", [subject], out)
    killed = {}

    def kill_the_worker_running_it():
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            for worker, keys in cluster.processing().items():
                if any(str(k).startswith("shapeviewer-") for k in keys):
                    pid = cluster.run(os.getpid, workers=[worker])[worker]
                    time.sleep(1.0)  # well into the registration
                    os.kill(pid, signal.SIGKILL)
                    killed["worker"] = worker
                    return
            time.sleep(0.05)

    killer = threading.Thread(target=kill_the_worker_running_it)
    killer.start()
    stream = io.StringIO()
    (record,) = run_jobs(cluster, jobs, args, progress=Progress(1, 0, stream=stream), say=lambda m: None)
    killer.join()
    assert "worker" in killed, "the job was never seen running"
    assert record.status == "done", record
    assert record.worker != killed["worker"]
    assert (out / "jobs" / subject.stem / "result.json").is_file()
    assert not [p for p in (out / "jobs").iterdir() if p.name.startswith(".")]  # no partial folder left
    cluster.wait_for_workers(2, timeout=120)  # the nanny restarted the dead one


def test_progress_counts_and_eta(monkeypatch):
    clock = iter([0.0, 10.0, 10.0])
    monkeypatch.setattr(time, "perf_counter", lambda: next(clock))
    stream = io.StringIO()
    progress = Progress(10, 2, stream=stream)
    progress.done, progress.failed, progress.running = 3, 1, 2
    progress.show(force=True)
    assert stream.getvalue() == "jobs: 5/10 done (2 from an earlier run), 1 failed, 2 running; 0:10 elapsed, ETA 0:10\n"


def test_the_eta_counts_down_between_finished_jobs(monkeypatch):
    now = [0.0]
    monkeypatch.setattr(time, "perf_counter", lambda: now[0])
    progress = Progress(2, 0, stream=io.StringIO())
    now[0], progress.done, progress.running = 111.0, 1, 1
    assert progress.line().endswith("1:51 elapsed, ETA 1:51")
    now[0] = 171.0  # the second job still runs: its expected end comes closer, not later
    assert progress.line().endswith("2:51 elapsed, ETA 0:51")
    now[0] = 300.0
    assert progress.line().endswith("ETA 0:00")


def test_shapes_from_files_folders_and_patterns(tmp_path, data_dir):
    a = tmp_path / "a"
    a.mkdir()
    stretched(data_dir / "human.ply", a, (0.9, 1.1))
    (a / "notes.txt").write_text("not a mesh")
    shapes = expand_shapes([str(data_dir / "human.ply"), str(a), str(a / "sx1.*.ply")], repeated := [])
    assert [p.name for p in shapes] == ["human.ply", "sx0.90.ply", "sx1.10.ply"]  # each once, in order
    assert [p.name for p in repeated] == ["sx1.10.ply"]  # the pattern met it again: the command says so
    assert all(p.is_absolute() for p in shapes)
    with pytest.raises(BatchInputError, match="no such file"):
        expand_shapes([str(tmp_path / "missing.ply")])
    assert shape_names([a / "x.ply", tmp_path / "x.vtp", a / "y z.ply"]) == ["x-1", "x-2", "y_z"]
    jobs = pairwise_jobs(shapes, tmp_path / "out")
    assert [(j.row, j.col) for j in jobs] == [(0, 1), (0, 2), (1, 2)]
    assert jobs[0].out == tmp_path / "out" / "jobs" / "human__sx0.90"
    assert [j.name for j in template_jobs(shapes[0], shapes, tmp_path)] == ["sx0.90", "sx1.10"]


def test_pca_of_momenta_along_one_direction():
    rng = np.random.default_rng(1)
    direction = rng.standard_normal((20, 3))
    t = np.array([-2.0, -1.0, 0.5, 1.0, 1.5])
    momenta = 0.3 + t[:, None, None] * direction + 1e-3 * rng.standard_normal((5, 20, 3))
    pca = momentum_pca(momenta, [f"s{i}" for i in range(5)], keep=3)
    assert pca.modes.shape == (3, 20, 3) and pca.ratio[0] > 0.999
    assert abs(pca.modes[0].ravel() @ direction.ravel()) / np.linalg.norm(direction) > 0.999
    assert np.allclose(pca.mean, momenta.mean(0))
    assert pca.variance[0] == pytest.approx(t.var(ddof=1) * np.sum(direction**2), rel=1e-2)
    recon = pca.mean + pca.scores[:, :1, None, None].squeeze(1) * pca.modes[0]
    assert np.abs(recon - momenta).max() < 1e-2


def test_the_batch_package_imports_no_qt():
    """batch/ sits beside the command line: the app may drive it, it never imports a Qt binding."""
    import ast

    import shapeviewer.batch

    qt = ("PySide6", "PyQt5", "PyQt6", "qtpy", "pyvistaqt", "superqt", "pyqtgraph")
    offenders = []
    for path in Path(shapeviewer.batch.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module] if node.level == 0 else ["." * node.level + node.module]
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] in qt or n.startswith("..qt")]
    assert not offenders


def test_batch_takes_every_option_of_register():
    """One definition of the model and registration options serves 'register' and 'batch template|pairwise'.
    A new option of 'register' belongs in cli._model_options or cli._registration_options (then batch has
    it too), or, if it names files of one pair only, in register_only here."""
    register_only = {"-h", "--help", "--landmarks", "--landmark-weight"}  # landmark files: one pair

    def options(*words):
        parser = build_parser()
        sub = parser._subparsers._group_actions[0].choices[words[0]]
        for word in words[1:]:
            sub = sub._subparsers._group_actions[0].choices[word]
        return {s for a in sub._actions for s in a.option_strings}

    register = options("register")
    for kind in ("template", "pairwise"):
        assert register - register_only <= options("batch", kind), kind


def test_a_job_that_wrote_its_whole_result_as_ctrl_c_came_is_recorded_done(tmp_path):
    """Its future had not reported within the stop's grace, but its folder is whole: the summary must not call it
    cancelled while its result sits on disk (a race the Ctrl-C test met under load)."""
    import json
    from types import SimpleNamespace

    from shapeviewer.batch import runner
    from shapeviewer.batch.inputs import Job

    done_job, stopped_job = (Job(n, tmp_path / "s.ply", tmp_path / "t.ply", tmp_path / n) for n in ("done", "stopped"))
    done_job.out.mkdir()
    info = {"status": "converged", "source_file": str(done_job.source), "target_file": str(done_job.target),
            "fidelity_drop": 0.9, "seconds": 3.0}  # fmt: skip
    (done_job.out / "result.json").write_text(json.dumps(info))
    np.save(done_job.out / "momenta.npy", np.zeros((4, 3)))
    futures = {j.name: SimpleNamespace(key=j.name, status="pending") for j in (done_job, stopped_job)}
    client = SimpleNamespace(processing=lambda: {}, cancel=lambda futures: None)
    records, by_key = {}, {"done": done_job, "stopped": stopped_job}
    runner._stop(client, SimpleNamespace(set=lambda: None), futures, records, by_key)
    assert records["done"].status == "done" and not records["done"].resumed and records["done"].fidelity_drop == 0.9
    assert records["stopped"].status == "cancelled"


def test_a_second_ctrl_c_while_stopping_still_leaves_the_records(tmp_path, monkeypatch):
    """'timeout -s INT' delivers the signal twice (to the command and to its group); a user may press Ctrl-C twice:
    the second must cut the stop's wait and the cluster's closing short, not lose the summary of what finished."""
    import contextlib
    from types import SimpleNamespace

    from shapeviewer.batch import command, runner
    from shapeviewer.batch.inputs import Job

    job = Job("late", tmp_path / "s.ply", tmp_path / "t.ply", tmp_path / "late")

    def interrupted():
        raise KeyboardInterrupt

    client = SimpleNamespace(processing=interrupted, cancel=lambda futures: None)
    records, said = {}, []
    futures = {"late": SimpleNamespace(key="late", status="pending")}
    runner._stop(client, SimpleNamespace(set=lambda: None), futures, records, {"late": job}, said.append)
    assert records["late"].status == "cancelled" and "not waiting for the running jobs" in said[0]

    @contextlib.contextmanager
    def closing_interrupted(*args):
        yield SimpleNamespace(where="here", dashboard="none", client=None)
        raise KeyboardInterrupt  # Ctrl-C again while the cluster closes

    def stopped(*args):
        raise runner.BatchInterrupted([records["late"]])

    monkeypatch.setattr("shapeviewer.batch.cluster.open_cluster", closing_interrupted)
    monkeypatch.setattr(runner, "run_jobs", stopped)
    args = SimpleNamespace(scheduler=None, workers=1, gpu=False)
    assert command._run_on_cluster(args, [job], "template", None, None) == ([records["late"]], True)


def test_after_the_first_ctrl_c_further_ones_only_cut_the_wait_short(tmp_path):
    """Wherever the second signal lands (the note, the scheduler's stop event, the cluster's closing), it must
    not raise: it ends the wait for the running jobs, and the summary is still written."""
    import os
    import signal
    import time
    from types import SimpleNamespace

    from shapeviewer.batch import runner
    from shapeviewer.batch.inputs import Job

    previous = signal.getsignal(signal.SIGINT)
    said = []
    try:
        again = runner._hold_further_interrupts(said.append)
        os.kill(os.getpid(), signal.SIGINT)  # no KeyboardInterrupt from here on
        time.sleep(0.1)
        assert again.is_set() and said == ["interrupt again: not waiting for the running jobs; writing the summary "
                                           "of what finished"]  # fmt: skip
    finally:
        signal.signal(signal.SIGINT, previous)
    job = Job("running", tmp_path / "s.ply", tmp_path / "t.ply", tmp_path / "running")
    future = SimpleNamespace(key="running", status="pending")
    client = SimpleNamespace(processing=lambda: {"worker": ["running"]}, cancel=lambda futures: None)
    records, start = {}, time.monotonic()
    runner._stop(client, SimpleNamespace(set=lambda: None), {"running": future}, records, {"running": job},
                 said.append, again)  # fmt: skip
    assert time.monotonic() - start < 1.0 < runner.STOP_GRACE_SECONDS  # no wait for the job still running
    assert records["running"].status == "cancelled"
