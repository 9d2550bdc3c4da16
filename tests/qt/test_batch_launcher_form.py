"""File > Run a batch, the form: scales that follow the open mesh are left to each job, the template is a mesh
file, a refused batch keeps what was entered, a cancelled one resumes, and quitting stops a running batch."""

import json
import shutil

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from scipy.spatial.transform import Rotation

from shapeviewer.io.demo import make_demo_pair
from shapeviewer.io.meshes import read_mesh, write_mesh
from shapeviewer.qt import batch_launcher, batch_quitting
from shapeviewer.qt.batch_launcher import BatchLaunchDialog, BatchRunDialog
from shapeviewer.qt.batch_quitting import close_running_batches
from shapeviewer.qt.batch_results import BatchResultsDialog

FAST = ["--backend=torch", "--steps=4", "--iterations=3"]
SLOW = ["--backend=torch", "--steps=10", "--iterations=60", "--tolerance=0"]  # long enough to stop midway
SCALES = ("--kernel=", "--fidelity-scale=")


@pytest.fixture(autouse=True)
def fresh_session(monkeypatch):
    monkeypatch.setattr(batch_launcher, "_last_request", None)


@pytest.fixture
def meshes(tmp_path):
    """Three stretched copies of a 26-vertex ellipsoid in a folder."""
    mesh = make_demo_pair(resolution=6)[0]
    folder = tmp_path / "shapes"
    folder.mkdir()
    paths = []
    for k, stretch in enumerate((1.0, 1.15, 1.3)):
        paths.append(folder / f"shape{k}.ply")
        write_mesh(paths[-1], mesh.vertices * [stretch, 1.0, 1.0], mesh.faces)
    return paths


def open_launcher(window, qtbot) -> BatchLaunchDialog:
    next(a for a in window.findChildren(QAction) if a.text() == "Ru&n a batch…").trigger()
    dialog = window.findChildren(BatchLaunchDialog)[-1]
    qtbot.waitExposed(dialog)
    return dialog


def click_start(dialog, qtbot, flags=FAST) -> BatchRunDialog | None:
    dialog.flags = flags
    dialog.workers.setValue(1)
    qtbot.mouseClick(dialog.start_button, Qt.MouseButton.LeftButton)
    return dialog.run_dialog


def test_scales_that_follow_the_open_mesh_are_left_to_each_job(window, qtbot):
    dialog = open_launcher(window, qtbot)
    assert not [f for f in dialog.flags if f.startswith(SCALES)]  # the command scales them to each job's meshes
    assert "--steps=" in " ".join(dialog.flags)
    assert "each job's meshes" in dialog.scales_note.text() and dialog.scales_note.isVisible()
    dialog.close()

    parameters = window.parameters
    parameters.kernel.scales[0].setValue(2 * parameters.kernel.scales[0].value())  # set by the user
    dialog = open_launcher(window, qtbot)
    kernel = f"--kernel={parameters.kernel.text.text()}"
    assert kernel in dialog.flags and not any(f.startswith("--fidelity-scale=") for f in dialog.flags)
    assert "open window's settings" in dialog.scales_note.text() and kernel in dialog.scales_note.text()
    assert "the fidelity scale fitted to each job's meshes" in dialog.scales_note.text()
    dialog.close()

    parameters.fidelity_scale.setValue(0.5 * parameters.fidelity_scale.value())
    dialog = open_launcher(window, qtbot)
    assert [f for f in dialog.flags if f.startswith(SCALES)] == [
        kernel,
        f"--fidelity-scale={parameters.fidelity_scale.value()!r}",
    ]


def test_the_template_is_a_mesh_file_never_a_folder(window, qtbot, meshes, tmp_path):
    window.paths["source"] = meshes[0].parent  # as after opening a batch mode
    dialog = open_launcher(window, qtbot)
    assert dialog.template.text() == ""
    dialog.template.setText(str(meshes[0].parent))
    dialog.add_shapes([str(meshes[1])])
    dialog.out.setText(str(tmp_path / "batch"))
    assert click_start(dialog, qtbot) is None
    assert f"template {meshes[0].parent} is a folder, not a mesh file" in window.last_dialog.text()
    assert dialog.isVisible()


def test_a_corrupt_mesh_is_refused_with_the_form_kept(window, qtbot, meshes, tmp_path):
    (meshes[0].parent / "bad.ply").write_text("not a mesh")
    dialog = open_launcher(window, qtbot)
    dialog.kind.setCurrentIndex(dialog.kind.findData("pairwise"))
    dialog.add_shapes([str(meshes[0].parent)])
    dialog.out.setText(str(tmp_path / "batch"))
    assert click_start(dialog, qtbot) is None
    assert "bad.ply: not a PLY file, or a corrupt one" in window.last_dialog.text()
    assert dialog.isVisible() and dialog.shapes.count() == 1  # nothing to enter again
    assert not (tmp_path / "batch").exists()
    dialog.close()
    again = open_launcher(window, qtbot)  # the session remembers the last batch asked for
    assert again.kind.currentData() == "pairwise" and again.out.text() == str(tmp_path / "batch")
    assert [again.shapes.item(i).text() for i in range(again.shapes.count())] == [str(meshes[0].parent)]


