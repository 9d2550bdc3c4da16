"""The main window: input views, result view with playback, parameters, convergence plot and log."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ..core.errors import InputError
from ..document import Document
from ..document.credibility import pose_hint
from ..document.summary import result_title
from ..io.meshes import Mesh, MeshReadError, read_mesh
from . import settings_store, window_closing
from .app import app_icon
from .busy import busy_cursor
from .display_options import DisplayOptions
from .formula_warmup import FormulaWarmup
from .inspection import install_inspection
from .landmark_actions import connect_landmark_tools
from .landmark_controller import LandmarkController
from .landmark_panel import LandmarkPanel
from .log_panel import LogPanel
from .mask_actions import connect_mask_tools
from .menus import build_menus
from .mesh_views import InputViews, ResultView, schedule_paint
from .paint_controller import PaintController
from .paint_panel import PaintPanel
from .parameters_panel import ParametersPanel
from .playback import Playback, PlaybackBar
from .plots import LossPlot
from .progress_strip import ProgressStrip
from .run_controller import RunController
from .session_manager import SessionManager
from .warning_relay import WarningRelay
from .worker import RegistrationJob

MESH_FILTER = "Meshes (*.ply *.obj *.stl *.vtk *.vtp *.off);;All files (*)"


def _scrolled(widget: QWidget) -> QScrollArea:
    page = QWidget()
    col = QVBoxLayout(page)
    col.addWidget(widget)
    col.addStretch(1)
    scroll = QScrollArea()
    scroll.setWidget(page)
    scroll.setWidgetResizable(True)
    scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)  # fields shrink instead
    return scroll


class MainWindow(QMainWindow):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setWindowTitle("shapeviewer")
        self.setWindowIcon(app_icon())
        self.doc = Document()
        self.last_dialog: QMessageBox | None = None
        self.movie_progress = None  # the progress dialog of a movie export in progress
        self.sequence_progress = None  # the progress dialog of an export of every frame in progress

        self.inputs = InputViews(self)
        self.result = ResultView(self)
        self.playback = Playback(self)
        self.playback_bar = PlaybackBar(self.playback)
        result_box = QWidget()
        col = QVBoxLayout(result_box)
        col.setContentsMargins(0, 0, 0, 0)
        col.addWidget(self.result.view, 1)
        col.addWidget(self.playback_bar)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.inputs.view)
        split.addWidget(result_box)
        split.setSizes([300, 500])
        self.setCentralWidget(split)

        self.parameters = ParametersPanel()
        self.display = DisplayOptions()
        self.paint = PaintController(self.inputs, self)
        self.paint_panel = PaintPanel(self.paint)
        self.landmark_control = LandmarkController(self.inputs, self.doc.landmarks, self)
        self.landmark_panel = LandmarkPanel(self.landmark_control, self.parameters.landmark_weight)
        self.run_button = QPushButton("Run")
        self.run_button.setObjectName("runButton")
        self.stop_button = QPushButton("Stop")
        self.stop_button.setObjectName("stopButton")
        self.stop_button.setEnabled(False)
        self.side_tabs = QTabWidget()
        for widget, name in ((self.parameters, "Registration"), (self.paint_panel, "Mask"),
                             (self.landmark_panel, "Landmarks"), (self.display, "Display")):  # fmt: skip
            self.side_tabs.addTab(_scrolled(widget), name)
        self.landmark_tab = self.side_tabs.widget(2)
        self.side_tabs.setMinimumWidth(380)
        scroll = self.side_tabs
        self.run_problem = QLabel()
        self.run_problem.setWordWrap(True)
        dock_body = QWidget()
        dock_col = QVBoxLayout(dock_body)
        dock_col.setContentsMargins(0, 0, 0, 4)
        dock_col.addWidget(scroll, 1)
        dock_col.addWidget(self.run_problem)
        buttons = QHBoxLayout()
        buttons.addWidget(self.run_button)
        buttons.addWidget(self.stop_button)
        dock_col.addLayout(buttons)
        self._dock("Parameters", dock_body, Qt.DockWidgetArea.RightDockWidgetArea)

        self.loss_plot = LossPlot()
        self.loss_plot.observe(self.doc)
        self.log_panel = LogPanel()
        tabs = QTabWidget()
        tabs.addTab(self.loss_plot, "Convergence")
        tabs.addTab(self.log_panel, "Log")
        self.bottom_tabs = tabs
        bottom = self._dock("Convergence and log", tabs, Qt.DockWidgetArea.BottomDockWidgetArea)
        self.resizeDocks([bottom], [250], Qt.Orientation.Vertical)

        self.progress = ProgressStrip()
        self.status_line = QLabel("Open a source and a target mesh")
        self.statusBar().addWidget(self.status_line, 1)
        self.statusBar().addPermanentWidget(self.progress)

        self.run = RunController(self.doc, self)
        self.warmup = FormulaWarmup(self.doc, self)
        self._waiting_job: RegistrationJob | None = None  # a Run pressed during the warm-up
        self.warnings = WarningRelay(self)
        self.warnings.warned.connect(self._warned)
        self.session = SessionManager(self)
        self.actions = build_menus(self)
        self._connect()
        install_inspection(self)
        connect_landmark_tools(self)  # registers its layer with the inspection's list
        self._restore_layout()

    def _dock(self, title: str, widget, area) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(title)
        dock.setWidget(widget)
        dock.setFeatures(
            QDockWidget.DockWidgetFeature.DockWidgetMovable | QDockWidget.DockWidgetFeature.DockWidgetFloatable
        )
        self.addDockWidget(area, dock)
        return dock

    @property
    def meshes(self) -> dict[str, Mesh]:
        return self.doc.meshes

    @property
    def paths(self) -> dict[str, Path]:
        return self.doc.paths

    def _connect(self) -> None:
        run, doc = self.run, self.doc
        self.run_button.clicked.connect(self.start_run)
        self.stop_button.clicked.connect(self.stop_run)
        doc.run_changed.connect(self._running_changed)
        doc.result_changed.connect(self._result_changed)
        doc.frame_changed.connect(self._frame_changed)
        doc.modified_changed.connect(self.setWindowModified)
        doc.settings_changed.connect(self.revalidate)
        doc.mask_changed.connect(self.revalidate)
        run.status.connect(self.status_line.setText)
        run.progress.connect(self.progress.set_progress)
        run.log.connect(self.log_panel.add)
        run.error.connect(self.show_error)
        self.warmup.status.connect(self._warmup_said)
        self.warmup.finished.connect(self._warmup_finished)
        self.warmup.progress.connect(self._warmup_progress)
        self.parameters.changed.connect(self._settings_edited)
        self.playback.frame_changed.connect(doc.set_frame)
        # A new geodesic from the run is painted one event-loop turn after it is applied: input and
        # timers get in between, instead of waiting for the update and the render in one go.
        self._result_paint = QTimer(self)
        self._result_paint.setSingleShot(True)
        self._result_paint.setInterval(0)
        self._result_paint.timeout.connect(lambda: schedule_paint(self.result.view))
        self.playback.playing_changed.connect(self._playing_changed)
        self.parameters.validity_changed.connect(self.revalidate)
        self.parameters.kernel.kernel_changed.connect(lambda _k: self.display.update_kernel_sphere(self))
        self.inputs.files_dropped.connect(self._files_dropped)
        self.display.connect_window(self)
        connect_mask_tools(self)
        doc.landmarks.changed.connect(self.revalidate)
        self.revalidate()

    def _warmup_said(self, text: str) -> None:
        self.log_panel.add(text)
        if not self.doc.running:
            self.status_line.setText(text)

    def _warmup_progress(self, done: int, total: int, label: str) -> None:
        if not self.doc.running:
            self.progress.set_progress(done, total, label)

    def _warmup_finished(self) -> None:
        job, self._waiting_job = self._waiting_job, None
        if job is not None:
            self.run.start(job)

    def _warned(self, text: str, ours: bool) -> None:
        """Every warning goes to the log; the status bar shows ours (a library's numpy noise is not news)."""
        self.log_panel.add(f"warning: {text}")
        if ours:
            self.status_line.setText(f"Warning: {text}")

    def _settings_edited(self) -> None:
        """The panel's settings become the document's whenever they are valid."""
        if not self.parameters.problem():
            self.doc.set_settings(self.parameters.settings())

    # ---- files -------------------------------------------------------------------------------
    def open_mesh_dialog(self, role: str) -> None:
        path, _ = QFileDialog.getOpenFileName(self, f"Open {role} mesh", settings_store.last_folder(), MESH_FILTER)
        if path:
            self.load_mesh(role, Path(path))

    def load_mesh(self, role: str, path: Path) -> bool:
        """Read ``path`` as the source or target; on failure show why and keep what was loaded."""
        return self._load({role: Path(path)})

    def load_pair(self, source: Path, target: Path) -> bool:
        """Both files or neither: if one fails, the meshes already loaded stay."""
        return self._load({"source": Path(source), "target": Path(target)})

    def _load(self, paths: dict[str, Path], remember: bool = True) -> bool:
        names = ", ".join(p.name for p in paths.values())
        if self.run.running:
            self.show_error("Registration running", f"Stop the registration before opening {names}.")
            return False
        if not self.may_replace_result(f"opening {names}"):
            return False
        try:
            with busy_cursor():  # gone before the dialog below shows
                read = {role: read_mesh(path) for role, path in paths.items()}
        except MeshReadError as exc:
            self.show_error("Cannot open mesh", str(exc))
            return False
        if remember:  # the bundled demo is not where the user keeps files
            for path in paths.values():
                settings_store.remember_folder(path)
        with busy_cursor():
            self.install_meshes(read, paths, remember=remember)
        return True

    def install_meshes(self, meshes: dict[str, Mesh], paths: dict[str, Path], remember: bool) -> None:
        """Show meshes already read (from files or a session); any previous result is dropped."""
        for role, mesh in meshes.items():
            self.doc.set_mesh(role, mesh, paths[role])
            title = f"{role}: {mesh.name} ({mesh.n_vertices} vertices)"
            self.inputs.set_mesh(role, mesh.vertices, mesh.faces, title)
            self.log_panel.add(f"{role}: {paths[role]} ({mesh.n_vertices} vertices, {len(mesh.faces)} triangles)")
        if "source" in meshes:
            dropped = self.paint.mask() is not None  # a mask painted or loaded on the source before
            self.paint.set_mesh(meshes["source"].vertices, meshes["source"].faces)
            if dropped:
                self.log_panel.add("note: the mask of the previous source was dropped (a new source: all weights 1)")
            self.paint_panel.sync_from_brush()
        self._meshes_changed(remember)

    def load_demo(self) -> None:
        from ..io.demo import demo_paths

        source, target = demo_paths()
        self._load({"source": Path(source), "target": Path(target)}, remember=False)

    def _files_dropped(self, paths: list, role: str) -> None:
        if len(paths) >= 2:
            self.load_pair(paths[0], paths[1])
        else:
            self.load_mesh(role, paths[0])

    def _meshes_changed(self, remember: bool = True) -> None:
        src, tgt = self.meshes.get("source"), self.meshes.get("target")
        if src is not None and tgt is not None:
            self.parameters.set_meshes(src.vertices, tgt.vertices)
            self.show_rest_pose()
            self.playback_bar.set_frame_count(1)
            if remember:
                settings_store.remember_pair(self.paths["source"], self.paths["target"])
                self.actions.refresh_recent()
            self.result.view.reset_camera()
            schedule_paint(self.result.view)
        elif src is not None:
            self.parameters.set_meshes(src.vertices, src.vertices)
        self.display.update_kernel_sphere(self)
        self.inputs.reset_camera()
        self.revalidate()
        if src is not None and tgt is not None:
            problem = self._run_readiness()[1]
            then = f"Before Run: {problem}." if problem else "Set the parameters and press Run."
            hint = pose_hint(src.vertices, tgt.vertices)
            self.status_line.setText(f"Ready: {src.name} -> {tgt.name}. {then}" + (f" Note: {hint}." if hint else ""))

    def show_rest_pose(self) -> None:
        """The result view before any geodesic: the source as the registration starts (pre-aligned) and the target."""
        src, tgt = self.meshes["source"], self.meshes["target"]
        self.result.set_meshes(self.doc.aligned_source(), src.faces, tgt.vertices, tgt.faces)
        self.display.apply_to_scene(self)

    # ---- running ------------------------------------------------------------------------------
    def _run_readiness(self) -> tuple[bool, str]:
        reason = self.doc.run_problem(self.parameters.problem())
        return not reason, reason

    def revalidate(self, *_) -> None:
        """Enable Run exactly when meshes, parameters and mask allow it, and say why not otherwise."""
        ok, reason = self._run_readiness()
        running = self.doc.running or self._waiting_job is not None
        self.run_button.setEnabled(ok and not running)
        self.actions.run.setEnabled(ok and not running)
        self.run_problem.setText("" if ok else f"<span style='color:#b00020'>Cannot run: {reason}</span>")

    def start_run(self) -> None:
        ok, reason = self._run_readiness()
        if not ok or self.run.running or self._waiting_job is not None:
            self.status_line.setText(f"Cannot run: {reason or 'a registration is already running'}")
            return
        try:
            settings = self.parameters.settings()
        except InputError as exc:
            self.show_error("Invalid parameters", str(exc))
            return
        self.doc.set_settings(settings)
        src, tgt = self.meshes["source"], self.meshes["target"]
        job = RegistrationJob(
            (src.vertices.copy(), src.faces.copy()),
            (tgt.vertices.copy(), tgt.faces.copy()),
            settings,
            self.doc.mask_for_run(),
            landmarks=self.doc.landmarks_for_run(),
            alignment=self.doc.alignment,
            count_formulas=self.warmup.run_may_compile(),
            pressed_at=time.monotonic(),
        )
        self.warmup.timer.stop()
        if self.warmup.busy:
            self.warmup.cancel(wait_s=0.0)  # it stops at its next time step, or before its next compilation
        if self.warmup.busy and self.warmup.compiling:  # this formula first: the job starts when the warm-up ends
            self._waiting_job = job
            self._set_run_controls(True)
            self.status_line.setText("Finishing a KeOps compilation started in the background; the run starts next…")
            self.log_panel.add("run queued behind the background KeOps warm-up")
            return
        self.run.start(job)

    def stop_run(self) -> None:
        """Stop the running registration, or drop a run still waiting for the warm-up."""
        if self._waiting_job is not None:
            self._waiting_job = None
            self._set_run_controls(False)
            self.status_line.setText("Run cancelled before it started")
            self.log_panel.add("queued run cancelled")
            return
        self.run.stop()

    def _set_run_controls(self, busy: bool) -> None:
        self.stop_button.setEnabled(busy)
        self.actions.stop.setEnabled(busy)
        self.parameters.setEnabled(not busy)
        self.paint_panel.setEnabled(not busy)
        for action in self.actions.file_actions:
            action.setEnabled(not busy)
        self.revalidate()

    def _running_changed(self, running: bool) -> None:
        self._set_run_controls(running)
        self._update_result_title()
        schedule_paint(self.result.view)

    def _update_result_title(self) -> None:
        self.result.set_title(result_title(self.doc))

    def _result_changed(self) -> None:
        """A new geodesic (or none): the scene, the frame count, the momenta and the title follow."""
        if self.doc.result is None and not self.doc.running:
            self.progress.set_progress(0, 0)  # no "finished: 8 iterations" left from a geodesic that went
        scene = self.result.scene
        if scene is None:
            return
        res = self.doc.result
        trajectory = scene.rest[None] if res is None else np.asarray(res.trajectory)
        scene.set_trajectory(trajectory)
        self.result.show_legend(scene.by_displacement and scene.n_frames > 1)
        self.playback.blockSignals(True)
        self.playback_bar.set_frame_count(len(trajectory))
        if not self.playback.playing:
            self.playback.seek(len(trajectory) - 1)
        self.playback.blockSignals(False)
        self.doc.set_frame(self.playback.index)
        self.playback_bar.show_index(self.playback.index)
        self.display.apply_momenta(self)
        self._update_result_title()
        self._show_frame(self.playback.index, paint_later=True)

    def _frame_changed(self, index: int) -> None:
        self.playback.seek(index)  # no-op when playback set it
        self._show_frame(index)
        if self.display.momenta.isChecked():
            self.display.apply_momenta(self)

    def _playing_changed(self, playing: bool) -> None:
        """Large meshes play as a decimated stand-in; the exact mesh is back as soon as playback stops."""
        if self.result.scene is not None:
            self.result.scene.set_fast(playing)
            schedule_paint(self.result.view)

    def _show_frame(self, index: int, paint_later: bool = False) -> None:
        scene = self.result.scene
        if scene is not None:
            scene.show_frame(index)
            if paint_later:  # a new geodesic from the run: see _result_paint
                self._result_paint.start()
            else:
                schedule_paint(self.result.view)

    # ---- messages and lifetime ----------------------------------------------------------------
    def show_error(self, title: str, message: str, details: str = "") -> None:
        """Every failure goes here: logged, then shown in a window-modal, non-blocking dialog."""
        self.log_panel.add(f"error: {title}: {message}" + (f"\n{details}" if details else ""))
        self.status_line.setText(f"{title}: {' '.join(message.split())}")  # not the text of before the failure
        box = QMessageBox(QMessageBox.Icon.Warning, title, message, QMessageBox.StandardButton.Ok, self)
        box.setObjectName("errorDialog")
        if details:
            box.setDetailedText(details)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.last_dialog = box
        box.open()

    def _restore_layout(self) -> None:
        s = settings_store.app_settings()
        geometry = s.value("geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            self.resize(1500, 950)
        state = s.value("windowState")
        if state is not None:
            self.restoreState(state)

    def ask_yes_no(self, title: str, text: str) -> bool:
        """A blocking question (tests replace it with their answer)."""
        buttons = QMessageBox.StandardButton
        return QMessageBox.question(self, title, text, buttons.Yes | buttons.No, buttons.No) == buttons.Yes

    def may_replace_result(self, doing: str) -> bool:
        """An unsaved registration is shown: save it, discard it or cancel ``doing`` (e.g. 'opening a.ply')."""
        if self.doc.result is None or not self.isWindowModified():
            return True
        choice = self.ask_unsaved(doing)
        return choice == "discard" or (choice == "save" and self.session.save())

    def ask_unsaved(self, doing: str = "closing") -> str:
        """'save', 'discard' or 'cancel' for a window with unsaved changes."""
        buttons = QMessageBox.StandardButton
        answer = QMessageBox.question(
            self,
            "Unsaved changes",
            f"Save the session before {doing}?",
            buttons.Save | buttons.Discard | buttons.Cancel,
            buttons.Save,
        )
        return {buttons.Save: "save", buttons.Discard: "discard"}.get(answer, "cancel")

    def closeEvent(self, event):  # noqa: N802 (Qt name)
        if not window_closing.may_close(self):
            event.ignore()
            return
        window_closing.release(self)
        super().closeEvent(event)

    def current_frame_points(self) -> np.ndarray | None:
        return self.result.displayed_points

    def setWindowModified(self, modified: bool) -> None:  # noqa: N802 (Qt name)
        """The title's [*] and the document's flag are one."""
        super().setWindowModified(modified)
        self.doc.set_modified(modified)
