"""File > Run a batch: the 'shapeviewer batch template|pairwise' command run in a child process (Dask and
torch stay out of the app), its progress lines shown, Cancel as Ctrl-C, the results opened at the end.
The last request of the session fills the form again (after a refusal, a Cancel or a new File > Run a batch)."""

from __future__ import annotations

import os
import re
import signal
import sys
import time
from dataclasses import dataclass, field
from html import escape
from pathlib import Path

from PySide6.QtCore import QProcess, QProcessEnvironment, Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ..batch.cluster import cpu_count
from ..batch.inputs import MESH_SUFFIXES, BatchInputError, expand_shapes, template_jobs
from ..batch.runner import PROGRESS_EVERY_VARIABLE
from ..cli_options import EXIT_BAD_INPUT, EXIT_INTERRUPTED, registration_flags
from ..core.alignment import ALIGNMENTS
from ..core.registration import default_fidelity_scale
from ..io.meshes import MeshReadError, read_mesh
from . import settings_store
from .batch_results import open_batch_results
from .busy import busy_cursor
from .kernel_editor import PRESETS

KINDS = {"template": "every subject to a template", "pairwise": "every pair of shapes"}
ALIGN_WORDS = {"none": "no (the poses as read)", "rigid": "rigid (ICP on the surfaces)",
               "similarity": "similarity (rigid and a scale)"}  # fmt: skip  # core.alignment.ALIGNMENTS, in words
PROGRESS = re.compile(r"jobs: (\d+)/(\d+) done(?: \([^)]*\))?, (\d+) failed, (\d+) running; (\S+) elapsed, ETA (\S+)")
SUMMARY = re.compile(r"^(\d+) done, (\d+) failed, (\d+) not finished, of (\d+) jobs")
STOPPING = "Stopping after the running jobs… (every finished job is kept)"
SIZE_FOLLOWING_FLAGS = ("--kernel=", "--fidelity-scale=")  # left out, the command scales them to each job
MESH_CHECK_SECONDS = 2.0  # Start reads the meshes for this long at most; the command reads the rest
_last_request: BatchRequest | None = None  # the session's last batch, to fill the form again


@dataclass
class BatchRequest:
    kind: str  # template | pairwise
    template: str
    shapes: list[str]
    out: str
    workers: int
    flags: list[str] = field(default_factory=list)
    align: str = "none"  # none | rigid | similarity: each job pre-aligned as 'register --align' does

    def problem(self) -> str:
        """Why the batch cannot start, or ''."""
        if self.kind == "template":
            if not self.template:
                return "choose the template: the mesh every subject is registered from"
            if Path(self.template).is_dir():
                return f"template {self.template} is a folder, not a mesh file"
            if not Path(self.template).is_file():
                return f"template {self.template}: no such file"
        if not self.shapes:
            return "add the shapes (files or a folder of meshes)"
        try:
            shapes = expand_shapes(self.shapes)
            if self.kind == "template":
                template_jobs(Path(self.template), shapes, Path(self.out or "."))
        except BatchInputError as exc:
            return str(exc)
        if self.kind == "pairwise" and len(shapes) < 2:
            return f"every pair needs at least 2 shapes, got {len(shapes)}"
        if not self.out:
            return "choose the output folder"
        if Path(self.out).exists() and not Path(self.out).is_dir():
            return f"output folder {self.out} is a file"
        return ""

    def meshes(self) -> list[Path]:
        """The template and the shapes, each once (call after :meth:`problem` found none)."""
        head = [Path(self.template).absolute()] if self.kind == "template" else []
        return head + [p for p in expand_shapes(self.shapes) if p not in head]

    def job_count(self) -> int:
        try:
            n = len(self.meshes())
        except BatchInputError:  # a shape gone since Start
            return 0
        return n - 1 if self.kind == "template" else n * (n - 1) // 2

    def unreadable_mesh(self, seconds: float = MESH_CHECK_SECONDS) -> str:
        """The first mesh that does not read, as the command would say it, or ''; reads for ``seconds`` at most."""
        started = time.monotonic()
        for path in self.meshes():
            if time.monotonic() - started > seconds:
                break
            try:
                read_mesh(path)
            except MeshReadError as exc:
                return str(exc)
            except OSError as exc:
                return f"{path}: {exc.strerror or exc}"
        return ""

    def arguments(self) -> list[str]:
        """After 'python': '-m shapeviewer batch ...'."""
        head = [self.template] if self.kind == "template" else []
        align = [f"--align={self.align}"] if self.align != "none" else []
        return ["-m", "shapeviewer", "batch", self.kind, *head, *self.shapes, "--out", self.out, *self.flags,
                *align, f"--workers={self.workers}"]  # fmt: skip


