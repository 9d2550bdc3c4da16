"""Every registration setting as a widget; :meth:`ParametersPanel.settings` builds the core settings."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ..core.backends import BACKENDS, resolve_backend
from ..core.cometrics import COMETRICS
from ..core.errors import InputError
from ..core.fidelity import FIDELITIES
from ..core.model import (
    AUTO_ALL_CONTROL_POINTS,
    AUTO_CONTROL_POINTS,
    DEVICES,
    DTYPES,
    FIXED_SINKHORN_ITERATIONS,
    ModelSettings,
    cuda_available,
    relative_scale_problem,
    resolve_device,
)
from ..core.pyramid import SINGLE_LEVEL_MAX, level_sizes
from ..core.registration import RegistrationSettings, default_fidelity_scale
from ..core.shooting import INTEGRATORS
from ..core.sinkhorn import SinkhornSettings
from ..core.stopping import PATIENCE
from ..document.wording import vertex_count
from .kernel_editor import KernelEditor
from .wheel_guard import guard_wheel

TOLERANCES = ("1e-4", "1e-5", "1e-6", "1e-7", "1e-8")
STOP_TOLERANCES = ("0.03", "0.01", "0.003", "0.001", "0.0001", "0")
LEVEL_CHOICES = ("auto", "1", "2", "3", "4", "5")
DEFAULTS = RegistrationSettings()  # every default below comes from core's dataclasses, written once there
MODEL = DEFAULTS.model


def _combo(items, current: str, tip: str) -> QComboBox:
    box = QComboBox()
    box.addItems(list(items))
    box.setCurrentText(current)
    box.setToolTip(tip)
    return box


def _spin(low: int, high: int, value: int, tip: str) -> QSpinBox:
    box = QSpinBox()
    box.setRange(low, high)
    box.setValue(value)
    box.setToolTip(tip)
    return box


def _double(low: float, high: float, value: float, decimals: int, tip: str) -> QDoubleSpinBox:
    box = QDoubleSpinBox()
    box.setDecimals(decimals)
    box.setRange(low, high)
    box.setValue(value)
    box.setToolTip(tip)
    return box


def _group(title: str, rows) -> tuple[QGroupBox, QFormLayout]:
    """A titled form; a row label of None gives the widget the full width."""
    box = QGroupBox(title)
    form = QFormLayout(box)
    for label, widget in rows:
        form.addRow(widget) if label is None else form.addRow(label, widget)
    return box, form


class ParametersPanel(QWidget):
    """``validity_changed(bool, reason)`` fires whenever the settings become (in)valid."""

    validity_changed = Signal(bool, str)
    changed = Signal()  # any setting was edited

    def __init__(self, parent=None):
        super().__init__(parent)
        self.n_vertices = 0
        self.kernel = KernelEditor()
        self.cometric = _combo(
            sorted(COMETRICS, key=lambda c: c != MODEL.cometric),
            MODEL.cometric,
            "normalized: Sinkhorn-rescaled kernel, translations are geodesics; lddmm: plain kernel",
        )
        self.sinkhorn_mode = _combo(
            ("converged", "fixed iterations"),
            "converged" if MODEL.sinkhorn.iterations is None else "fixed iterations",
            "converged: Newton to the tolerance, exact gradients; fixed: the talk's unrolled loop",
        )
        self.sinkhorn_tol = _combo(
            TOLERANCES, "", "largest residual |log(lambda K(lambda mu))| accepted (about |lambda K(lambda mu) - 1|)"
        )
        self._show_tolerance(MODEL.sinkhorn.tol)
        self.sinkhorn_iters = _spin(
            1, 1000, MODEL.sinkhorn.iterations or FIXED_SINKHORN_ITERATIONS, "Sinkhorn iterations from lambda = 1"
        )
        self.integrator = _combo(INTEGRATORS, MODEL.integrator, "time integrator of the Hamiltonian flow")
        self.steps = _spin(1, 500, MODEL.steps, "time steps T of the geodesic (T + 1 frames)")
        self.fidelity = _combo(
            FIDELITIES, DEFAULTS.fidelity, "data term; landmarks needs the same vertex count and order"
        )
        self.fidelity_scale = _double(
            1e-6, 1e9, default_fidelity_scale(1.0), 4, "kernel width of the data term, in mesh units"
        )
        self.regularization = _double(
            0.0, 1e6, DEFAULTS.regularization, 4,
            "gamma: translating the shape by its size costs gamma x the initial mismatch",
        )  # fmt: skip
        self.landmark_weight = _double(
            0.0, 1e6, DEFAULTS.landmark_weight, 3,
            "weight of the landmark mismatch against the surface mismatch (0: landmarks only ride along); "
            "shown in the Landmarks tab, with the landmarks",
        )  # fmt: skip
        self.iterations = _spin(1, 100_000, DEFAULTS.iterations, "L-BFGS iterations at most, per level")
        self.levels = _combo(
            LEVEL_CHOICES,
            "auto" if DEFAULTS.levels is None else str(DEFAULTS.levels),
            f"coarse to fine: auto registers meshes over {SINGLE_LEVEL_MAX // 1000}k vertices on decimations first; "
            "1 uses the full meshes only",
        )
        self.tolerance = _combo(
            STOP_TOLERANCES,
            f"{DEFAULTS.tolerance:g}",
            f"a level ends when {PATIENCE} iterations lower the loss by less than this fraction of its drop so far "
            "(0: only at Max iterations)",
        )
        self.control_points = _spin(
            0,
            10_000_000,
            0,
            f"momenta on n farthest-point samples of the weighted vertices; auto: all up to "
            f"{AUTO_ALL_CONTROL_POINTS}, else {AUTO_CONTROL_POINTS}",
        )
        self.control_points.setSpecialValueText("auto")
        self.backend = _combo(BACKENDS, MODEL.backend, "auto: dense torch for small meshes, KeOps beyond")
        self.device = _combo(DEVICES, MODEL.device, "auto: the CUDA GPU when torch sees one")
        self.dtype = _combo(DTYPES, MODEL.dtype, "floating-point precision")
        self.uses = QLabel()
        self.uses.setObjectName("autoChoice")
        self.uses.setWordWrap(True)
        if not cuda_available():
            cuda = self.device.findText("cuda")
            self.device.model().item(cuda).setEnabled(False)
            self.device.setItemData(cuda, "torch sees no CUDA GPU on this machine", 3)  # ToolTipRole

        model_box, _ = _group("Deformation", [(None, self.kernel), ("Cometric", self.cometric)])
        fit_box, self._fit_form = _group(
            "Matching",
            [
                ("Fidelity", self.fidelity),
                ("Fidelity scale", self.fidelity_scale),
                ("Regularization", self.regularization),
                ("Max iterations", self.iterations),
                ("Stop when gain <", self.tolerance),
                ("Levels", self.levels),
            ],
        )
        shooting_box, self._model_form = _group(
            "Shooting",
            [
                ("Sinkhorn", self.sinkhorn_mode),
                ("Tolerance", self.sinkhorn_tol),
                ("Iterations", self.sinkhorn_iters),
                ("Integrator", self.integrator),
                ("Time steps", self.steps),
                ("Control points", self.control_points),
            ],
        )
        compute_box, _ = _group("Computation", [("Backend", self.backend), ("Device", self.device),
                                                ("Precision", self.dtype)])  # fmt: skip
        self.advanced = QWidget()
        advanced_col = QVBoxLayout(self.advanced)
        advanced_col.setContentsMargins(0, 0, 0, 0)
        for box in (shooting_box, compute_box):
            advanced_col.addWidget(box)
        self.advanced_toggle = QToolButton()
        self.advanced_toggle.setObjectName("advancedToggle")
        self.advanced_toggle.setCheckable(True)
        self.advanced_toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.advanced_toggle.setText("Shooting and computation")
        self.advanced_summary = QLabel()
        self.advanced_summary.setObjectName("advancedSummary")
        self.advanced_summary.setWordWrap(True)
        self.advanced_summary.setStyleSheet("color: #555")
        self.advanced_toggle.setToolTip("Sinkhorn, integrator, time steps, control points, backend, device, precision")
        self.advanced_toggle.toggled.connect(self._show_advanced)
        self._show_advanced(False)
        layout = QVBoxLayout(self)
        for widget in (model_box, fit_box, self.uses, self.advanced_toggle, self.advanced_summary, self.advanced):
            layout.addWidget(widget)
        layout.addStretch(1)

        self.kernel.kernel_changed.connect(self._revalidate)
        watched = (self.cometric, self.sinkhorn_mode, self.fidelity, self.backend, self.device, self.levels, self.dtype)
        for box in watched:
            box.currentTextChanged.connect(self._revalidate)
        self.control_points.valueChanged.connect(self._revalidate)
        for box in self.findChildren(QComboBox):
            box.currentTextChanged.connect(self.changed)
        for box in self.findChildren(QSpinBox) + self.findChildren(QDoubleSpinBox):
            box.valueChanged.connect(self.changed)
        self.kernel.text.textChanged.connect(self.changed)
        self.landmark_weight.valueChanged.connect(self.changed)  # shown in the Landmarks tab, not in this panel
        self.changed.connect(self._advanced_summary)
        guard_wheel(self)
        self._revalidate()

    def set_meshes(self, source_vertices, target_vertices) -> None:
        """Defaults that follow the source's size (kernel scales, fidelity scale) and vertex count."""
        import numpy as np

        size = float(np.linalg.norm(np.ptp(np.asarray(source_vertices), axis=0)))
        self.shape_size = size
        self.n_vertices = len(source_vertices)
        self.n_target = len(target_vertices)
        self.kernel.set_shape_size(size)
        self.fidelity_scale.setSingleStep(max(0.01 * size, 1e-6))
        self.fidelity_scale.setValue(default_fidelity_scale(size))
        self.control_points.setMaximum(max(self.n_vertices, 1))
        self._revalidate()

    def measure_by(self, source_vertices) -> None:
        """The size that range checks and presets use from now on, the values shown kept (a reopened session whose
        source a similarity pre-alignment scales: its saved scales are already in those units)."""
        import numpy as np

        size = float(np.linalg.norm(np.ptp(np.asarray(source_vertices), axis=0)))
        self.shape_size = self.kernel.shape_size = size
        self._revalidate()

    def apply_settings(self, settings: RegistrationSettings) -> None:
        """Show ``settings`` in the widgets (a reopened session); the inverse of :meth:`settings`."""
        m = settings.model
        if m.kernel:
            self.kernel.set_spec(m.kernel)
        self.cometric.setCurrentText(m.cometric)
        fixed = m.sinkhorn.iterations is not None
        self.sinkhorn_mode.setCurrentText("fixed iterations" if fixed else "converged")
        if fixed:
            self.sinkhorn_iters.setValue(m.sinkhorn.iterations)
        self._show_tolerance(m.sinkhorn.tol)
        self.integrator.setCurrentText(m.integrator)
        self.steps.setValue(m.steps)
        cp = m.control_points  # the spin box: 0 is auto, its maximum (the vertex count) is every vertex
        self.control_points.setValue(
            {"auto": 0, "all": self.control_points.maximum(), None: self.control_points.maximum()}.get(cp, cp)
        )
        self.backend.setCurrentText(m.backend)
        self.device.setCurrentText(m.device)
        self.dtype.setCurrentText(m.dtype)
        self.fidelity.setCurrentText(settings.fidelity)
        if settings.fidelity_scale is not None:
            self.fidelity_scale.setValue(settings.fidelity_scale)
        self.regularization.setValue(settings.regularization)
        self.landmark_weight.setValue(settings.landmark_weight)
        self.iterations.setValue(settings.iterations)
        self.levels.setCurrentText("auto" if settings.levels is None else str(settings.levels))
        if self.tolerance.findText(f"{settings.tolerance:g}") < 0:
            self.tolerance.addItem(f"{settings.tolerance:g}")
        self.tolerance.setCurrentText(f"{settings.tolerance:g}")
        self._revalidate()

    def _show_advanced(self, shown: bool) -> None:
        """The less often changed settings fold away, so that Max iterations and Run stay in view."""
        self.advanced.setVisible(shown)
        self.advanced_toggle.setArrowType(Qt.ArrowType.DownArrow if shown else Qt.ArrowType.RightArrow)
        self._advanced_summary()

    def _advanced_summary(self) -> None:
        cp = self.control_points.value() or "auto"
        sinkhorn = (f"Sinkhorn {self.sinkhorn_iters.value()} iterations" if self.sinkhorn_mode.currentText() !=
                    "converged" else "Sinkhorn converged")  # fmt: skip
        parts = [sinkhorn, self.integrator.currentText(), f"{self.steps.value()} steps", f"{cp} control points",
                 self.backend.currentText(), self.device.currentText(), self.dtype.currentText()]  # fmt: skip
        self.advanced_summary.setText(", ".join(parts))
        self.advanced_summary.setVisible(not self.advanced.isVisible())

    def _show_tolerance(self, tol: float) -> None:
        """Select ``tol`` among the choices by value ('1e-6' is 1e-06), adding it when it is not one."""
        box = self.sinkhorn_tol
        matches = [i for i in range(box.count()) if float(box.itemText(i)) == tol]
        if not matches:
            box.addItem(f"{tol:g}")
        box.setCurrentIndex(matches[0] if matches else box.count() - 1)

    def problem(self) -> str:
        """Why Run cannot start with these settings, or '' when it can."""
        if self.kernel.kernel is None:
            return "the kernel string does not parse"
        if self.fidelity.currentText() == "landmarks" and self.n_vertices != getattr(self, "n_target", 0):
            return "landmark fidelity needs source and target with the same number of vertices"
        if self.device.currentText() == "cuda" and not cuda_available():
            return "torch sees no CUDA GPU"
        size = getattr(self, "shape_size", 0.0)
        if size > 0:  # the command line refuses the same scales
            for term in self.kernel.kernel.terms:
                problem = relative_scale_problem(term.sigma, size, f"kernel scale {term.profile}({term.sigma:g})")
                if problem:
                    return problem
            if self.fidelity.currentText() != "landmarks":
                problem = relative_scale_problem(self.fidelity_scale.value(), size, "the fidelity scale")
                if problem:
                    return problem
        try:
            self.settings()
        except (InputError, ValueError) as exc:
            return str(exc)
        return ""

    def _revalidate(self, *_):
        fixed = self.sinkhorn_mode.currentText() == "fixed iterations"
        normalized = self.cometric.currentText() == "normalized"
        self._model_form.setRowVisible(self.sinkhorn_mode, normalized)
        self._model_form.setRowVisible(self.sinkhorn_tol, normalized and not fixed)
        self._model_form.setRowVisible(self.sinkhorn_iters, normalized and fixed)
        self._fit_form.setRowVisible(self.fidelity_scale, self.fidelity.currentText() != "landmarks")
        self.uses.setText(self._auto_choice())
        if hasattr(self, "advanced_toggle"):
            self._advanced_summary()
        reason = self.problem()
        self.validity_changed.emit(not reason, reason)

    def _auto_choice(self) -> str:
        n = self.control_points.value() or ModelSettings().control_count(self.n_vertices)
        try:
            device = resolve_device(self.device.currentText())
            backend = resolve_backend(self.backend.currentText(), max(self.n_vertices, 1), max(n, 1))
        except Exception as exc:  # shown next to the fields, never hidden
            return f"<span style='color:#b00020'>{exc}</span>"
        text = f"will use: {backend} on {device}, {n} control points"
        levels = self.levels.currentText()
        sizes = level_sizes(max(self.n_vertices, 1), None if levels == "auto" else int(levels))
        if len(sizes) > 1 and self.fidelity.currentText() != "landmarks":
            text += f"; levels of {', '.join(vertex_count(k) for k in sizes)} vertices (finer ones skipped once the "
            text += "fidelity scale is resolved)"
        return text

    def settings(self) -> RegistrationSettings:
        fixed = self.sinkhorn_mode.currentText() == "fixed iterations"
        sinkhorn = SinkhornSettings(
            iterations=self.sinkhorn_iters.value() if fixed else None, tol=float(self.sinkhorn_tol.currentText())
        )
        model = ModelSettings(
            kernel=self.kernel.text.text(),
            cometric=self.cometric.currentText(),
            sinkhorn=sinkhorn,
            steps=self.steps.value(),
            integrator=self.integrator.currentText(),
            control_points=self.control_points.value() or "auto",
            backend=self.backend.currentText(),
            device=self.device.currentText(),
            dtype=self.dtype.currentText(),
        )
        landmarks = self.fidelity.currentText() == "landmarks"
        settings = RegistrationSettings(
            model=model,
            fidelity=self.fidelity.currentText(),
            fidelity_scale=None if landmarks else self.fidelity_scale.value(),
            regularization=self.regularization.value(),
            landmark_weight=self.landmark_weight.value(),
            iterations=self.iterations.value(),
            levels=None if self.levels.currentText() == "auto" else int(self.levels.currentText()),
            tolerance=float(self.tolerance.currentText()),
        )
        settings.validate()
        return settings
