"""File > Open batch results: a 'shapeviewer batch' folder as a distance-matrix heat-map (pairwise) or as its
jobs and PCA modes (template). A click on a cell, a job or a mode shows that geodesic in the window.

A mode is shown from ``batch modes`` output in DIR/modes/ (mode_K_minus/, mode_K_plus/), played from the
minus side through the template to the plus side as its movie is. A mode not shot yet is not computed
here: the dialog gives the command that shoots it.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QBrush, QColor, QGuiApplication, QPen
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHeaderView,
    QLabel,
    QStyledItemDelegate,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ..batch.inputs import BatchInputError
from ..document.batch_folders import DONE, MODES_FOLDER, BatchFolder, BatchJob, BatchMode, mode_sweep, read_batch_folder
from ..document.result_folders import read_result_folder
from ..io.results import ResultReadError
from . import settings_store
from .busy import busy_cursor
from .result_folder import install_result

# ---- the dialog ---------------------------------------------------------------------------------------

MIN_WIDTH = 420
OFF_CENTRE = 40  # px the dialog keeps right of the result view's centre when it goes over the window
MAX_COLUMN_WIDTH = 560  # px: a longer text (a job's message) is cut there; its tooltip holds it whole
FOLDERS = re.compile(r"(?:[A-Za-z]:)?[/\\][^\s:'\"]*[/\\]")  # the folders of a path in a message


def _short_message(message: str) -> str:
    """A job's message with file names for paths (the row names the job): it fits its column."""
    return FOLDERS.sub("", message)


def _in_app_words(text: str) -> str:
    """A batch's advice in the words of the app's Run a batch form, not of the command line."""
    return text.replace("--align rigid", "Pre-align: rigid (File > Run a batch)")


def _item(text: str, tip: str = "", align_right: bool = False) -> QTableWidgetItem:
    item = QTableWidgetItem(text)
    item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
    if tip:
        item.setToolTip(tip)
    if align_right:
        item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    return item


def _table(rows: int, headers: list[str], name: str) -> QTableWidget:
    table = QTableWidget(rows, len(headers))
    table.setObjectName(name)
    table.setHorizontalHeaderLabels(headers)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.verticalHeader().setVisible(False)
    return table


def _fit_columns(table: QTableWidget) -> None:
    """Each column as wide as its header and texts, up to MAX_COLUMN_WIDTH; their sum kept as the table's
    ``columns_width`` (the last column stretches later)."""
    table.resizeColumnsToContents()
    for column in range(table.columnCount()):
        table.setColumnWidth(column, min(table.columnWidth(column), MAX_COLUMN_WIDTH))
    table.columns_width = table.horizontalHeader().length()


def _table_width(table: QTableWidget) -> int:
    """The width that shows every column without scrolling sideways (room left for a vertical scroll bar)."""
    rows = table.verticalHeader()
    scroll_bar = table.style().pixelMetric(table.style().PixelMetric.PM_ScrollBarExtent)
    header = rows.width() if rows.isVisible() else 0
    return table.columns_width + header + 2 * table.frameWidth() + scroll_bar


def _percent(value: float | None) -> str:
    return "" if value is None else f"-{100 * value:.1f}%"


class _ShownPairFrame(QStyledItemDelegate):
    """Draws each cell as usual, and a frame around the two cells of the pair shown in the window."""

    def __init__(self, table: QTableWidget):
        super().__init__(table)
        self.pair: tuple[int, int] | None = None

    def paint(self, painter, option, index) -> None:
        super().paint(painter, option, index)
        if self.pair is not None and tuple(sorted((index.row(), index.column()))) == self.pair:
            painter.save()
            painter.setPen(QPen(QColor("#d81b60"), 3))
            painter.drawRect(option.rect.adjusted(1, 1, -2, -2))
            painter.restore()


