"""Rigid and similarity pre-alignment of a source surface onto a target, before the diffeomorphic registration.

A transform maps ``x -> s R x + t`` (R a rotation, det R = +1, s > 0; s = 1 for a rigid one).

- From paired landmarks: the closed form of Kabsch / Umeyama (1991). With centred pairs X, Y (K, 3) and
  ``U S V^T = svd(Y^T X)``, ``R = U D V^T`` with ``D = diag(1, 1, sign det(U V^T))`` (a mirror image is
  never returned), ``s = tr(S D) / |X|^2`` and ``t = mean(y) - s R mean(x)``: the least-squares optimum of
  ``sum |s R x_i + t - y_i|^2``.
- Without landmarks: symmetric ICP on the vertices (each source vertex paired with its nearest target
  vertex and each target vertex with its nearest source vertex, then the closed form above), started from
  the identity and from the centroids and principal axes with the four proper sign flips of the axes, so that
  a pose far from the target's still converges. The starts are screened rigidly, the source scaled by the
  ratio of the principal radii. Those whose symmetric RMS (all pairs) is within ICP_NEARLY_AS_GOOD of the
  smallest compete: when both surfaces have a thick end (the smaller lateral spread of the END_CAP at one end
  of the long axis THICK_END_RATIO x the other's), those that put the source's thick end towards the
  target's, and among them the smallest rotation of those within ICP_TIE of the smallest RMS wins (a nearly
  symmetric shape fits turned end to end about as well as in the pose as given: the pose as given is kept
  then, where the RMS chose by a few percent, or by rounding). The RMS alone cannot tell a tube's ends apart when the
  shapes differ: a bent finger fitted a straight one end to end 2% better than base on base. Third moments
  along the axes did not either (vertex and area weights disagreed on the bent finger's sign). With 1 or 2
  landmark pairs (too few for a fit) the start that brings the source landmarks closest to the target's
  wins instead. Only then does a similarity free the scale. Pairs farther apart than ICP_OUTLIER x the
  median pair are left out of each step (parts that one surface lacks); ICP_SCALE_OUTLIER while the scale is
  free.
- The free scale in ICP is Horn's symmetric one, ``s = sqrt(sum |y - my|^2 / sum |x - mx|^2)`` over the pairs:
  the minimiser of ``sum |s R x + t - y|^2 / s``, errors measured halfway between the two sizes. Umeyama's
  ``cov / var`` regresses y on x and shrinks with imperfect nearest-point pairs, and a shrunk source also
  trims the target's ends as outliers: together they turned a finger end to end at scale 0.72.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .errors import InputError

ALIGNMENTS = ("none", "rigid", "similarity")
ICP_ITERATIONS = 100  # per start, at most
ICP_TOLERANCE = 1e-7  # a start stops when its RMS changes by less than this x the target's size
ICP_SAMPLES = 3000  # vertices per surface used by ICP (farthest-apart not needed: a fixed random subset)
ICP_SCREEN_ITERATIONS = 15  # each start runs this far before only the best is refined
ICP_OUTLIER = 3.0  # pairs farther apart than this x the median pair are left out of each step
ICP_SCALE_OUTLIER = 6.0  # the same with a free scale: a tight trim drops the target's ends and lets it shrink
ICP_NEARLY_AS_GOOD = 1.15  # screened starts within this x the smallest RMS compete on their thick ends
ICP_TIE = 1.05  # of those left, starts within this x the smallest RMS fit alike: the smallest rotation wins
END_CAP = 0.1  # the fraction of the points at each end of the long axis whose thickness is compared
THICK_END_RATIO = 1.2  # an end this many times thicker than the other tells the two ends apart
NEGLIGIBLE_DEGREES = 1e-6  # describe(): a rotation this small is no rotation
NEGLIGIBLE_SHIFT = 1e-9  # describe(): a translation this small (x the mesh size when known) or scale change is none
MIN_LANDMARK_PAIRS = 3  # a fit from landmarks needs this many pairs; fewer only choose the ICP start
COLLINEAR = 1e-6  # landmarks whose second singular value is below this x the first lie on a line
_FLIPS = ((1, 1, 1), (-1, -1, 1), (-1, 1, -1), (1, -1, -1))  # sign flips of the principal axes, det +1


@dataclass(frozen=True, eq=False)
class RigidTransform:
    """``x -> scale * rotation @ x + translation``; ``kind`` 'rigid' or 'similarity', ``method`` how it was
    found ('landmarks', 'icp', 'given'), ``rms`` the residual of the fit (landmark or surface RMS), ``size`` the
    target's extent (neither compared nor saved)."""

    rotation: np.ndarray = field(default_factory=lambda: np.eye(3))
    translation: np.ndarray = field(default_factory=lambda: np.zeros(3))
    scale: float = 1.0
    kind: str = ""  # '' : 'rigid' when scale is 1, else 'similarity'
    method: str = "given"
    rms: float | None = None
    size: float | None = None  # the target's extent when known: what a negligible translation is relative to

    def __post_init__(self):
        r = np.asarray(self.rotation, dtype=np.float64)
        t = np.asarray(self.translation, dtype=np.float64).reshape(-1)
        if r.shape != (3, 3) or t.shape != (3,):
            raise InputError(
                f"a transform needs a 3x3 rotation and a 3-vector translation, got {r.shape} and {t.shape}"
            )
        if not (np.isfinite(r).all() and np.isfinite(t).all() and math.isfinite(self.scale) and self.scale > 0):
            raise InputError("a transform needs finite values and a positive scale")
        if np.abs(r @ r.T - np.eye(3)).max() > 1e-6 or np.linalg.det(r) < 0:
            raise InputError("the transform's 3x3 part is not a rotation (times a uniform scale): no shear, no mirror")
        object.__setattr__(self, "rotation", r)
        object.__setattr__(self, "translation", t)
        object.__setattr__(self, "scale", float(self.scale))
        if not self.kind:
            object.__setattr__(self, "kind", "rigid" if self.scale == 1.0 else "similarity")

    def __eq__(self, other) -> bool:
        """Same map (4x4 matrix), kind and method; the residual is not compared."""
        if not isinstance(other, RigidTransform):
            return NotImplemented
        return bool(np.array_equal(self.matrix, other.matrix)) and (self.kind, self.method) == (
            other.kind,
            other.method,
        )

    __hash__ = None

    # ---- the maps -----------------------------------------------------------------------------
    @classmethod
    def identity(cls) -> RigidTransform:
        return cls(kind="rigid", method="identity")

    @property
    def matrix(self) -> np.ndarray:
        """(4, 4) homogeneous matrix [[s R, t], [0, 1]]."""
        m = np.eye(4)
        m[:3, :3] = self.scale * self.rotation
        m[:3, 3] = self.translation
        return m

    def apply(self, points) -> np.ndarray:
        """(..., 3) -> (..., 3)."""
        p = np.asarray(points, dtype=np.float64)
        return self.scale * p @ self.rotation.T + self.translation

    def inverse(self) -> RigidTransform:
        rt = self.rotation.T
        return RigidTransform(rt, -(rt @ self.translation) / self.scale, 1.0 / self.scale, self.kind, self.method)

    def compose(self, first: RigidTransform) -> RigidTransform:
        """``self o first``: apply ``first``, then ``self``."""
        kind = "similarity" if "similarity" in (self.kind, first.kind) else "rigid"
        return RigidTransform(
            self.rotation @ first.rotation,
            self.scale * self.rotation @ first.translation + self.translation,
            self.scale * first.scale,
            kind,
            "composed",
        )

    @property
    def is_identity(self) -> bool:
        return bool(np.allclose(self.matrix, np.eye(4), rtol=0, atol=1e-12))

    # ---- what users read ----------------------------------------------------------------------
    @property
    def angle_degrees(self) -> float:
        """The rotation angle in [0, 180]: cos = (tr R - 1) / 2 and sin = |R - R^T| / (2 sqrt 2); atan2 of both
        (acos alone turns rounding in the trace into 1e-6 degrees near the identity)."""
        r = self.rotation
        w = np.array([r[2, 1] - r[1, 2], r[0, 2] - r[2, 0], r[1, 0] - r[0, 1]])
        return math.degrees(math.atan2(np.linalg.norm(w) / 2.0, (np.trace(r) - 1.0) / 2.0))

    @property
    def axis(self) -> np.ndarray:
        """Unit rotation axis (right-hand rule with the angle); (0, 0, 1) for no rotation."""
        r = self.rotation
        w = np.array([r[2, 1] - r[1, 2], r[0, 2] - r[2, 0], r[1, 0] - r[0, 1]])
        angle = math.radians(self.angle_degrees)
        if angle < 1e-12:
            return np.array([0.0, 0.0, 1.0])
        if angle < math.pi - 1e-6:
            return w / np.linalg.norm(w)
        b = (r + np.eye(3)) / 2.0  # near 180 degrees: R = 2 a a^T - I
        a = b[:, int(np.argmax(np.diag(b)))]
        a = a / np.linalg.norm(a)
        return a if a @ w >= 0 else -a

    def is_negligible(self, size: float | None = None) -> bool:
        """No rotation, translation or scale change beyond rounding; the translation relative to ``size`` (else
        :attr:`size`, else absolute)."""
        size = size or self.size or 1.0
        return (
            self.angle_degrees < NEGLIGIBLE_DEGREES
            and float(np.linalg.norm(self.translation)) <= NEGLIGIBLE_SHIFT * size
            and abs(self.scale - 1.0) <= NEGLIGIBLE_SHIFT
        )

    def describe(self, size: float | None = None) -> str:
        """One line: 'rigid: 35.0 deg about (0, 0, 1), translation (1, 2, 3)[, scale 1.2]'; 'rigid: identity
        (already aligned)' when :meth:`is_negligible`, 'no rotation' without an axis when only the rotation is."""
        rms = f", RMS {self.rms:.4g}" if self.rms is not None else ""
        if self.is_negligible(size):
            return f"{self.kind}: identity (already aligned){rms}"
        angle = self.angle_degrees
        if angle < NEGLIGIBLE_DEGREES:
            turn = "no rotation"
        else:
            ax = ", ".join(f"{v:.3g}" for v in self.axis)
            turn = f"{angle:.2f} deg about ({ax})" if angle >= 0.005 else f"{angle:.2g} deg about ({ax})"
        tr = ", ".join(f"{v:.4g}" for v in self.translation)
        text = f"{self.kind}: {turn}, translation ({tr})"
        if self.kind == "similarity" or self.scale != 1.0:
            text += f", scale {self.scale:.6g}"
        return text + rms

    def to_json(self) -> dict:
        """What result.json and sessions hold; :meth:`from_json` reads it back from ``matrix``."""
        return {
            "matrix": self.matrix.tolist(),
            "rotation_degrees": self.angle_degrees,
            "axis": self.axis.tolist(),
            "translation": self.translation.tolist(),
            "scale": self.scale,
            "kind": self.kind,
            "method": self.method,
            "rms": self.rms,
            "maps": "aligned = matrix @ [x, y, z, 1] of the original source; the original = inverse(matrix) @ aligned",
        }

    @classmethod
    def from_json(cls, data) -> RigidTransform:
        if not isinstance(data, dict) or "matrix" not in data:
            raise InputError("an alignment needs a 'matrix' (4x4)")
        try:
            return cls.from_matrix(
                data["matrix"], str(data.get("kind", "")), str(data.get("method", "given")), data.get("rms")
            )
        except (TypeError, ValueError) as exc:
            raise InputError(f"alignment: {exc}") from None

    @classmethod
    def from_matrix(cls, matrix, kind: str = "", method: str = "given", rms=None) -> RigidTransform:
        """From a (4, 4) or (3, 4) matrix [[s R, t], ...]; InputError if it is not a similarity."""
        m = np.asarray(matrix, dtype=np.float64)
        if m.shape not in ((4, 4), (3, 4)) or not np.isfinite(m).all():
            raise InputError(f"an alignment matrix must be 4x4 (or 3x4) and finite, got shape {m.shape}")
        if m.shape == (4, 4) and not np.allclose(m[3], [0, 0, 0, 1], atol=1e-9):
            raise InputError("the last row of an alignment matrix must be 0 0 0 1 (no projection)")
        a = m[:3, :3]
        det = np.linalg.det(a)
        if det <= 0:
            raise InputError("the alignment matrix mirrors or flattens the shape (determinant <= 0)")
        s = det ** (1.0 / 3.0)
        kind = kind or ("rigid" if abs(s - 1.0) < 1e-9 else "similarity")
        rms = float(rms) if isinstance(rms, (int, float)) and math.isfinite(rms) else None
        return cls(a / s, m[:3, 3], s, kind, method, rms)


