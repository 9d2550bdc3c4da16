"""File > Run a batch: the dialog starts 'shapeviewer batch' in a child process, follows it, cancels it with
Ctrl-C and opens the results; the window's registration options become the command's flags."""

import os
import shutil

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction

from shapeviewer.batch.runner import PROGRESS_EVERY_VARIABLE, Progress
from shapeviewer.cli import build_parser
from shapeviewer.cli_options import registration_flags
from shapeviewer.cli_register import registration_settings
from shapeviewer.core.model import ModelSettings
from shapeviewer.core.registration import RegistrationSettings
from shapeviewer.core.sinkhorn import SinkhornSettings
from shapeviewer.io.demo import make_demo_pair
from shapeviewer.io.meshes import write_mesh
from shapeviewer.io.results import read_result_dir
from shapeviewer.qt import batch_launcher
from shapeviewer.qt.batch_launcher import SIZE_FOLLOWING_FLAGS, STOPPING, BatchLaunchDialog, BatchRunDialog
from shapeviewer.qt.batch_results import BatchResultsDialog

FAST = ["--iterations=2", "--steps=3", "--backend=torch"]


@pytest.mark.parametrize(
    "settings",
    [
        RegistrationSettings(),
        RegistrationSettings(
            model=ModelSettings(
                kernel="-0.5 + cauchy(0.3)",
                cometric="lddmm",
                steps=7,
                control_points=40,
                sinkhorn=SinkhornSettings(iterations=12),
                backend="torch",
                dtype="float64",
            ),
            fidelity="currents",
            fidelity_scale=0.123456789,
            regularization=1e-7,
            iterations=9,
            levels=2,
            tolerance=0.0,
        ),  # fmt: skip
    ],
)
def test_registration_flags_round_trip_through_the_command_line(settings):
    for kind in (["template", "t.ply", "s.ply"], ["pairwise", "a.ply", "b.ply"]):
        args = build_parser().parse_args(["batch", *kind, "--out", "o", *registration_flags(settings)])
        assert registration_settings(args) == settings


def test_progress_prints_each_change_off_a_terminal_when_asked(monkeypatch, capsys):
    def lines(every: str) -> list[str]:
        monkeypatch.setenv(PROGRESS_EVERY_VARIABLE, every)
        progress = Progress(3, 0)
        for done in range(4):
            progress.done = done
            progress.show()
        return capsys.readouterr().err.splitlines()

    assert [line[:17] for line in lines("0")] == [f"jobs: {k}/3 done, 0" for k in range(4)]
    assert len(lines("")) == 1  # the default: a line every 10 s at most
    assert lines("soon")[0].startswith(f"batch: ${PROGRESS_EVERY_VARIABLE}='soon' is no number of seconds")


@pytest.fixture(autouse=True)
def fresh_session(monkeypatch):
    monkeypatch.setattr(batch_launcher, "_last_request", None)  # no batch asked for yet


@pytest.fixture
def meshes(tmp_path):
    """A template and stretched copies of a 26-vertex ellipsoid."""
    mesh = make_demo_pair(resolution=6)[0]
    paths = []
    for k, stretch in enumerate((1.0, 1.15, 1.3, 0.85)):
        path = tmp_path / "shapes" / f"shape{k}.ply"
        path.parent.mkdir(exist_ok=True)
        write_mesh(path, mesh.vertices * [stretch, 1.0, 1.0], mesh.faces)
        paths.append(path)
    return paths


def open_launcher(window, qtbot) -> BatchLaunchDialog:
    action = next(a for a in window.findChildren(QAction) if a.text() == "Ru&n a batch…")
    action.trigger()
    dialog = window.findChild(BatchLaunchDialog)
    qtbot.waitExposed(dialog)
    return dialog


def start(dialog, qtbot, flags=FAST) -> BatchRunDialog:
    dialog.flags = flags
    dialog.workers.setValue(1)
    qtbot.mouseClick(dialog.start_button, Qt.MouseButton.LeftButton)
    return dialog.parent().findChild(BatchRunDialog)


