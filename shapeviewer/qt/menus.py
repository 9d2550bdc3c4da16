"""Menus, toolbar and shortcuts of the main window (every action has a status tip)."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMenu

from . import settings_store
from .mesh_views import schedule_paint

STANDARD_VIEWS = (
    ("+X", "view_yz", "X"),
    ("+Y", "view_xz", "Y"),
    ("+Z", "view_xy", "Z"),
    ("Isometric", "view_isometric", "I"),
)


@dataclass
class WindowActions:
    run: QAction
    stop: QAction
    recent_menu: QMenu
    window: object
    file_actions: list = field(default_factory=list)

    def refresh_recent(self) -> None:
        menu = self.recent_menu
        menu.clear()
        sessions = settings_store.recent_sessions()
        for path in sessions:
            act = menu.addAction(f"{Path(path).name} (session)")
            act.setStatusTip(f"Reopen the session {path}")
            act.triggered.connect(partial(self.window.session.open, Path(path)))
        pairs = settings_store.recent_pairs()
        if sessions and pairs:
            menu.addSeparator()
        for source, target in pairs:
            act = menu.addAction(f"{Path(source).name} → {Path(target).name}")
            act.setStatusTip(f"Open {source} as source and {target} as target")
            act.triggered.connect(partial(self.window.load_pair, Path(source), Path(target)))
        menu.setEnabled(bool(pairs or sessions))


def _action(window, menu, text, slot, shortcut=None, tip="", checkable=False) -> QAction:
    act = QAction(text, window)
    if shortcut:
        act.setShortcut(QKeySequence(shortcut))
    act.setStatusTip(tip)
    act.setToolTip(f"{tip} ({act.shortcut().toString()})" if shortcut else tip)
    act.setCheckable(checkable)
    act.triggered.connect(slot)
    menu.addAction(act)
    return act


STANDARD_VIEW_ZOOM = 0.8  # a margin around the meshes, so that none reaches the view's title


def _standard_view(window, method: str) -> None:
    window.inputs.standard_view(method, STANDARD_VIEW_ZOOM)
    view = window.result.view
    getattr(view, method)(render=False)
    view.renderer.GetActiveCamera().Zoom(STANDARD_VIEW_ZOOM)
    schedule_paint(view)


def _reset_cameras(window) -> None:
    window.inputs.reset_camera()
    window.result.view.reset_camera()
    schedule_paint(window.result.view)


def _open_result_folder(window) -> None:
    from .result_folder import open_result_folder_dialog

    open_result_folder_dialog(window)


def _open_batch_results(window) -> None:
    from .batch_results import open_batch_results_dialog

    open_batch_results_dialog(window)


def _run_batch(window) -> None:
    from .batch_launcher import run_batch_dialog

    run_batch_dialog(window)


def build_menus(window) -> WindowActions:
    bar = window.menuBar()
    file = bar.addMenu("&File")
    opened = [
        _action(
            window,
            file,
            "Open &source…",
            lambda: window.open_mesh_dialog("source"),
            "Ctrl+O",
            "Open the mesh to deform (PLY, OBJ, STL, VTK, VTP, OFF)",
        ),
        _action(
            window,
            file,
            "Open &target…",
            lambda: window.open_mesh_dialog("target"),
            "Ctrl+Shift+O",
            "Open the mesh to match",
        ),
        _action(window, file, "Open &demo pair", window.load_demo, None, "Open the bundled demo source and target"),
    ]
    recent = file.addMenu("&Recent")
    file.addSeparator()
    session = window.session
    opened += [
        _action(window, file, "Open session…", session.open_dialog, None, "Reopen a saved .svsession file"),
        _action(
            window,
            file,
            "Open result &folder…",
            partial(_open_result_folder, window),
            None,
            "Show a registration written by 'shapeviewer register --out' or by a batch job",
        ),
        _action(
            window,
            file,
            "Open &batch results…",
            partial(_open_batch_results, window),
            None,
            "A 'shapeviewer batch' folder: distance matrix or PCA modes; click one to show it",
        ),
        _action(
            window,
            file,
            "Ru&n a batch…",
            partial(_run_batch, window),
            None,
            "Register every subject to a template, or every pair, on a local cluster (as 'shapeviewer batch')",
        ),
        _action(window, file, "&Save session", session.save, "Ctrl+S", "Save meshes, parameters and result"),
        _action(
            window, file, "Save session &as…", session.save_as, "Ctrl+Shift+S", "Save the session under a new name"
        ),
    ]
    file.addSeparator()
    export = file.addMenu("&Export")
    from . import export_actions as ex

    for text, slot, key, tip in (
        ("&Movie (MP4, GIF)…", ex.export_movie, "Ctrl+M", "Render the geodesic to a movie from the current camera"),
        ("Deformed mesh (current frame)…", ex.export_current_mesh, "Ctrl+E", "The mesh shown, as VTP, PLY or OBJ"),
        ("Every frame…", ex.export_sequence, None, "The whole geodesic, one mesh per time step"),
        ("Momenta (.npy)…", ex.export_momenta, None, "Initial momenta p0 on the control points"),
        ("Screenshot (PNG)…", ex.save_screenshot, None, "The result view as an image"),
        ("Summary (JSON)…", ex.export_summary, None, "Parameters, distance, energy, fidelity history"),
    ):
        _action(window, export, text, partial(slot, window), key, tip)
    file.addSeparator()
    _action(window, file, "&Quit", window.close, "Ctrl+Q", "Stop any registration and quit")

    view = bar.addMenu("&View")
    _action(window, view, "&Reset camera", lambda: _reset_cameras(window), "R", "Fit every view to its meshes")
    for name, method, key in STANDARD_VIEWS:
        _action(
            window,
            view,
            f"Look along {name}" if name != "Isometric" else "Isometric view",
            partial(_standard_view, window, method),
            key,
            f"Look along the {name} direction",
        )
    view.addSeparator()
    wire = _action(
        window,
        view,
        "&Wireframe",
        lambda on: window.display.wireframe.setChecked(on),
        "W",
        "Toggle wireframe / surface",
        checkable=True,
    )
    window.display.wireframe.toggled.connect(wire.setChecked)

    reg = bar.addMenu("&Registration")
    run = _action(window, reg, "&Run", window.start_run, "F5", "Register the source onto the target")
    stop = _action(window, reg, "&Stop", window.stop_run, "Esc", "Stop within about a second, keeping the best result")
    stop.setEnabled(False)
    reg.addSeparator()
    pb = window.playback
    _action(window, reg, "Play / pause", pb.toggle, "Space", "Animate the geodesic")
    _action(window, reg, "Next frame", lambda: pb.step(1), ".", "One time step forward")
    _action(window, reg, "Previous frame", lambda: pb.step(-1), ",", "One time step back")
    _action(window, reg, "First frame", lambda: pb.seek(0), "Home", "The source (t = 0)")
    _action(window, reg, "Last frame", lambda: pb.seek(pb.n_frames - 1), "End", "The deformed source (t = 1)")

    help_menu = bar.addMenu("&Help")
    _action(
        window, help_menu, "&About shapeviewer", partial(_about, window), None,
        "Version, licence and the versions of torch, KeOps, VTK and Qt in use",
    )  # fmt: skip

    tools = window.addToolBar("Main")
    tools.setObjectName("mainToolbar")
    for act in (*opened[:2], run, stop):  # open source, open target
        tools.addAction(act)
    actions = WindowActions(
        run=run, stop=stop, recent_menu=recent, window=window, file_actions=[*opened, recent.menuAction()]
    )
    actions.refresh_recent()
    return actions


def component_versions() -> dict[str, str]:
    """Versions of what the app runs on, as About shows them ('not installed' where missing)."""
    from importlib.metadata import PackageNotFoundError, version

    import PySide6
    import torch
    import vtkmodules

    from .. import __version__

    try:
        keops = version("pykeops")
    except PackageNotFoundError:
        keops = "not installed"
    return {
        "shapeviewer": __version__,
        "torch": torch.__version__ + (" (CUDA)" if torch.cuda.is_available() else " (CPU)"),
        "KeOps": keops,
        "VTK": vtkmodules.__version__,
        "Qt": f"{PySide6.QtCore.qVersion()} (PySide6 {PySide6.__version__})",
    }


def _about(window) -> None:
    from PySide6.QtWidgets import QMessageBox

    versions = component_versions()
    rows = "".join(f"<tr><td>{name}</td><td>{v}</td></tr>" for name, v in versions.items() if name != "shapeviewer")
    box = QMessageBox(window)
    box.setObjectName("aboutDialog")
    box.setWindowTitle("About shapeviewer")
    box.setTextFormat(Qt.TextFormat.RichText)
    box.setText(
        f"<b>shapeviewer {versions['shapeviewer']}</b><br>Diffeomorphic registration of surface meshes with "
        "LDDMM and normalized kernel cometrics.<br>MIT License."
        f"<table style='margin-top:8px'>{rows}</table>"
    )
    if not window.windowIcon().isNull():
        box.setIconPixmap(window.windowIcon().pixmap(64, 64))
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    window.last_dialog = box
    box.open()