def _is_default(box, value: float) -> bool:
    """Whether a spin box shows ``value`` as it would once rounded to its decimals."""
    return abs(box.value() - value) <= 0.51 * 10.0 ** -box.decimals() + 1e-9 * abs(value)


def size_following_flags(panel) -> list[str]:
    """Which of '--kernel=' and '--fidelity-scale=' the Registration panel has on its automatic choice (the
    default cauchy, the default fidelity scale: fractions of the open source's size), not set by the user."""
    editor = panel.kernel
    size = getattr(panel, "shape_size", editor.shape_size)
    kernel = editor.preset.currentText() == "cauchy" and _is_default(editor.scales[0], PRESETS["cauchy"][1][0] * size)
    fidelity = _is_default(panel.fidelity_scale, default_fidelity_scale(size))
    return [flag for flag, follows in zip(SIZE_FOLLOWING_FLAGS, (kernel, fidelity), strict=True) if follows]


def batch_flags(panel) -> tuple[list[str], str]:
    """The batch's registration flags from the panel, and where its scales come from, in words. Scales that
    follow the open source's size are left out: the command then fits them to each job's meshes."""
    following = tuple(size_following_flags(panel))
    flags = [f for f in registration_flags(panel.settings()) if not following or not f.startswith(following)]
    kept = [f for f in flags if f.startswith(SIZE_FOLLOWING_FLAGS)]
    if not kept:
        return flags, "Kernel and fidelity scales: fitted to each job's meshes (the command's defaults)."
    note = f"{' and '.join(kept)}: from the open window's settings (its Registration panel), the same for every job"
    if following:
        note += f"; the {'kernel' if following == ('--kernel=',) else 'fidelity scale'} fitted to each job's meshes"
    return flags, note + "."


def _existing_mesh(path) -> str:
    return str(path) if path and Path(path).is_file() and Path(path).suffix.lower() in MESH_SUFFIXES else ""


def _browse_row(edit: QLineEdit, pick) -> QWidget:
    row = QWidget()
    layout = QHBoxLayout(row)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.addWidget(edit, 1)
    button = QPushButton("Browse…")
    button.clicked.connect(pick)
    layout.addWidget(button)
    return row