def test_a_batch_the_command_refuses_reopens_the_form_filled_in(window, qtbot, meshes, tmp_path):
    out = tmp_path / "busy"
    out.mkdir()
    (out / "notes.txt").write_text("someone else's")
    dialog = open_launcher(window, qtbot)
    dialog.template.setText(str(meshes[0]))
    dialog.add_shapes([str(meshes[1])])
    dialog.out.setText(str(out))
    run = click_start(dialog, qtbot)
    qtbot.waitUntil(lambda: run.exit_code is not None, timeout=120_000)
    assert run.exit_code == 2
    assert window.last_dialog.windowTitle() == "The batch was refused"
    assert "holds other files (notes.txt)" in window.last_dialog.text()
    assert window.findChild(BatchResultsDialog) is None  # nothing ran: no results to open
    form = window.findChildren(BatchLaunchDialog)[-1]
    qtbot.waitExposed(form)
    assert form.refusal.isVisible() and "holds other files (notes.txt)" in form.refusal.text()
    assert form.template.text() == str(meshes[0]) and form.out.text() == str(out)
    assert form.shapes.count() == 1 and form.shapes.item(0).text() == str(meshes[1])


def slow_batch(window, qtbot, meshes, tmp_path) -> BatchRunDialog:
    """A template batch of 6 subjects, once its first job is done."""
    subjects = []
    for k in range(6):
        subjects.append(tmp_path / f"subject{k}.ply")
        shutil.copy(meshes[1 + k % 2], subjects[-1])
    dialog = open_launcher(window, qtbot)
    dialog.template.setText(str(meshes[0]))
    dialog.add_shapes([str(s) for s in subjects])
    dialog.out.setText(str(tmp_path / "long"))
    run = click_start(dialog, qtbot, SLOW)
    qtbot.waitUntil(lambda: run.counts.text().startswith("1 of 6 done"), timeout=90_000)
    return run


def test_a_cancelled_batch_resumes_from_the_run_dialog(window, qtbot, meshes, tmp_path):
    run = slow_batch(window, qtbot, meshes, tmp_path)
    qtbot.mouseClick(run.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: run.exit_code is not None, timeout=60_000)
    assert run.exit_code == 130 and run.resume_button.isVisible()
    done_before = run.jobs_done
    qtbot.mouseClick(run.resume_button, Qt.MouseButton.LeftButton)  # the same request again
    assert run.running() and not run.resume_button.isVisible() and run.cancel_button.text() == "Cancel"
    qtbot.waitUntil(lambda: any("from an earlier run" in line for line in run.output), timeout=90_000)
    assert f"({done_before} from an earlier run)" in next(line for line in run.output if "earlier run" in line)
    qtbot.mouseClick(run.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: run.exit_code is not None, timeout=60_000)
    assert run.exit_code == 130


def test_quitting_stops_a_running_batch_and_keeps_its_summary(window, qtbot, meshes, tmp_path, monkeypatch):
    assert close_running_batches(window)  # nothing runs: no question
    questions = []
    monkeypatch.setattr(batch_quitting, "ask_stop_and_quit", lambda parent, text: questions.append(text) or False)
    run = slow_batch(window, qtbot, meshes, tmp_path)
    window.close()  # the window asks first
    assert window.isVisible() and run.running()  # Cancel: the window stays, the batch goes on
    assert questions[0].startswith("A batch is running (1 of 6 jobs done). Stop it and quit?")
    assert "Finished jobs are kept." in questions[0]
    monkeypatch.setattr(batch_quitting, "ask_stop_and_quit", lambda parent, text: True)
    window.close()
    assert not window.isVisible() and not run.running() and run.exit_code == 130
    assert (tmp_path / "long" / "summary.csv").is_file()


def test_pre_align_moves_each_subject_onto_the_template(window, qtbot, meshes, tmp_path):
    turned = tmp_path / "turned.ply"
    mesh = read_mesh(meshes[1])
    write_mesh(turned, mesh.vertices @ Rotation.from_euler("z", 70, degrees=True).as_matrix().T + 0.4, mesh.faces)
    dialog = open_launcher(window, qtbot)
    dialog.template.setText(str(meshes[0]))
    dialog.add_shapes([str(turned)])
    dialog.out.setText(str(tmp_path / "aligned"))
    dialog.align.setCurrentIndex(dialog.align.findData("rigid"))
    run = click_start(dialog, qtbot)
    assert "--align=rigid" in run.request.arguments()
    qtbot.waitUntil(lambda: run.exit_code is not None, timeout=120_000)
    assert run.exit_code == 0, "\n".join(run.output[-5:])
    info = json.loads((tmp_path / "aligned" / "jobs" / "turned" / "result.json").read_text())
    moved = info["target_alignment"]  # the subject was turned back (the ellipsoid's symmetries allow several ways)
    assert moved["kind"] == "rigid" and moved["method"] == "icp" and moved["rotation_degrees"] > 10
    assert open_launcher(window, qtbot).align.currentData() == "rigid"  # remembered with the request