def test_a_tiny_template_batch_runs_to_its_results(window, qtbot, meshes, tmp_path):
    dialog = open_launcher(window, qtbot)
    assert dialog.template.text() == str(window.paths["source"])  # the window's source by default
    follow = [f for f in registration_flags(window.parameters.settings()) if not f.startswith(SIZE_FOLLOWING_FLAGS)]
    assert dialog.flags == follow  # the scales that follow the open mesh's size follow each job's instead
    dialog.template.setText(str(meshes[0]))
    dialog.add_shapes([str(meshes[1]), str(meshes[2])])
    dialog.out.setText(str(tmp_path / "batch"))
    run = start(dialog, qtbot)
    assert run.isVisible() and not run.isModal()
    qtbot.waitUntil(lambda: run.exit_code is not None, timeout=120_000)
    assert run.exit_code == 0, "\n".join(run.output)
    assert run.counts.text() == "2 of 2 done, 0 failed, 0 not run"
    assert run.bar.value() == run.bar.maximum() == 2
    assert run.status.text().startswith("Finished")
    results = window.findChild(BatchResultsDialog)
    assert results is not None and results.isVisible()
    assert len(results.batch.jobs) == 2
    assert run.cancel_button.text() == "Close"


def test_bad_inputs_are_refused_before_anything_starts(window, qtbot, meshes, tmp_path):
    dialog = open_launcher(window, qtbot)
    dialog.kind.setCurrentIndex(dialog.kind.findData("pairwise"))
    dialog.add_shapes([str(meshes[0])])
    dialog.out.setText(str(tmp_path / "batch"))
    assert start(dialog, qtbot) is None
    assert "at least 2 shapes, got 1" in window.last_dialog.text()
    dialog.add_shapes([str(tmp_path / "missing.ply")])
    assert start(dialog, qtbot) is None
    assert "missing.ply: no such file" in window.last_dialog.text()
    dialog.shapes.clear()
    dialog.add_shapes([str(meshes[0].parent)])  # a folder of meshes is fine
    (tmp_path / "a_file").write_text("")
    dialog.out.setText(str(tmp_path / "a_file"))
    assert start(dialog, qtbot) is None
    assert "a_file is a file" in window.last_dialog.text()
    assert not (tmp_path / "batch").exists() and dialog.isVisible()


def test_cancel_stops_the_batch_and_keeps_only_whole_jobs(window, qtbot, meshes, tmp_path):
    dialog = open_launcher(window, qtbot)
    subjects = []
    for k in range(12):
        path = tmp_path / f"subject{k}.ply"
        shutil.copy(meshes[1 + k % 3], path)
        subjects.append(str(path))
    dialog.template.setText(str(meshes[0]))
    dialog.add_shapes(subjects)
    out = tmp_path / "long"
    dialog.out.setText(str(out))
    run = start(dialog, qtbot, ["--iterations=60", "--tolerance=0", "--steps=10", "--backend=torch"])
    qtbot.waitUntil(lambda: run.counts.text().startswith("1 of 12 done, 0 failed, 1 running"), timeout=60_000)
    qtbot.mouseClick(run.cancel_button, Qt.MouseButton.LeftButton)
    assert run.status.text() == STOPPING and not run.cancel_button.isEnabled()
    qtbot.waitUntil(lambda: run.exit_code is not None, timeout=60_000)
    assert run.exit_code == 130, "\n".join(run.output)
    assert "Cancelled" in run.status.text() and "Resume" in run.status.text() and run.resume_button.isVisible()
    assert run.counts.text().endswith("not run") and " of 12 done, 0 failed, " in run.counts.text()
    assert window.findChild(BatchResultsDialog) is None
    jobs = [p for p in (out / "jobs").iterdir() if not p.name.startswith(".")] if (out / "jobs").exists() else []
    assert 1 <= len(jobs) < len(subjects)
    for job in jobs:
        read_result_dir(job)  # whole, or not there
    assert (out / "summary.csv").is_file()
    assert os.path.isfile(out / "batch.json")


def test_failed_jobs_are_listed_and_the_results_still_open(window, qtbot, meshes, tmp_path, monkeypatch):
    monkeypatch.setattr(batch_launcher.BatchRequest, "unreadable_mesh", lambda self: "")  # left to the jobs
    dialog = open_launcher(window, qtbot)
    broken = tmp_path / "broken.ply"
    broken.write_text("not a mesh")
    dialog.template.setText(str(meshes[0]))
    dialog.add_shapes([str(meshes[1]), str(broken)])
    dialog.out.setText(str(tmp_path / "batch"))
    run = start(dialog, qtbot)
    qtbot.waitUntil(lambda: run.exit_code is not None, timeout=120_000)
    assert run.exit_code == 1, "\n".join(run.output)
    assert run.failed.isVisible() and run.failed.count() == 1
    assert run.failed.item(0).text().startswith("broken: ")
    assert "1 jobs failed" in run.status.text()
    assert window.findChild(BatchResultsDialog).isVisible()