class BatchLaunchDialog(QDialog):
    """What to run: the kind, the template, the shapes, the output folder and the local workers."""

    def __init__(self, window, request: BatchRequest | None = None, refusal: str = ""):
        super().__init__(window)
        self.window_ = window
        self.setObjectName("batchLaunchDialog")
        self.setWindowTitle("Run a batch")
        self.kind = QComboBox()
        for key, text in KINDS.items():
            self.kind.addItem(text, key)
        self.template = QLineEdit(_existing_mesh(window.paths.get("source")))
        self.template_row = _browse_row(self.template, self._pick_template)
        self.shapes = QListWidget()
        self.shapes.setMinimumHeight(110)
        add_files, add_folder, remove = QPushButton("Add files…"), QPushButton("Add folder…"), QPushButton("Remove")
        add_files.clicked.connect(self._add_files)
        add_folder.clicked.connect(self._add_folder)
        remove.clicked.connect(lambda: [self.shapes.takeItem(self.shapes.row(i)) for i in self.shapes.selectedItems()])
        shape_buttons = QHBoxLayout()
        for button in (add_files, add_folder, remove):
            shape_buttons.addWidget(button)
        self.out = QLineEdit()
        self.workers = QSpinBox()
        self.workers.setRange(1, 2 * cpu_count())  # as the command allows
        self.workers.setValue(cpu_count())  # the command's default: one per core
        self.align = QComboBox()
        for kind in ALIGNMENTS:
            self.align.addItem(ALIGN_WORDS.get(kind, kind), kind)
        self.align.setToolTip("Each pair: the earlier shape moves onto the later one. Template: each subject moves "
                              "onto the template, which stays put (its momenta stay comparable).")  # fmt: skip
        self.flags, scales_note = batch_flags(window.parameters)
        options = QLabel("  ".join(self.flags).replace("-", "\u2011"))  # no line break inside an option
        options.setWordWrap(True)
        options.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        options.setToolTip("From the Registration panel; change them there")
        self.scales_note = QLabel(scales_note)
        self.scales_note.setObjectName("batchScalesNote")
        self.scales_note.setWordWrap(True)
        refused = escape(f"The batch was refused: {refusal}", quote=False)
        self.refusal = QLabel(f"<span style='color:#b00020'>{refused}</span>")
        self.refusal.setObjectName("batchRefusal")
        self.refusal.setWordWrap(True)
        self.refusal.setTextFormat(Qt.TextFormat.RichText)
        self.refusal.setVisible(bool(refusal))
        form = QFormLayout()
        form.addRow("Register", self.kind)
        form.addRow("Template", self.template_row)
        form.addRow("Shapes", self.shapes)
        form.addRow("", shape_buttons)
        form.addRow("Output folder", _browse_row(self.out, self._pick_out))
        form.addRow("Local workers", self.workers)
        form.addRow("Pre-align", self.align)
        form.addRow("Options", options)
        form.addRow("", self.scales_note)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.start_button = buttons.addButton("Start", QDialogButtonBox.ButtonRole.AcceptRole)
        self.start_button.clicked.connect(self.start)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.refusal)
        layout.addLayout(form)
        layout.addWidget(buttons)
        self.kind.currentIndexChanged.connect(self._kind_changed)
        self.run_dialog: BatchRunDialog | None = None
        if request is not None or _last_request is not None:
            self.fill(request or _last_request)
        self._kind_changed()
        self.resize(620, 460)

    def fill(self, request: BatchRequest) -> None:
        """The form as it was for ``request`` (the options stay those of the Registration panel now)."""
        self.kind.setCurrentIndex(self.kind.findData(request.kind))
        self.template.setText(request.template)
        self.shapes.clear()
        self.add_shapes(request.shapes)
        self.out.setText(request.out)
        self.workers.setValue(request.workers)
        self.align.setCurrentIndex(self.align.findData(request.align))

    def _kind_changed(self) -> None:
        self.template_row.setEnabled(self.kind.currentData() == "template")

    def _pick_template(self) -> None:
        name, _ = QFileDialog.getOpenFileName(self, "Template", settings_store.last_folder())
        if name:
            self.template.setText(name)

    def _add_files(self) -> None:
        names, _ = QFileDialog.getOpenFileNames(self, "Shapes", settings_store.last_folder())
        self.add_shapes(names)

    def _add_folder(self) -> None:
        name = QFileDialog.getExistingDirectory(self, "A folder of meshes", settings_store.last_folder())
        if name:
            self.add_shapes([name])

    def _pick_out(self) -> None:
        name = QFileDialog.getExistingDirectory(self, "Batch output folder", settings_store.last_folder())
        if name:
            self.out.setText(name)

    def add_shapes(self, names) -> None:
        for name in names:
            self.shapes.addItem(str(name))

    def request(self) -> BatchRequest:
        shapes = [self.shapes.item(i).text() for i in range(self.shapes.count())]
        template = self.template.text().strip()
        return BatchRequest(self.kind.currentData(), template, shapes, self.out.text().strip(), self.workers.value(),
                            self.flags, self.align.currentData())  # fmt: skip

    def start(self) -> None:
        """Checks the inputs as the command would first (the form stays open on a problem), then runs it."""
        global _last_request
        request = self.request()
        _last_request = request
        problem = self.window_.parameters.problem() or request.problem()
        if not problem:
            with busy_cursor():
                problem = request.unreadable_mesh()
        if problem:
            self.window_.show_error("Cannot start the batch", problem)
            return
        self.run_dialog = BatchRunDialog(self.window_, request)
        self.run_dialog.show()
        self.run_dialog.start()
        self.accept()


