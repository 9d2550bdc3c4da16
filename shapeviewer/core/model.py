"""A deformation model of one source mesh: kernel, cometric, control points, mu, integrator."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from .backends import resolve_backend
from .cometrics import COMETRICS, make_cometric
from .control_points import farthest_point_sampling, gather_measure, nearest_control_point
from .errors import InputError
from .geometry import shape_size, vertex_areas
from .kernel_reach import check_kernel_reach
from .kernels import parse_kernel
from .shooting import INTEGRATORS, Trajectory, shoot
from .sinkhorn import SinkhornSettings

DTYPES = {"float32": torch.float32, "float64": torch.float64}
DEVICES = ("auto", "cpu", "cuda")


def default_kernel_spec(size: float) -> str:
    """The default kernel, scaled to the shape (bounding-box diagonal ``size``)."""
    return f"cauchy({0.15 * size:.4g})"


def geodesic_distance(hamiltonian: float) -> float:
    """sqrt(2 H(q0, p0)): the length of the geodesic, H being constant along it."""
    return math.sqrt(max(2.0 * hamiltonian, 0.0))


RELATIVE_SCALE = (1e-4, 1e3)  # kernel and fidelity scales, as a fraction of the source's bounding-box diagonal


def relative_scale_problem(value: float, size: float, what: str, shape: str = "the source's") -> str:
    """Why a scale is unusable for a shape of this size ('' when it is fine); shared by the CLI and the app.
    ``shape``: whose size it is ("the target's" where a similarity scales the source onto the target)."""
    low, high = RELATIVE_SCALE
    if low * size <= value <= high * size:
        return ""
    ratio = value / size
    return f"{what} {value:g} is {ratio:.3g} x {shape} size ({size:.4g}); use {low:g} to {high:g} x its size"


FIXED_SINKHORN_ITERATIONS = 2  # the talk's unrolled loop, when a fixed count is asked without one


def cuda_available() -> bool:
    return torch.cuda.is_available()


def resolve_device(name: str) -> torch.device:
    if name not in DEVICES:
        raise InputError(f"unknown device '{name}' (choose from {', '.join(DEVICES)})")
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise InputError("device 'cuda' requested but torch sees no CUDA GPU")
    return torch.device(name)


# The range of a mask's largest weight: a mask of the tip of finger0 at 1e-30 overflowed float32 in the first
# evaluation (1e-20 did not).
LARGEST_MASK_WEIGHT = (1e-12, 1e12)
MASK_UNUSED = "the mask is not used: it weights the normalized cometric, and lddmm has no measure"


def check_mask(mask, n_vertices: int, name: str = "mask") -> np.ndarray:
    """A (N,) finite, non-negative, not-all-zero weight array, or InputError."""
    arr = np.asarray(mask)
    if arr.ndim != 1 or arr.shape[0] != n_vertices:
        raise InputError(f"{name} has shape {arr.shape}, expected ({n_vertices},): one weight per source vertex")
    if not np.issubdtype(arr.dtype, np.number):
        raise InputError(f"{name} must hold numbers, found dtype {arr.dtype}")
    arr = arr.astype(np.float64)
    if not np.isfinite(arr).all():
        raise InputError(f"{name} contains {int((~np.isfinite(arr)).sum())} non-finite values (NaN or Inf)")
    if (arr < 0).any():
        count = int((arr < 0).sum())
        raise InputError(f"{name} contains {count} negative weight{'s' if count > 1 else ''}; weights must be >= 0")
    if not (arr > 0).any():
        raise InputError(f"{name} is zero everywhere: paint a positive weight somewhere")
    low, high = LARGEST_MASK_WEIGHT
    if not low <= arr.max() <= high:  # only ratios shape the deformation; far out, lambda ~ 1/sqrt(w) overflows
        raise InputError(
            f"{name}: its largest weight is {arr.max():.3g}, outside [{low:g}, {high:g}]; rescale the weights "
            "(only their ratios shape the deformation)"
        )
    return arr


AUTO_ALL_CONTROL_POINTS = 2500  # auto: every weighted vertex carries a momentum up to this many...
AUTO_CONTROL_POINTS = 2000  # ...and beyond, this many farthest-point samples of them


@dataclass
class ModelSettings:
    kernel: str | None = None
    cometric: str = "normalized"
    sinkhorn: SinkhornSettings = field(default_factory=SinkhornSettings)
    steps: int = 10
    integrator: str = "euler"
    control_points: int | str | None = "auto"  # "auto", "all" or a count (None: "all", as older sessions say)
    backend: str = "auto"
    device: str = "auto"
    dtype: str = "float32"

    def control_count(self, available: int) -> int:
        """How many control points to take among ``available`` candidate vertices."""
        cp = self.control_points
        if cp == "all":
            return available
        if cp == "auto":
            return available if available <= AUTO_ALL_CONTROL_POINTS else AUTO_CONTROL_POINTS
        return min(int(cp), available)

    def validate(self) -> None:
        if self.cometric not in COMETRICS:
            raise InputError(f"unknown cometric '{self.cometric}' (choose from {', '.join(COMETRICS)})")
        if self.integrator not in INTEGRATORS:
            raise InputError(f"unknown integrator '{self.integrator}' (choose from {', '.join(INTEGRATORS)})")
        if self.dtype not in DTYPES:
            raise InputError(f"unknown dtype '{self.dtype}' (choose from {', '.join(DTYPES)})")
        if self.steps < 1:
            raise InputError(f"steps must be at least 1, got {self.steps}")
        if self.control_points is None:
            self.control_points = "all"
        cp = self.control_points
        if isinstance(cp, str) and cp not in ("auto", "all") or not isinstance(cp, str) and not cp >= 1:
            raise InputError(f"control points must be 'auto', 'all' or a count of at least 1, got {cp!r}")
        s = self.sinkhorn
        if s.iterations is not None and s.iterations < 1:
            raise InputError(f"Sinkhorn iterations must be at least 1, got {s.iterations}")
        if not s.tol > 0:
            raise InputError(f"Sinkhorn tolerance must be positive, got {s.tol}")


class DeformationModel:
    """Tensors and operators for shooting one source mesh (coordinates centred internally)."""

    def __init__(self, vertices: np.ndarray, faces: np.ndarray, mask: np.ndarray | None, settings: ModelSettings):
        settings.validate()
        self.settings = settings
        self.device = resolve_device(settings.device)
        self.dtype = DTYPES[settings.dtype]
        verts = torch.as_tensor(np.asarray(vertices, dtype=np.float64))
        self.offset = verts.mean(0)
        self.vertices = (verts - self.offset).to(self.device, self.dtype)
        self.faces = torch.as_tensor(np.asarray(faces, dtype=np.int64), device=self.device)
        n_vertices = len(self.vertices)
        self.size = shape_size(self.vertices)
        self.kernel = parse_kernel(settings.kernel or default_kernel_spec(self.size))
        self.mask = check_mask(mask, n_vertices) if mask is not None else np.ones(n_vertices)
        weights = torch.as_tensor(self.mask, device=self.device, dtype=self.dtype)
        self.vertex_mu = vertex_areas(self.vertices, self.faces) * weights
        self.control_index, self.mu = self._control_points(settings.cometric == "normalized")
        self.q0 = self.vertices if self.control_index is None else self.vertices[self.control_index]
        widest = n_vertices if self.control_index is not None else len(self.q0)
        self.backend = resolve_backend(settings.backend, widest, len(self.q0))
        self.cometric = make_cometric(settings.cometric, self.kernel, self.backend, self.mu, settings.sinkhorn)
        if self.control_index is not None and settings.cometric == "normalized":
            check_kernel_reach(self.kernel, self.vertices, self.q0, self.mu, self.backend)

    def _control_points(self, on_support: bool) -> tuple[torch.Tensor | None, torch.Tensor]:
        """(indices into the vertices or None for all of them, mu (n,) of each control point).

        Normalized cometric: control points lie on the support of mu (weight > 0) and each carries the
        mass of the support vertices nearest to it; vertices of zero weight carry no momentum and follow
        the flow passively, as the velocity v = k*(lambda p) / k*(lambda mu) moves any point.
        """
        candidates = torch.nonzero(self.vertex_mu > 0)[:, 0] if on_support else None
        if candidates is not None and len(candidates) == len(self.vertex_mu):
            candidates = None
        if candidates is not None and len(candidates) == 0:
            raise InputError("the mask leaves no vertex with a positive weight (and area): paint some of the shape")
        pool = self.vertices if candidates is None else self.vertices[candidates]
        pool_mu = self.vertex_mu if candidates is None else self.vertex_mu[candidates]
        n = self.settings.control_count(len(pool))
        if n < len(pool):
            chosen = farthest_point_sampling(pool, n)
            mu = gather_measure(pool_mu, nearest_control_point(pool, pool[chosen]), n)
        elif candidates is None:
            return None, self.vertex_mu
        else:
            chosen, mu = torch.arange(len(pool), device=pool.device), pool_mu
        return (chosen if candidates is None else candidates[chosen]), mu

    @property
    def n_control(self) -> int:
        return len(self.q0)

    def momenta_tensor(self, momenta) -> torch.Tensor:
        arr = np.asarray(momenta)
        if arr.shape != (self.n_control, 3):
            raise InputError(
                f"momenta have shape {arr.shape}, expected ({self.n_control}, 3): one 3-vector per control point"
            )
        if not np.isfinite(arr).all():
            raise InputError(f"momenta contain {int((~np.isfinite(arr)).sum())} non-finite values (NaN or Inf)")
        return torch.as_tensor(arr, device=self.device, dtype=self.dtype)

    def shoot(self, p0: torch.Tensor, create_graph: bool = False, should_stop=None, points=None) -> Trajectory:
        """The geodesic from (q0, p0), carrying ``points`` (K, 3) in internal coordinates; by default the
        full mesh, which is q itself when every vertex is a control point."""
        s = self.settings
        if points is None and self.control_index is not None:
            points = self.vertices
        return shoot(self.cometric, self.q0, p0, s.steps, s.integrator, points, create_graph, should_stop)

    def to_internal(self, vertices) -> torch.Tensor:
        """The mesh's own coordinates -> internal (centred) ones, on the model's device and dtype."""
        return (torch.as_tensor(np.asarray(vertices, dtype=np.float64)) - self.offset).to(self.device, self.dtype)

    def hamiltonian(self, p0: torch.Tensor) -> torch.Tensor:
        return self.cometric.hamiltonian(self.q0, p0)

    def to_user(self, points: torch.Tensor) -> np.ndarray:
        """Internal (centred) coordinates -> the mesh's own coordinates, as float64 numpy."""
        return (points.detach().to("cpu", torch.float64) + self.offset).numpy()

    def lam(self) -> np.ndarray | None:
        if self.settings.cometric != "normalized":
            return None
        with torch.no_grad():
            return self.cometric.scaling(self.q0).detach().cpu().numpy()

    def describe(self) -> dict:
        s = self.settings
        info = {
            "kernel": str(self.kernel),
            "cometric": s.cometric,
            "steps": s.steps,
            "integrator": s.integrator,
            "backend": self.backend,
            "device": str(self.device),
            "dtype": s.dtype,
            "control_points": self.n_control,
            "vertices": len(self.vertices),
            "passive_vertices": int((self.vertex_mu == 0).sum()) if s.cometric == "normalized" else 0,
            "mask_unused": s.cometric != "normalized" and bool(np.ptp(self.mask) > 0),  # LDDMM has no measure
            "shape_size": self.size,
        }
        if s.cometric == "normalized":
            st = self.cometric.stats
            info["sinkhorn"] = {
                "mode": s.sinkhorn.describe(),
                "iterations": s.sinkhorn.iterations,
                "tol": s.sinkhorn.tol if s.sinkhorn.iterations is None else None,
                "max_residual": st.max_residual,
                "solves": st.solves,
                "newton_steps": st.newton_steps,
                "kernel_matvecs": st.matvecs,
                "capped": st.capped,
            }
        return info
