"""The Landmarks tab: placement mode, the list of pairs with their errors, undo, files, and pre-alignment."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ..core.alignment import ALIGNMENTS
from .wheel_guard import guard_wheel

COLUMNS = ("Label", "Source", "Target", "Error")
PLACED, MISSING = "placed", "—"


class LandmarkPanel(QWidget):
    delete_requested = Signal()
    import_requested = Signal(str)  # role
    export_requested = Signal(str)
    align_requested = Signal(str)  # kind
    alignment_reset = Signal()
    matrix_export_requested = Signal()

    def __init__(self, controller, weight, parent=None):
        """``weight``: the parameters panel's landmark weight box (a registration setting), shown here."""
        super().__init__(parent)
        self.controller = controller
        self.place = QPushButton("Place landmarks")
        self.place.setObjectName("placeLandmarks")
        self.place.setCheckable(True)
        self.place.setToolTip(
            "Click on the source or the target to place the next landmark (pairs share a label); "
            "click a landmark to select it, drag it to move it, Delete removes it"
        )
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setObjectName("landmarkTable")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self._fit_table(0)
        self.summary = QLabel()
        self.summary.setObjectName("landmarkSummary")
        self.summary.setWordWrap(True)
        self.delete = QPushButton("Delete")
        self.delete.setToolTip("Delete the selected landmark (Delete key in the views)")
        self.undo_action = QAction("Undo", self)
        self.undo_action.setShortcut(QKeySequence.StandardKey.Undo)
        self.redo_action = QAction("Redo", self)
        self.redo_action.setShortcut(QKeySequence.StandardKey.Redo)
        undo, redo = QPushButton("Undo"), QPushButton("Redo")
        undo.clicked.connect(self.undo_action.trigger)
        redo.clicked.connect(self.redo_action.trigger)
        self.undo_button, self.redo_button = undo, redo
        edit_row = QHBoxLayout()
        for button in (self.delete, undo, redo):
            edit_row.addWidget(button)

        files = QGroupBox("Files (CSV, Slicer .mrk.json, .fcsv)")
        grid = QGridLayout(files)
        self.file_buttons = {}
        for row, role in enumerate(("source", "target")):
            verbs = (("Import", self.import_requested), ("Export", self.export_requested))
            for col, (verb, signal) in enumerate(verbs):
                button = QPushButton(f"{verb} {role}…")
                button.clicked.connect(lambda _=False, r=role, s=signal: s.emit(r))
                grid.addWidget(button, row, col)
                self.file_buttons[verb.lower(), role] = button

        align = QGroupBox("Pre-alignment of the source")
        col = QVBoxLayout(align)
        row = QHBoxLayout()
        self.align_kind = QComboBox()
        self.align_kind.addItems([k for k in ALIGNMENTS if k != "none"])
        self.align_kind.setToolTip("rigid: rotation and translation; similarity: also one uniform scale")
        self.align_button = QPushButton("Align")
        self.align_button.setObjectName("alignButton")
        self.align_button.setToolTip(
            "Move the source onto the target before registering: from the landmark pairs when there are 3 or "
            "more, else by ICP on the surfaces"
        )
        self.align_reset = QPushButton("Reset")
        self.align_reset.setToolTip("Register from the source as it was read")
        for widget in (self.align_kind, self.align_button, self.align_reset):
            row.addWidget(widget)
        self.alignment_text = QLabel("None: the source is registered as it was read.")
        self.alignment_text.setObjectName("alignmentText")
        self.alignment_text.setWordWrap(True)
        self.alignment_text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.matrix_button = QPushButton("Export 4x4 matrix…")
        col.addLayout(row)
        col.addWidget(self.alignment_text)
        col.addWidget(self.matrix_button)

        weight_row = QFormLayout()
        weight_row.addRow("Weight in the registration", weight)
        layout = QVBoxLayout(self)
        layout.addWidget(self.place)
        layout.addWidget(self.table)
        layout.addWidget(self.summary)
        layout.addLayout(edit_row)
        layout.addLayout(weight_row)
        layout.addWidget(align)  # used more often than the files: in view first on a small screen
        layout.addWidget(files)

        self.place.toggled.connect(controller.set_enabled)
        self.delete.clicked.connect(self.delete_requested)
        self.align_button.clicked.connect(lambda: self.align_requested.emit(self.align_kind.currentText()))
        self.align_reset.clicked.connect(self.alignment_reset)
        self.matrix_button.clicked.connect(self.matrix_export_requested)
        self.table.itemSelectionChanged.connect(self._row_selected)
        controller.selection_changed.connect(self._show_selection)
        self._labels: list[str] = []
        guard_wheel(self)

    # ---- the table ------------------------------------------------------------------------------
    def show_landmarks(self, landmarks, errors: dict[str, float]) -> None:
        """One row per label (source order, then target-only labels), with the error after a run."""
        src, tgt = landmarks.points["source"], landmarks.points["target"]
        labels = list(src) + [lb for lb in tgt if lb not in src]
        if all(lb.isdigit() for lb in labels):  # numbered by clicks: in their order (imported names keep theirs)
            labels.sort(key=int)
        self._labels = labels
        self.table.blockSignals(True)
        self.table.setRowCount(len(labels))
        for i, label in enumerate(labels):
            error = errors.get(label)
            cells = (label, PLACED if label in src else MISSING, PLACED if label in tgt else MISSING,
                     "" if error is None else f"{error:.4g}")  # fmt: skip
            for j, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                self.table.setItem(i, j, item)
        self.table.blockSignals(False)
        self._fit_table(len(labels))
        self._show_selection(self.controller.selected)
        pairs = len(landmarks.paired_labels())
        text = f"{len(src)} on the source, {len(tgt)} on the target, {pairs} pairs"
        if errors:
            values = list(errors.values())
            text += f"; after the registration: mean error {sum(values) / len(values):.4g}, largest {max(values):.4g}"
        self.summary.setText(text)
        self.delete.setEnabled(self.controller.selected is not None)
        self.undo_button.setEnabled(landmarks.can_undo)
        self.redo_button.setEnabled(landmarks.can_redo)

    def _fit_table(self, rows: int) -> None:
        """As tall as its rows and one empty row, 3 to 8 rows (it scrolls beyond), so the alignment stays near."""
        shown = min(max(rows + 1, 3), 8)
        row = self.table.verticalHeader().defaultSectionSize()
        header = self.table.horizontalHeader().sizeHint().height()
        self.table.setFixedHeight(header + shown * row + 2 * self.table.frameWidth())

    def selected_label(self) -> str | None:
        rows = self.table.selectionModel().selectedRows()
        return self._labels[rows[0].row()] if rows else None

    def _row_selected(self) -> None:
        label = self.selected_label()
        if label is None:
            return
        points = self.controller.landmarks.points
        current = self.controller.selected
        role = current[0] if current is not None and label in points[current[0]] else None
        role = role or ("source" if label in points["source"] else "target")
        self.controller.select((role, label))

    def _show_selection(self, selection) -> None:
        self.delete.setEnabled(selection is not None)
        if selection is None or selection[1] not in self._labels:
            self.table.clearSelection()
            return
        row = self._labels.index(selection[1])
        if self.table.currentRow() != row:
            self.table.blockSignals(True)
            self.table.selectRow(row)
            self.table.blockSignals(False)

    def show_alignment(self, alignment, how: str = "") -> None:
        """The transform in words; ``how``: how it was found (and why landmarks were not used, if so)."""
        if alignment is None:
            self.alignment_text.setText("None: the source is registered as it was read.")
        else:
            how = how or {"landmarks": "from landmark pairs", "icp": "by ICP on the surfaces"}.get(
                alignment.method, alignment.method)  # fmt: skip
            self.alignment_text.setText(f"Aligned {how}. {alignment.describe()}")
        self.matrix_button.setEnabled(alignment is not None)
        self.align_reset.setEnabled(alignment is not None)