class BatchRunDialog(QDialog):
    """The running batch: counts and ETA from its progress lines, the failed jobs, Cancel (Ctrl-C)."""

    def __init__(self, window, request: BatchRequest):
        super().__init__(window)
        self.window_, self.request = window, request
        self.setObjectName("batchRunDialog")
        self.setWindowTitle(f"Batch: {KINDS[request.kind]}")
        self.setModal(False)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)  # once the command has ended: see closeEvent
        self.status = QLabel("Starting the local cluster…")
        self.status.setWordWrap(True)
        self.counts = QLabel("")
        self.bar = QProgressBar()
        self.bar.setRange(0, 0)  # busy until the first progress line
        self.failed = QListWidget()
        self.failed.setWordWrap(True)
        self.failed.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.failed.setMaximumHeight(120)
        self.failed_title = QLabel("Failed jobs")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel)
        self.resume_button = QPushButton("Resume")
        self.resume_button.setToolTip("Run the same batch again: it skips the finished jobs")
        self.resume_button.clicked.connect(self.resume)
        self.edit_button = QPushButton("Change the batch…")
        self.edit_button.setToolTip("The Run a batch form, filled in as for this batch")
        self.edit_button.clicked.connect(self.edit)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        for button in (self.edit_button, self.resume_button, self.cancel_button):
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(f"Output: {request.out}"))
        layout.addWidget(self.status)
        layout.addWidget(self.bar)
        layout.addWidget(self.counts)
        layout.addWidget(self.failed_title)
        layout.addWidget(self.failed)
        layout.addLayout(buttons)
        self._reset()
        self.quitting = False  # the app is closing: no results to open
        self.process = QProcess(self)
        self.process.setProcessChannelMode(QProcess.ProcessChannelMode.MergedChannels)
        env = QProcessEnvironment.systemEnvironment()
        env.insert(PROGRESS_EVERY_VARIABLE, "0")  # a line at each change
        self.process.setProcessEnvironment(env)
        self.process.readyReadStandardOutput.connect(self._read)
        self.process.finished.connect(self._finished)
        self.process.errorOccurred.connect(self._error)
        self.resize(520, 260)

    def _reset(self) -> None:
        self.failed_title.hide()
        self.failed.hide()
        self.failed.clear()
        self.resume_button.hide()
        self.edit_button.hide()
        self.cancel_button.setText("Cancel")
        self.cancel_button.setEnabled(True)
        self.bar.setRange(0, 0)
        self.counts.setText("")
        self.output: list[str] = []  # every line the command wrote
        self.exit_code: int | None = None
        self.cancelling = False
        self.jobs_done, self.jobs_total = 0, 0
        self._partial = ""

    def resume(self) -> None:
        """The same batch again: the command skips the jobs that finished."""
        self._reset()
        self.status.setText("Resuming: starting the local cluster…")
        self.start()

    def edit(self) -> None:
        run_batch_dialog(self.window_, self.request)
        self.close()

    def start(self) -> None:
        self.window_.log_panel.add(f"batch: {sys.executable} {' '.join(self.request.arguments())}")
        self.window_.status_line.setText(f"Batch {self.request.out}: running (progress in its window)")
        self.process.start(sys.executable, self.request.arguments())

    def running(self) -> bool:
        return self.process.state() != QProcess.ProcessState.NotRunning

    def cancel(self) -> None:
        """Ctrl-C for the command: it stops the running jobs, keeps the finished ones, writes the summary."""
        if not self.running():
            self.close()
            return
        if self.cancelling:
            return
        self.cancelling = True
        self.status.setText(STOPPING)
        self.cancel_button.setEnabled(False)
        pid = self.process.processId()
        if os.name == "posix" and pid:
            os.kill(pid, signal.SIGINT)  # QProcess.terminate sends SIGTERM, which the command does not handle
        else:
            self.process.terminate()

    def _read(self) -> None:
        text = self._partial + bytes(self.process.readAllStandardOutput()).decode("utf-8", "replace")
        *lines, self._partial = text.replace("\r", "\n").split("\n")
        for line in filter(None, (line.strip() for line in lines)):
            self._line(line)

    def _line(self, line: str) -> None:
        self.output.append(line)
        match = PROGRESS.search(line)
        if match:
            done, total, failed, running, elapsed, eta = match.groups()
            self.jobs_done, self.jobs_total = int(done), int(total)
            self.bar.setRange(0, int(total))
            self.bar.setValue(int(done) + int(failed))
            self.counts.setText(f"{done} of {total} done, {failed} failed, {running} running; "
                                f"{elapsed} elapsed, ETA {eta}")  # fmt: skip
            if not self.cancelling:
                self.status.setText("Running; Cancel stops after the running jobs and keeps every finished one")
        elif summary := SUMMARY.match(line):
            done, failed, left, total = summary.groups()
            self.jobs_done, self.jobs_total = int(done), int(total)
            self.counts.setText(f"{done} of {total} done, {failed} failed, {left} not run")
        elif line.startswith("failed: "):
            self.failed_title.show()
            self.failed.show()
            self.failed.addItem(line.removeprefix("failed: "))
        elif line.startswith(("batch: ", "workers: ")) and not self.cancelling:
            self.status.setText(line.split(": ", 1)[1])

    def _error(self, error) -> None:
        if error == QProcess.ProcessError.FailedToStart:
            self.window_.show_error("Cannot start the batch", f"{sys.executable}: {self.process.errorString()}")
            self._done(f"Could not start: {self.process.errorString()}")

    def _finished(self, code: int, exit_status) -> None:
        self._read()
        if self._partial.strip():
            self._line(self._partial.strip())
            self._partial = ""
        self.exit_code = code if exit_status == QProcess.ExitStatus.NormalExit else -1
        out = self.request.out
        if self.exit_code == 0:
            self._done("Finished: every job done.")
            self._open_results()
        elif self.exit_code == 1 and Path(out, "summary.csv").is_file():  # else a crash before the end
            self._done(f"Finished; {self.failed.count() or 'some'} jobs failed (listed here and in the results).")
            self._open_results()
        elif self.exit_code == EXIT_INTERRUPTED:
            self._done("Cancelled: every finished job is kept; Resume runs the rest.")
            self.resume_button.show()
        elif self.exit_code == EXIT_BAD_INPUT:
            errors = [line for line in self.output if line.startswith("shapeviewer: ")] or self.output[-1:]
            message = errors[-1].removeprefix("shapeviewer: error: ") if errors else "no message"
            self._done(f"Refused: {message}")
            self.window_.show_error("The batch was refused", message)
            if not self.quitting:  # the form again, as it was, to correct what was refused
                run_batch_dialog(self.window_, self.request, refusal=message)
        else:
            tail = "\n".join(self.output[-20:])
            self._done(f"Ended with exit status {code}.")
            self.window_.show_error("The batch failed", f"'shapeviewer batch' ended with exit status {code}", tail)

    def _done(self, message: str) -> None:
        if self.bar.maximum() == 0:
            self.bar.setRange(0, 1)  # no longer busy
        self.status.setText(message)
        self.window_.status_line.setText(f"Batch {self.request.out}: {message}")
        self.window_.log_panel.add(f"batch: {message}")
        self.cancel_button.setText("Close")
        self.cancel_button.setEnabled(True)
        self.edit_button.show()

    def _open_results(self) -> None:
        if not self.quitting:
            open_batch_results(self.window_, self.request.out)

    def closeEvent(self, event) -> None:  # noqa: N802  Qt's name
        if self.running():  # closing the window cancels, as Cancel does; it closes when the command has ended
            self.cancel()
            event.ignore()
            return
        super().closeEvent(event)


def run_batch_dialog(window, request: BatchRequest | None = None, refusal: str = "") -> BatchLaunchDialog:
    """The form; filled in as for ``request``, else as for the session's last batch."""
    dialog = BatchLaunchDialog(window, request, refusal)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.show()
    return dialog