# ---- closed form from pairs -------------------------------------------------------------------------


def _procrustes(x: np.ndarray, y: np.ndarray, scale: bool, weights: np.ndarray | None = None, symmetric=False):
    """(R, s, t) minimising sum_i w_i |s R x_i + t - y_i|^2 (Umeyama), R proper; with ``symmetric`` the
    scale minimises that sum / s instead (Horn): sqrt(var y / var x), no shrinking from noisy pairs."""
    w = np.ones(len(x)) if weights is None else np.asarray(weights, dtype=np.float64)
    w = w / w.sum()
    mx, my = w @ x, w @ y
    xc, yc = x - mx, y - my
    cov = (yc * w[:, None]).T @ xc
    u, sing, vt = np.linalg.svd(cov)
    d = np.ones(3)
    d[2] = np.sign(np.linalg.det(u @ vt)) or 1.0
    r = (u * d) @ vt
    var = float(w @ (xc**2).sum(1))
    if not scale or var <= 0:
        s = 1.0
    elif symmetric:
        s = math.sqrt(float(w @ (yc**2).sum(1)) / var)
    else:
        s = float((sing * d).sum() / var)
    return r, s, my - s * r @ mx


def _check_pairs(source, target, fit: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """The pairs as (K, 3) float64 arrays; ``fit``: enough of them, off a line, to fit a transform (else any
    K >= 1, as hints that choose ICP's start)."""
    x = np.asarray(source, dtype=np.float64)
    y = np.asarray(target, dtype=np.float64)
    if x.ndim != 2 or x.shape[1:] != (3,) or y.ndim != 2 or y.shape[1:] != (3,):
        raise InputError(f"landmarks must be (K, 3) arrays, got {x.shape} and {y.shape}")
    if len(x) != len(y) or not len(x):
        raise InputError(f"the source has {len(x)} landmarks and the target {len(y)}: they must pair one to one")
    if fit and len(x) < MIN_LANDMARK_PAIRS:
        raise InputError(f"an alignment from landmarks needs at least {MIN_LANDMARK_PAIRS} pairs, got {len(x)}")
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise InputError("landmarks contain non-finite coordinates (NaN or Inf)")
    for name, pts in (("source", x), ("target", y)) if fit else ():
        sv = np.linalg.svd(pts - pts.mean(0), compute_uv=False)
        if sv[0] == 0 or sv[1] <= COLLINEAR * sv[0]:
            raise InputError(
                f"the {name} landmarks lie on a line (or on one point): the rotation about it is undetermined; "
                "add a landmark off that line"
            )
    return x, y


def align_landmarks(source, target, kind: str = "rigid") -> RigidTransform:
    """The closed-form transform taking the source landmarks (K, 3) onto the target's (K, 3), K >= 3."""
    _check_kind(kind)
    x, y = _check_pairs(source, target)
    r, s, t = _procrustes(x, y, kind == "similarity")
    rms = float(np.sqrt(((s * x @ r.T + t - y) ** 2).sum(1).mean()))
    return RigidTransform(r, t, s, kind, "landmarks", rms, _extent(y))


def _extent(points: np.ndarray) -> float:
    return float(np.linalg.norm(points.max(0) - points.min(0)))


def _check_kind(kind: str) -> None:
    if kind not in ("rigid", "similarity"):
        raise InputError(f"unknown alignment '{kind}' (choose from rigid, similarity)")


# ---- ICP on surfaces --------------------------------------------------------------------------------


def _samples(vertices: np.ndarray, count: int, seed: int) -> np.ndarray:
    if len(vertices) <= count:
        return vertices
    return vertices[np.random.default_rng(seed).choice(len(vertices), count, replace=False)]


def _principal_frame(points: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """(centroid, axes as columns by decreasing variance with det +1, RMS radius)."""
    c = points.mean(0)
    cov = np.cov((points - c).T)
    values, vectors = np.linalg.eigh(cov)
    axes = vectors[:, ::-1]
    if np.linalg.det(axes) < 0:
        axes[:, 2] *= -1
    return c, axes, float(np.sqrt(values.clip(min=0).sum()))


def _icp(x, y, tree_y, r, s, t, scale: bool, iterations: int, tol: float):
    """Symmetric ICP from (r, s, t), s kept unless ``scale`` frees it; returns (r, s, t, rms) with the RMS
    over all pairs."""
    from scipy.spatial import cKDTree

    rms_prev = math.inf
    rms = math.inf
    for _ in range(iterations):
        moved = s * x @ r.T + t
        d_xy, j = tree_y.query(moved)
        d_yx, i = cKDTree(moved).query(y)
        d = np.concatenate([d_xy, d_yx])
        rms = float(np.sqrt((d**2).mean()))
        outlier = ICP_SCALE_OUTLIER if scale else ICP_OUTLIER
        keep = d <= outlier * np.median(d) + tol  # pairs far beyond the typical one: parts the other lacks
        src = np.concatenate([x, x[i]])[keep]
        dst = np.concatenate([y[j], y])[keep]
        if scale:
            r, s, t = _procrustes(src, dst, True, symmetric=True)
        else:
            r, _, t = _procrustes(s * src, dst, False)  # the scale stays as given
        if abs(rms_prev - rms) <= tol:
            break
        rms_prev = rms
    moved = s * x @ r.T + t
    d = np.concatenate([tree_y.query(moved)[0], cKDTree(moved).query(y)[0]])
    return r, s, t, float(np.sqrt((d**2).mean()))


def _thick_end(points: np.ndarray, axes: np.ndarray) -> tuple[np.ndarray, float]:
    """(the long axis pointing to the thicker end, how many times thicker it is): the thickness of an end is
    the smaller lateral standard deviation of its END_CAP of the points (the larger one grows where a tube
    bends, the smaller one does not)."""
    along = (points - points.mean(0)) @ axes[:, 0]
    lo, hi = np.quantile(along, [END_CAP, 1.0 - END_CAP])
    low, high = (_thickness(points[part] @ axes[:, 1:]) for part in (along <= lo, along >= hi))
    if min(low, high) <= 0:
        return axes[:, 0], 1.0
    return (axes[:, 0], high / low) if high >= low else (-axes[:, 0], low / high)


def _thickness(lateral: np.ndarray) -> float:
    if len(lateral) < 3:
        return 0.0
    return float(np.sqrt(max(np.linalg.eigvalsh(np.cov(lateral.T))[0], 0.0)))


def _landmark_rms(r, s, t, source_landmarks, target_landmarks) -> float:
    return float(np.sqrt(((s * source_landmarks @ r.T + t - target_landmarks) ** 2).sum(1).mean()))


def _best_start(screened, source_end, target_end, landmarks=None, tie: float = 0.0):
    """The screened (r, s, t, rms) to refine: the closest landmarks when given; else, among those nearly as
    good as the smallest RMS, those that put the thick end on the thick end when both surfaces have one, and
    of these the smallest rotation among those that fit alike (``tie``: an RMS difference that is rounding)."""
    if landmarks is not None:
        return min(screened, key=lambda e: _landmark_rms(*e[:3], *landmarks))
    best_rms = min(e[3] for e in screened)
    near = [e for e in screened if e[3] <= ICP_NEARLY_AS_GOOD * best_rms + tie]
    (u, ratio_x), (v, ratio_y) = source_end, target_end
    if min(ratio_x, ratio_y) >= THICK_END_RATIO:
        near = [e for e in near if (e[0] @ u) @ v > 0] or near
    best_rms = min(e[3] for e in near)
    alike = [e for e in near if e[3] <= ICP_TIE * best_rms + tie]
    return max(alike, key=lambda e: np.trace(e[0]))  # trace R = 1 + 2 cos(angle): the smallest rotation


def align_surfaces(
    source_vertices, target_vertices, kind: str = "rigid", seed: int = 0, source_landmarks=None, target_landmarks=None
) -> RigidTransform:
    """ICP taking the source surface's vertices (N, 3) onto the target's (M, 3); see the module's docstring.
    ``source_landmarks``/``target_landmarks`` (K, 3), any K >= 1: only to choose among the starts.

    ``rms`` is the symmetric RMS nearest-vertex distance after alignment.
    """
    from scipy.spatial import cKDTree

    _check_kind(kind)
    hinted = source_landmarks is not None and target_landmarks is not None
    landmarks = _check_pairs(source_landmarks, target_landmarks, fit=False) if hinted else None
    scale = kind == "similarity"
    x = _samples(np.asarray(source_vertices, dtype=np.float64), ICP_SAMPLES, seed)
    y = _samples(np.asarray(target_vertices, dtype=np.float64), ICP_SAMPLES, seed + 1)
    for name, pts in (("source", x), ("target", y)):
        if len(pts) < 3 or not np.isfinite(pts).all():
            raise InputError(f"the {name} surface needs at least 3 finite vertices to be aligned")
    tree_y = cKDTree(y)
    cx, ax, rx = _principal_frame(x)
    cy, ay, ry = _principal_frame(y)
    s0 = ry / rx if scale and rx > 0 else 1.0
    size = _extent(y) or 1.0
    starts = [(np.eye(3), s0, cy - s0 * cx)]  # the pose as given, centroids on each other
    for flip in _FLIPS:
        r = (ay * np.array(flip)) @ ax.T
        starts.append((r, s0, cy - s0 * r @ cx))
    tol = ICP_TOLERANCE * size
    # screened rigidly at the principal scale: a free scale in a wrong pose shrinks the source until it fits
    screened = [_icp(x, y, tree_y, r, s, t, False, ICP_SCREEN_ITERATIONS, tol) for r, s, t in starts]
    r, s, t, _ = _best_start(screened, _thick_end(x, ax), _thick_end(y, ay), landmarks, tol)
    r, s, t, rms = _icp(x, y, tree_y, r, s, t, scale, ICP_ITERATIONS, tol)
    return RigidTransform(r, t, s, kind, "icp", rms, size)


def compute_alignment(
    kind: str, source_vertices, target_vertices, source_landmarks=None, target_landmarks=None
) -> RigidTransform | None:
    """``kind`` in ALIGNMENTS: None for 'none'; from landmarks when given (K >= 3 pairs), else ICP (which 1 or
    2 pairs steer: the start that brings them closest wins)."""
    if kind not in ALIGNMENTS:
        raise InputError(f"unknown alignment '{kind}' (choose from {', '.join(ALIGNMENTS)})")
    if kind == "none":
        return None
    if source_landmarks is None or target_landmarks is None:
        return align_surfaces(source_vertices, target_vertices, kind)
    if len(_check_pairs(source_landmarks, target_landmarks, fit=False)[0]) >= MIN_LANDMARK_PAIRS:
        return align_landmarks(source_landmarks, target_landmarks, kind)
    return align_surfaces(source_vertices, target_vertices, kind, source_landmarks=source_landmarks,
                          target_landmarks=target_landmarks)  # fmt: skip
