"""File > Open batch results: the heat-map, the jobs and the modes of a real (tiny) batch; clicks show them."""

import csv
import shutil

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QFileDialog

from shapeviewer.batch import command
from shapeviewer.batch.worker import run_job
from shapeviewer.cli import build_parser
from shapeviewer.io.demo import make_demo_pair
from shapeviewer.io.meshes import write_mesh
from shapeviewer.io.results import read_result_dir
from shapeviewer.qt.batch_results import BatchResultsDialog

STEPS = 4
FAST = ["--backend", "torch", "--steps", str(STEPS), "--dtype", "float64", "--iterations", "3"]


def run_batch(argv: list[str]) -> int:
    """'shapeviewer batch ...' with its jobs run one after another in this process instead of on Dask."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(command, "_run_on_cluster", lambda args, jobs, *_: ([run_job(j, args) for j in jobs], False))
        return command.run_batch_command(build_parser().parse_args(argv))


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    """small (50 vertices), source and target (82 each), and a file that is no mesh."""
    folder = tmp_path_factory.mktemp("shapes")
    (small, _), (source, target) = make_demo_pair(resolution=8), make_demo_pair(resolution=10)
    paths = [folder / f"{name}.ply" for name in ("small", "source", "target")]
    for mesh, path in zip((small, source, target), paths, strict=True):
        write_mesh(path, mesh.vertices, mesh.faces)
    (folder / "broken.ply").write_text("not a mesh")
    return [*paths, folder / "broken.ply"]


@pytest.fixture(scope="module")
def pairwise(shapes, tmp_path_factory):
    out = tmp_path_factory.mktemp("batches") / "pairwise"
    assert run_batch(["batch", "pairwise", *map(str, shapes), "--out", str(out), *FAST]) == 1  # broken's pairs fail
    return out


@pytest.fixture(scope="module")
def template(shapes, tmp_path_factory):
    out = tmp_path_factory.mktemp("batches") / "template"
    small, source, target, broken = shapes
    stretched = source.with_name("stretched.ply")
    mesh = make_demo_pair(resolution=10)[0]
    write_mesh(stretched, mesh.vertices * [1.2, 1.0, 1.0], mesh.faces)
    argv = ["batch", "template", str(source), str(target), str(stretched), str(broken), "--out", str(out), *FAST]
    assert run_batch(argv) == 1
    argv = ["batch", "modes", str(out), "--out", str(out / "modes"), "--movie", "none"]
    assert run_batch(argv) == 0
    return out


def open_through_menu(window, monkeypatch, qtbot, folder) -> BatchResultsDialog | None:
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(folder))
    next(a for a in window.findChildren(QAction) if a.text() == "Open &batch results…").trigger()
    dialogs = window.findChildren(BatchResultsDialog)
    if not dialogs:
        return None
    qtbot.waitExposed(dialogs[-1])
    return dialogs[-1]


def click_cell(qtbot, table, row: int, col: int) -> None:
    item = table.item(row, col)
    table.scrollToItem(item)
    qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=table.visualItemRect(item).center())


def test_a_pairwise_heat_map_cell_shows_that_registration(window, pairwise, monkeypatch, qtbot):
    dialog = open_through_menu(window, monkeypatch, qtbot, pairwise)
    matrix = dialog.matrix
    names = ["small", "source", "target", "broken"]
    assert [matrix.horizontalHeaderItem(i).text() for i in range(4)] == names
    distances = np.load(pairwise / "distances.npy")
    shown = [matrix.item(*cell).text().removesuffix(" ⚠") for cell in ((2, 0), (0, 2))]  # ⚠: flagged jobs
    assert shown == [f"{distances[2, 0]:.3g}"] * 2
    assert matrix.item(3, 1).text() == "failed" and "broken" in matrix.item(3, 1).toolTip()
    assert "3 of 6 jobs done, 3 failed" in dialog.header.text()

    click_cell(qtbot, matrix, 2, 0)  # below the diagonal: the pair small -> target
    assert matrix.itemDelegate().pair == (0, 2)  # framed, above and below the diagonal
    written = read_result_dir(pairwise / "jobs" / "small__target")
    doc = window.doc
    assert doc.result is not None and doc.result.n_frames == STEPS + 1
    assert window.meshes["source"].n_vertices == 50
    np.testing.assert_allclose(window.meshes["source"].vertices, written.trajectory[0])
    np.testing.assert_allclose(doc.result.trajectory, written.trajectory)
    assert window.windowTitle().startswith("small__target — pairwise")
    assert "job small__target of the batch" in window.status_line.text()
    assert window.parameters.steps.value() == STEPS and window.parameters.iterations.value() == 3

    click_cell(qtbot, matrix, 1, 2)  # above it: source -> target
    assert window.meshes["source"].n_vertices == 82
    assert window.windowTitle().startswith("source__target")
    window.playback.step(-1)
    assert doc.frame == STEPS - 1


def test_a_failed_pair_says_why_and_shows_nothing(window, pairwise, monkeypatch, qtbot):
    dialog = open_through_menu(window, monkeypatch, qtbot, pairwise)
    before = window.meshes["source"]
    click_cell(qtbot, dialog.matrix, 0, 3)
    assert window.meshes["source"] is before and window.doc.result is None
    assert "small__broken failed" in dialog.message.text() and "broken.ply" in dialog.message.text()
    dialog.tabs.setCurrentWidget(dialog.jobs_table)
    rows = [dialog.jobs_table.item(r, 0).text() for r in range(dialog.jobs_table.rowCount())]
    assert rows == ["small__source", "small__target", "small__broken", "source__target", "source__broken",
                    "target__broken"]  # fmt: skip
    assert dialog.jobs_table.item(rows.index("source__broken"), 2).text() == "failed"


def test_template_jobs_and_modes(window, template, monkeypatch, qtbot):
    dialog = open_through_menu(window, monkeypatch, qtbot, template)
    assert dialog.matrix is None
    jobs = dialog.jobs_table
    dialog.tabs.setCurrentWidget(jobs)
    assert [jobs.item(r, 2).text() for r in range(jobs.rowCount())] == ["done", "done", "failed"]
    click_cell(qtbot, jobs, 1, 0)  # source -> stretched
    assert window.windowTitle().startswith("stretched — template")
    assert window.doc.result.n_frames == STEPS + 1

    modes = dialog.modes_table
    dialog.tabs.setCurrentIndex(dialog.tabs.indexOf(modes))
    assert modes.rowCount() == 1  # two subjects: one mode
    click_cell(qtbot, modes, 0, 0)
    minus, plus = (read_result_dir(template / "modes" / f"mode_1_{side}") for side in ("minus", "plus"))
    assert window.doc.result.n_frames == 2 * STEPS + 1  # minus side, template, plus side
    np.testing.assert_allclose(window.doc.result.trajectory[STEPS], plus.trajectory[0])  # the template
    np.testing.assert_allclose(window.meshes["source"].vertices, minus.trajectory[-1])
    np.testing.assert_allclose(window.meshes["target"].vertices, plus.trajectory[-1])
    assert window.windowTitle().startswith("mode 1 — template")


def test_a_mode_not_shot_gives_the_command(window, template, monkeypatch, qtbot, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(template, copy)
    shutil.rmtree(copy / "modes")
    dialog = open_through_menu(window, monkeypatch, qtbot, copy)
    dialog.tabs.setCurrentIndex(dialog.tabs.indexOf(dialog.modes_table))
    click_cell(qtbot, dialog.modes_table, 0, 0)
    assert f"shapeviewer batch modes {copy} --out {copy / 'modes'}" in dialog.message.text()
    assert window.doc.result is None


def test_a_folder_that_is_not_a_batch_says_so(window, tmp_path, monkeypatch, qtbot):
    (tmp_path / "plain").mkdir()
    assert open_through_menu(window, monkeypatch, qtbot, tmp_path / "plain") is None
    assert window.last_dialog.windowTitle() == "Cannot open the batch results"
    assert "holds no batch.json" in window.last_dialog.text()


def test_the_dialog_leaves_the_result_view_visible_and_fits_its_matrix(window, pairwise, monkeypatch, qtbot):
    window.resize(900, 700)  # a 1600-pixel screen has room beside it
    window.move(0, 0)
    qtbot.waitExposed(window)
    dialog = open_through_menu(window, monkeypatch, qtbot, pairwise)
    view = window.centralWidget()
    centre = view.mapToGlobal(view.rect().center())
    assert not dialog.frameGeometry().contains(centre)
    window.resize(1560, 900)  # no room beside: it goes over the parameters dock, still off the view's centre
    qtbot.waitUntil(lambda: window.width() > 1500)
    dialog = open_through_menu(window, monkeypatch, qtbot, pairwise)
    centre = view.mapToGlobal(view.rect().center())
    assert not dialog.frameGeometry().contains(centre)
    matrix = dialog.matrix
    cells = matrix.horizontalHeader().length(), matrix.verticalHeader().length()
    viewport = matrix.viewport().size()
    assert cells[0] > 0.7 * viewport.width() and cells[1] > 0.7 * viewport.height()  # no empty three quarters
    assert viewport.width() >= cells[0] and viewport.height() >= cells[1]  # and nothing cut off


def fully_shown(table) -> bool:
    """Every header and cell text fits its column, and no column is out of view sideways."""
    metrics, header = table.fontMetrics(), table.horizontalHeader()
    for c in range(table.columnCount()):
        texts = [table.horizontalHeaderItem(c).text()] + [table.item(r, c).text() for r in range(table.rowCount())]
        if any(metrics.horizontalAdvance(text) > table.columnWidth(c) for text in texts):
            return False
    return header.length() <= table.viewport().width() and table.horizontalScrollBar().maximum() == 0


def test_the_jobs_and_modes_columns_are_readable_without_scrolling(window, template, monkeypatch, qtbot, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(template, copy)
    shutil.rmtree(copy / "modes")
    dialog = open_through_menu(window, monkeypatch, qtbot, copy)
    screen = dialog.screen().availableGeometry()
    assert dialog.width() <= screen.width()
    modes = dialog.modes_table
    dialog.tabs.setCurrentIndex(dialog.tabs.indexOf(modes))
    qtbot.waitUntil(lambda: modes.isVisible())
    assert modes.item(0, 3).text() == "not shot yet (click for the command)"
    assert fully_shown(modes)
    jobs = dialog.jobs_table
    dialog.tabs.setCurrentWidget(jobs)
    qtbot.waitUntil(lambda: jobs.isVisible())
    assert fully_shown(jobs)
    message = jobs.item(2, 5)  # its folders left out; the tooltip holds it whole
    assert message.text().startswith("broken.ply: not a PLY file") and message.toolTip() == dialog.batch.jobs[2].message
    assert all(jobs.item(r, c).toolTip() for r in range(jobs.rowCount()) for c in (0, 1, 5))
    dialog.grab().save(str(tmp_path / "jobs.png"))


def test_a_flagged_job_shows_its_warning_in_the_jobs_and_the_heat_map(window, pairwise, monkeypatch, qtbot, tmp_path):
    folder = tmp_path / "flagged"
    shutil.copytree(pairwise, folder)
    summary = folder / "summary.csv"
    with summary.open(newline="") as f:
        rows = list(csv.DictReader(f))
    warning = "deformed source shrank to 2% of its area: poses differ? try --align rigid"
    for row in rows:
        row["warning"] = warning if row["job"] == "small__source" else ""
    with summary.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    dialog = open_through_menu(window, monkeypatch, qtbot, folder)
    assert dialog.matrix.item(0, 1).text().endswith("⚠") and "shrank to 2% of" in dialog.matrix.item(0, 1).toolTip()
    assert not dialog.matrix.item(1, 2).text().endswith("⚠")
    table = dialog.jobs_table
    r = [table.item(i, 0).text() for i in range(table.rowCount())].index("small__source")
    shown = table.item(r, table.columnCount() - 1).text()
    assert table.item(r, 2).text() == "done ⚠" and shown.startswith("⚠ deformed source shrank to 2% of its area")
    assert "Pre-align: rigid (File > Run a batch)" in shown and "--align" not in shown  # the app's words
    names = [dialog.matrix.horizontalHeaderItem(c).text() for c in range(dialog.matrix.columnCount())]
    widest = max(dialog.matrix.fontMetrics().horizontalAdvance(n) for n in names)
    assert all(dialog.matrix.columnWidth(c) > widest for c in range(len(names)))  # no name cut in its header