class BatchResultsDialog(QDialog):
    """The batch's results beside the window; a click shows a job's or a mode's geodesic in it."""

    FAILED_COLOUR = QColor("#b00020")
    MISSING_COLOUR = QColor("#d0d0d0")
    WARNING_COLOUR = QColor("#a15c00")  # a finished job whose result is not credible

    def __init__(self, window, batch: BatchFolder):
        super().__init__(window)
        self.setObjectName("batchResults")
        self.window_ = window
        self.batch = batch
        self.setWindowTitle(f"Batch results — {batch.folder.name}")
        col = QVBoxLayout(self)
        counts = batch.counts()
        done = counts.get(DONE, 0)
        others = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()) if status != DONE)
        what = f"{len(batch.names)} shapes" if batch.kind == "pairwise" else f"{len(batch.jobs)} subjects"
        self.header = header = QLabel(
            f"<b>{batch.kind} batch</b> of {what}: {done} of {len(batch.jobs)} jobs done"
            + (f", {others}" if others else "")
            + f"<br><span style='color:#555'>{batch.folder}</span>"
        )
        header.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        col.addWidget(header)
        self.tabs = QTabWidget()
        self.matrix = self.modes_table = None
        if batch.kind == "pairwise":
            self.tabs.addTab(self._matrix_tab(), "Distance matrix")
        self.jobs_table = self._jobs_table()
        self.tabs.addTab(self.jobs_table, "Jobs")
        if batch.kind == "template":
            self.tabs.addTab(self._modes_tab(), "Modes")
        col.addWidget(self.tabs, 1)
        clickable = "a cell or a job" if batch.kind == "pairwise" else "a job or a mode"
        self.message = QLabel(f"Click {clickable} to show its geodesic in the window.")
        self.message.setObjectName("batchMessage")
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        col.addWidget(self.message)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)
        col.addWidget(buttons)
        self.resize(self._content_size())
        self.tabs.currentChanged.connect(self._fit_tab)

    def _fit_tab(self) -> None:
        """The size the tab shown needs, kept on the screen."""
        self.resize(self._content_size())
        screen = (self.screen() or QGuiApplication.primaryScreen()).availableGeometry()
        frame = self.frameGeometry()
        if frame.right() > screen.right():
            self.move(max(screen.left(), self.x() - (frame.right() - screen.right())), self.y())

    def _content_size(self) -> QSize:
        """Big enough for the tab shown: the matrix (up to 12 x 12 cells), or every column of the jobs or the
        modes table, within the screen (a table wider than that scrolls sideways)."""
        hint = self.sizeHint()
        width, height = hint.width(), hint.height()
        margins = 48  # the dialog's and the tab page's margins and frames
        shown = self.tabs.currentWidget()
        if self.matrix is not None and self.matrix.parent() is shown:
            n = min(len(self.batch.names), 12)
            column = self.matrix.horizontalHeader().defaultSectionSize()
            cells = self.matrix.verticalHeader().sizeHint().width() + column * n + 2 * self.matrix.frameWidth()
            width = max(width, cells + 40)
            table = self.matrix.horizontalHeader().sizeHint().height() + 32 * n + 2 * self.matrix.frameWidth()
            height = height - self.matrix.sizeHint().height() + table
        if shown in (self.jobs_table, self.modes_table):
            width = max(width, _table_width(shown) + margins)
        screen = (self.window_.screen() or QGuiApplication.primaryScreen()).availableGeometry()
        return QSize(min(max(width, MIN_WIDTH), int(0.9 * screen.width())), min(max(height, 300), 640, screen.height()))

    def place_beside(self, window) -> None:
        """Where it hides the least of the window's result view: beside the window when the screen has room,
        else over the window right of the view's centre (the view stays visible to show what a click loads);
        narrower, its tables scrolling sideways, only where neither has room for every column."""
        screen = (window.screen() or QGuiApplication.primaryScreen()).availableGeometry()
        frame = window.frameGeometry()
        right, left = screen.right() - frame.right(), frame.left() - screen.left()
        view = window.centralWidget() or window
        over = screen.right() - view.mapToGlobal(view.rect().center()).x() - OFF_CENTRE
        width = self.width()
        if width > max(right, left, over):
            self.resize(max(MIN_WIDTH, right, left, over), self.height())
            width = self.width()
        top = max(screen.top(), min(frame.top(), screen.bottom() - self.height()))
        if right >= width:
            self.move(frame.right() + 1, top)
        elif left >= width:
            self.move(frame.left() - width, top)
        else:
            self.move(max(screen.left(), screen.right() - width), top)

    # ---- pairwise: the heat-map ---------------------------------------------------------------------
    def _matrix_tab(self) -> QWidget:
        batch, d = self.batch, self.batch.distances
        n = len(batch.names)
        table = _table(n, batch.names, "distanceMatrix")
        table.setVerticalHeaderLabels(batch.names)
        table.verticalHeader().setVisible(True)
        table.setToolTip("Geodesic distance of each pair; click a cell to show its registration")
        pair_jobs = {(j.row, j.col): j for j in batch.jobs}
        off = d[~np.eye(n, dtype=bool)]
        finite = off[np.isfinite(off)]
        low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        cmap = pg.colormap.get("viridis")
        for i in range(n):
            for j in range(n):
                job = pair_jobs.get((min(i, j), max(i, j)))
                if i == j or job is None:
                    item = _item("")
                    item.setBackground(QBrush(QColor("#ffffff")))
                    item.setFlags(Qt.ItemFlag.NoItemFlags)
                elif not np.isfinite(d[i, j]):
                    item = _item(job.status, f"{job.name}: {job.status}. {job.message}".strip())
                    item.setBackground(QBrush(self.MISSING_COLOUR))
                    item.setForeground(QBrush(self.FAILED_COLOUR))
                else:
                    value = float(d[i, j])
                    t = 0.5 if high <= low else (value - low) / (high - low)
                    colour = cmap.map(t, mode="qcolor")
                    flag = f"\nNot credible: {_in_app_words(job.warning)}" if job.warning else ""
                    item = _item(f"{value:.3g}" + (" ⚠" if job.warning else ""), f"{job.name}: distance {value:.4g}, "
                                 f"mismatch {_percent(job.fidelity_drop)}; click to show it{flag}")  # fmt: skip
                    item.setBackground(QBrush(colour))
                    item.setForeground(QBrush(QColor("#000000" if colour.lightnessF() > 0.55 else "#ffffff")))
                item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                table.setItem(i, j, item)
        widest = max((table.fontMetrics().horizontalAdvance(name) for name in batch.names), default=0)
        for header in (table.horizontalHeader(), table.verticalHeader()):
            header.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)  # columns as wide as the longest name
            header.setDefaultSectionSize(max(64, widest + 16) if header is table.horizontalHeader() else 32)
        table.horizontalHeader().setMinimumSectionSize(40)
        table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)  # a selection would hide the colour
        table.setItemDelegate(_ShownPairFrame(table))
        table.cellClicked.connect(self._matrix_clicked)
        self.matrix = table
        page = QWidget()
        col = QVBoxLayout(page)
        col.setContentsMargins(0, 0, 0, 0)
        col.addWidget(table, 1)
        ends = [cmap.map(t, mode="qcolor").name() for t in (0.0, 1.0)]
        legend = QLabel(
            f"geodesic distance: <span style='background:{ends[0]}; color:white'>&nbsp;{low:.3g}&nbsp;</span> … "
            f"<span style='background:{ends[1]}'>&nbsp;{high:.3g}&nbsp;</span>; grey: the pair did not finish"
            + ("; ⚠: finished but not credible (hover for why)" if any(j.warning for j in batch.jobs) else "")
        )
        legend.setWordWrap(True)  # the matrix, not its legend, sets the dialog's width
        col.addWidget(legend)
        return page

    def _matrix_clicked(self, i: int, j: int) -> None:
        job = next((j_ for j_ in self.batch.jobs if (j_.row, j_.col) == (min(i, j), max(i, j))), None)
        if i != j and job is not None and self.open_job(job):
            self.matrix.itemDelegate().pair = (job.row, job.col)
            self.matrix.viewport().update()

    # ---- the jobs -----------------------------------------------------------------------------------
    def _jobs_table(self) -> QTableWidget:
        headers = ["job", "source → target", "status", "distance", "mismatch", "message"]
        table = _table(len(self.batch.jobs), headers, "jobsTable")
        for r, job in enumerate(self.batch.jobs):
            pair = f"{job.source} → {job.target}"
            cells = [
                _item(job.name, job.name),
                _item(pair, pair),
                _item(job.status, job.message),
                _item("" if job.distance is None else f"{job.distance:.4g}", align_right=True),
                _item(
                    _percent(job.fidelity_drop),
                    "fidelity drop: the share of the initial mismatch removed",
                    align_right=True,
                ),  # fmt: skip
                _item(_short_message(job.message), job.message),
            ]
            if job.warning:  # finished, but not credible: say why where the message goes
                cells[2].setText(f"{job.status} ⚠")
                warning = _in_app_words(job.warning)
                cells[-1] = _item(f"⚠ {_short_message(warning)}", warning)
                cells[-1].setForeground(QBrush(self.WARNING_COLOUR))
            if job.status != DONE:
                for cell in cells:
                    cell.setForeground(QBrush(self.FAILED_COLOUR))
            for c, cell in enumerate(cells):
                table.setItem(r, c, cell)
        _fit_columns(table)
        table.horizontalHeader().setStretchLastSection(True)
        table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        table.cellClicked.connect(lambda r, _c: self.open_job(self.batch.jobs[r]))
        return table

    def open_job(self, job: BatchJob) -> bool:
        """Show the job's registration in the window; a job that did not finish says why and shows nothing."""
        if job.status != DONE:
            self._say(f"{job.name} {job.status}: {job.message or 'no message'}. Nothing to show.", error=True)
            return False
        label = f"{job.name} — {self.batch.folder.name}"
        try:
            with busy_cursor():
                opened = read_result_folder(job.folder, label, f"job {job.name} of the batch {self.batch.folder}")
        except (ResultReadError, OSError) as exc:
            self.window_.show_error("Cannot open the job's result", str(exc))
            return False
        if self.batch.settings_problem:
            self.window_.log_panel.add(f"the parameters panel keeps its settings: {self.batch.settings_problem}")
        shown = install_result(self.window_, opened, self.batch.settings)
        if shown:
            self._say(f"Showing {job.name}: {job.source} → {job.target}.")
        return shown

    # ---- template: the modes -----------------------------------------------------------------------
    def _modes_tab(self):
        modes = self.batch.modes
        if not modes:
            label = QLabel("No PCA in this batch: it needs at least two finished subjects.")
            label.setObjectName("noModes")
            label.setAlignment(Qt.AlignmentFlag.AlignCenter)
            return label
        table = _table(len(modes), ["mode", "explained variance", "sd", "geodesic"], "modesTable")
        for r, mode in enumerate(modes):
            shot = "minus side → template → plus side" if mode.shot else "not shot yet (click for the command)"
            tip = "click to play it" if mode.shot else "click for the command that shoots it"
            cells = [_item(f"mode {mode.number}", tip), _item(f"{100 * mode.ratio:.1f}%", align_right=True),
                     _item(f"{mode.sd:.4g}", "standard deviation of the momenta along the mode", align_right=True),
                     _item(shot, f"{shot}: {tip}")]  # fmt: skip
            for c, cell in enumerate(cells):
                table.setItem(r, c, cell)
        _fit_columns(table)
        table.horizontalHeader().setStretchLastSection(True)
        table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        table.cellClicked.connect(lambda r, _c: self.open_mode(modes[r]))
        self.modes_table = table
        return table

    def modes_command(self) -> str:
        out = self.batch.folder / MODES_FOLDER
        return f"shapeviewer batch modes {self.batch.folder} --out {out}"

    def open_mode(self, mode: BatchMode) -> bool:
        if not mode.shot:
            self._say(
                f"Mode {mode.number} has not been shot yet. Run <code>{self.modes_command()}</code> "
                "(a few seconds per mode on small meshes), then open the batch again.",
                error=True,
            )
            return False
        try:
            with busy_cursor():
                opened = mode_sweep(self.batch, mode)
        except (ResultReadError, OSError) as exc:
            self.window_.show_error("Cannot open the mode", str(exc))
            return False
        shown = install_result(self.window_, opened, self.batch.settings)
        if shown:
            ends = " -> template -> ".join(opened.meshes[role].name for role in ("source", "target"))  # VTK: ASCII
            self.window_.result.set_title(f"Mode {mode.number} ({100 * mode.ratio:.0f}% of the variance): {ends}")
            self._say(f"Showing mode {mode.number}: frame {len(opened.result.trajectory) // 2} is the template.")
        return shown

    def _say(self, text: str, error: bool = False) -> None:
        self.message.setText(f"<span style='color:#b00020'>{text}</span>" if error else text)


def open_batch_results(window, folder: str | Path) -> BatchResultsDialog | None:
    """Read the batch at ``folder`` and show its results beside the window (one such dialog at a time)."""
    try:
        with busy_cursor():
            batch = read_batch_folder(folder)
    except (BatchInputError, OSError) as exc:
        window.show_error("Cannot open the batch results", str(exc))
        return None
    for old in window.findChildren(BatchResultsDialog):
        old.close()
        old.deleteLater()
    dialog = BatchResultsDialog(window, batch)
    dialog.place_beside(window)
    dialog.show()
    counts = batch.counts()
    window.status_line.setText(
        f"Opened the {batch.kind} batch {batch.folder}: {counts.get(DONE, 0)} of {len(batch.jobs)} jobs done"
    )
    window.log_panel.add(f"opened batch results {batch.folder}")
    return dialog


def open_batch_results_dialog(window) -> None:
    name = QFileDialog.getExistingDirectory(window, "Open batch results", settings_store.last_folder())
    if name:
        settings_store.remember_folder(Path(name))
        open_batch_results(window, Path(name))
