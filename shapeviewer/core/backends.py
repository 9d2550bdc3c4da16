"""Kernel reductions ``out_i = sum_j k(x_i, y_j) b_j``, dense (torch) or on the fly (KeOps).

``auto`` picks dense while the N x M kernel matrix stays small, KeOps beyond, and falls back to
dense with a warning when KeOps is missing or fails to compile.

KeOps reductions are pykeops Genred objects built once per formula text; a kernel's numbers (scales,
coefficients) travel as a parameter vector, so kernels of one structure share one compiled formula.
"""

from __future__ import annotations

import functools
import warnings

import torch

from .kernels import Kernel, _torch_safe_rsqrt, _torch_safe_sqrt
from .shooting import ShootingCancelled

BACKENDS = ("auto", "torch", "keops")
# Largest N x M that "auto" reduces densely. Dense autograd through a shooting keeps tens of N x M
# matrices per time step (3 GB at N = 1000, 8 GB at N = 2046, float32, 10 steps) where KeOps stays
# under 1 GB; below about N = 600 dense torch is the faster of the two on a CPU
# (benchmarks/iteration_cost.py).
DENSE_MAX_PAIRS = 400_000

_keops_broken: str | None = None


class BackendError(RuntimeError):
    pass


@functools.cache
def keops_importable() -> bool:
    from .keops_compile import compiler_problem, quiet_keops

    quiet_keops()
    if not torch.cuda.is_available() and compiler_problem():
        warnings.warn(
            f"KeOps needs a C++ compiler on this CPU machine ({compiler_problem()}): using dense torch reductions "
            "(install g++ to use KeOps)",
            stacklevel=2,
        )
        return False
    try:
        import pykeops.torch  # noqa: F401
    except Exception as exc:  # ImportError, or a broken install raising anything
        warnings.warn(f"KeOps unavailable ({exc}); using dense torch reductions", stacklevel=2)
        return False
    from .keops_compile import install as announce_compilations
    from .keops_gil import release_gil_in_cpu_reductions

    release_gil_in_cpu_reductions()
    announce_compilations()
    return True


def keops_usable() -> bool:
    return _keops_broken is None and keops_importable()


def resolve_backend(name: str, n: int, m: int) -> str:
    """Map 'auto' | 'torch' | 'keops' to the backend that will run ('torch' or 'keops')."""
    if name not in BACKENDS:
        raise BackendError(f"unknown backend '{name}' (choose from {', '.join(BACKENDS)})")
    if name == "torch":
        return "torch"
    if name == "keops":
        if keops_usable():
            return "keops"
        warnings.warn(f"KeOps requested but unusable ({_keops_broken or 'not installed'}); using torch", stacklevel=2)
        return "torch"
    if n * m <= DENSE_MAX_PAIRS or not keops_usable():
        return "torch"
    return "keops"


def squared_distances(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """(N, M) matrix of |x_i - y_j|^2, memory O(NM) (no (N, M, 3) temporary).

    The expansion leaves rounding noise where x_i = y_j; on the diagonal of x against itself it is set
    to exactly 0, since sqrt-based kernels (laplacian) would amplify it.
    """
    d2 = ((x * x).sum(-1)[:, None] + (y * y).sum(-1)[None, :] - 2.0 * (x @ y.T)).clamp(min=0.0)
    if x is y:
        off_diagonal = ~torch.eye(len(x), dtype=torch.bool, device=x.device)
        d2 = d2 * off_diagonal
    return d2


def kernel_matrix(kernel: Kernel, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return kernel.of_squared_distance(squared_distances(x, y), _torch_safe_sqrt)


class _Formula:
    """A KeOps formula under construction from a :class:`Kernel`'s own arithmetic: each Python float
    becomes an entry ``Elem(P, k)`` of one parameter vector P, so the text depends on the kernel's
    structure (profiles, unit coefficients, constant term) and not on its scales."""

    def __init__(self, text: str, params: list[float]):
        self.text, self.params = text, params

    def _arg(self, other) -> str:
        if isinstance(other, _Formula):
            return other.text
        self.params.append(float(other))
        return f"Elem(P,{len(self.params) - 1})"

    def _op(self, text: str) -> _Formula:
        return _Formula(text, self.params)

    def __add__(self, other):
        return self._op(f"({self.text}+{self._arg(other)})")

    def __radd__(self, other):
        return self._op(f"({self._arg(other)}+{self.text})")

    def __sub__(self, other):
        return self._op(f"({self.text}-{self._arg(other)})")

    def __rsub__(self, other):
        return self._op(f"({self._arg(other)}-{self.text})")

    def __mul__(self, other):
        return self._op(f"({self.text}*{self._arg(other)})")

    def __rmul__(self, other):
        return self._op(f"({self._arg(other)}*{self.text})")

    def __truediv__(self, other):
        return self._op(f"({self.text}/{self._arg(other)})")

    def __rtruediv__(self, other):
        return self._op(f"({self._arg(other)}/{self.text})")

    def __neg__(self):
        return self._op(f"(-{self.text})")

    def exp(self):
        return self._op(f"Exp({self.text})")

    def rsqrt(self):
        return self._op(f"Rsqrt({self.text})")


@functools.lru_cache(maxsize=64)  # kernels are frozen dataclasses; a GUI session may try many scales
def _kernel_formulas(kernel: Kernel) -> tuple[str, str, tuple[float, ...]]:
    """(k, g, P): KeOps texts of k(|x - y|^2) and of its gradient factor g in the variables x, y and
    the parameter vector P that holds all of the kernel's numbers."""
    params: list[float] = []
    d2 = _Formula("SqDist(x,y)", params)
    # u * rsqrt(u) is KeOps' sqrt with a zero derivative at u = 0 (rsqrt(0) = 0 there).
    k = kernel.of_squared_distance(d2, lambda u: u * u.rsqrt())
    g = kernel.gradient_factor(d2, lambda u: u.rsqrt())
    return k.text, g.text, tuple(params)


@functools.lru_cache(maxsize=64)
def _kernel_parameters(kernel: Kernel, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """The vector P of ``kernel``, copied to the device once (not at every reduction)."""
    return torch.tensor(_kernel_formulas(kernel)[2], dtype=dtype, device=device)


@functools.lru_cache(maxsize=256)
def _genred(formula: str, aliases: tuple[str, ...]):
    """One pykeops Genred per formula text (sum over j, output indexed by i); compiled on first call."""
    from pykeops.torch import Genred

    return Genred(formula, list(aliases), reduction_op="Sum", axis=1)


def _reduce(kernel: Kernel, template: str, variables: tuple[str, ...], *args: torch.Tensor) -> torch.Tensor:
    """Run ``template`` (with {k}, {g} for the kernel and its gradient factor) over x = args[0] (i),
    y = args[1] (j) and further ``variables`` ('name=Vi(d)' or 'name=Vj(d)') bound to args[2:]."""
    k, g, params = _kernel_formulas(kernel)
    aliases = ("x=Vi(3)", "y=Vj(3)", *variables, f"P=Pm({len(params)})")
    fn = _genred(template.format(k=k, g=g), aliases)
    return fn(*(a.contiguous() for a in args), _kernel_parameters(kernel, args[0].dtype, args[0].device))


def _keops_product(kernel: Kernel, x, y, b):
    return _reduce(kernel, "{k}*b", (f"b=Vj({b.shape[1]})",), x, y, b)


def kernel_product(kernel: Kernel, x: torch.Tensor, y: torch.Tensor, b: torch.Tensor, backend: str) -> torch.Tensor:
    """sum_j k(x_i, y_j) b_j for x (N, 3), y (M, 3), b (M, D) -> (N, D); differentiable to any order."""
    if backend == "keops" and keops_usable():
        out = _keops_call(_keops_product, kernel, x, y, b)
        if out is not None:
            return out
    return kernel_matrix(kernel, x, y) @ b


# A detached kernel matrix up to this size serves the Sinkhorn solves as dense matrix-vector products,
# about 10x faster than KeOps reductions on a CPU (0.5 ms against 5.8 ms at N = 2046), with no autograd.
OPERATOR_DENSE_BYTES = 256 * 2**20


def _keops_hamiltonian_reduction(kernel: Kernel, q, m):
    template = "Concat({k}*mj,{g}*(mi|mj)*(x-y))"
    return _reduce(kernel, template, ("mi=Vi(3)", "mj=Vj(3)"), q, q, m, m)


def hamiltonian_reduction(kernel: Kernel, q: torch.Tensor, m: torch.Tensor, backend: str):
    """(K_q m, dH/dq) for H = 1/2 <m, K_q m> at fixed m: (n, 3) each, in one pass, differentiable.

    dH/dq_i = sum_j g(|q_i - q_j|^2) (m_i . m_j) (q_i - q_j), with g from :meth:`Kernel.gradient_factor`.
    """
    if backend == "keops" and keops_usable():
        both = _keops_call(_keops_hamiltonian_reduction, kernel, q, m)
        if both is not None:
            return both[:, :3], both[:, 3:]
    k, g = dense_kernel_and_gradient(kernel, q)
    return k @ m, gradient_from_weights(g * (m @ m.T), q)


def dense_kernel_and_gradient(kernel: Kernel, q: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(K, G) n x n with K_ij = k(q_i, q_j) and grad_1 k(q_i, q_j) = G_ij (q_i - q_j); differentiable."""
    d2 = squared_distances(q, q)
    return kernel.of_squared_distance(d2, _torch_safe_sqrt), kernel.gradient_factor(d2, _torch_safe_rsqrt)


def gradient_from_weights(w: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """sum_j w_ij (q_i - q_j) for an n x n weight matrix w."""
    return w.sum(1, keepdim=True) * q - w @ q


def _keops_weighted_gradient(kernel: Kernel, q, a, b):
    d = a.shape[1]
    return _reduce(kernel, "{g}*(a|b)*(x-y)", (f"a=Vi({d})", f"b=Vj({d})"), q, q, a, b)


def weighted_kernel_gradient(kernel: Kernel, q: torch.Tensor, a: torch.Tensor, b: torch.Tensor, backend: str):
    """sum_j G_ij <a_i, b_j> (q_i - q_j), G from :meth:`Kernel.gradient_factor`; a, b (n, d) with
    <a_i, b_j> symmetric in i, j: then it is d/dq of sum_ij k(q_i, q_j) <a_i, b_j> / 2 at fixed a, b."""
    if backend == "keops" and keops_usable():
        out = _keops_call(_keops_weighted_gradient, kernel, q, a, b)
        if out is not None:
            return out
    return gradient_from_weights(kernel.gradient_factor(squared_distances(q, q), _torch_safe_rsqrt) * (a @ b.T), q)


# Backward of weighted_kernel_gradient: [q_bar (3), a_bar (d), b_bar (d)] in one reduction over j.
_VJP_TEMPLATE = (
    "Concat(Grad({g}*((hi*(ai|bj)-hj*(aj|bi))|(x-y)),x,IntCst(1)),Concat({g}*(hi|(x-y))*bj,-{g}*(hj|(x-y))*aj))"
)


def _keops_weighted_gradient_vjp(kernel: Kernel, q, a, b, h, also=None):
    d = a.shape[1]
    variables = (f"ai=Vi({d})", f"aj=Vj({d})", f"bi=Vi({d})", f"bj=Vj({d})", "hi=Vi(3)", "hj=Vj(3)")
    if also is None:
        out = _reduce(kernel, _VJP_TEMPLATE, variables, q, q, a, a, b, b, h, h)
    else:  # K_q also as further columns
        template = f"Concat({_VJP_TEMPLATE},{{k}}*ej)"
        out = _reduce(kernel, template, (*variables, f"ej=Vj({also.shape[1]})"), q, q, a, a, b, b, h, h, also)
    return out[:, :3], out[:, 3 : 3 + d], out[:, 3 + d : 3 + 2 * d], out[:, 3 + 2 * d :]


def weighted_kernel_gradient_vjp(kernel: Kernel, q, a, b, h, backend: str, also: torch.Tensor | None = None):
    """(q_bar, a_bar, b_bar): the gradients of <h, F(q, a, b)> for F = :func:`weighted_kernel_gradient`,
    not differentiable. With d_ij = q_i - q_j and G_ij = g(|d_ij|^2):
    q_bar_i = sum_j grad_{q_i} [G_ij (h_i <a_i, b_j> - h_j <a_j, b_i>) . d_ij],
    a_bar_i = sum_j G_ij (h_i . d_ij) b_j,  b_bar_i = -sum_j G_ij (h_j . d_ij) a_j.
    KeOps: one reduction where autograd would take four (q as x_i and as y_j, a, b). ``also`` (n, k): fields
    whose product K_q also rides on that reduction, returned fourth."""
    with torch.no_grad():
        if backend == "keops" and keops_usable():
            out = _keops_call(_keops_weighted_gradient_vjp, kernel, q, a, b, h, also)
            if out is not None:
                return out[:3] if also is None else out
    with torch.enable_grad():
        leaves = [t.detach().requires_grad_() for t in (q, a, b)]
        out = weighted_kernel_gradient(kernel, *leaves, "torch")
        grads = tuple(g.detach() for g in torch.autograd.grad(out, leaves, h))
    return grads if also is None else (*grads, kernel_product(kernel, q.detach(), q.detach(), also, "torch"))


def kernel_gradient(kernel: Kernel, q: torch.Tensor, u: torch.Tensor, v: torch.Tensor, backend: str):
    """d/dq of sum_ij <u_i, v_j> k(q_i, q_j) at fixed fields u, v ((n,) or (n, d)): (n, 3), differentiable."""
    u = u[:, None] if u.ndim == 1 else u
    v = v[:, None] if v.ndim == 1 else v
    return weighted_kernel_gradient(kernel, q, torch.cat([u, v], 1), torch.cat([v, u], 1), backend)


def raised_by_keops(exc: BaseException) -> bool:
    """Whether ``exc`` came out of pykeops or keopscore (a compile or load failure, even in a backward pass)."""
    seen = 0
    while exc is not None and seen < 10:  # the exception and what caused it
        tb = exc.__traceback__
        while tb is not None:
            if tb.tb_frame.f_globals.get("__name__", "").startswith(("pykeops", "keopscore")):
                return True
            tb = tb.tb_next
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return False


def mark_keops_broken(exc: BaseException) -> str:
    """Remember why KeOps is unusable in this process (every later choice is dense); the one-line reason."""
    global _keops_broken
    if _keops_broken is None:
        _keops_broken = f"{type(exc).__name__}: {exc}".strip().splitlines()[0][:300]
    return _keops_broken


def _keops_call(function, *args):
    """Run a KeOps reduction; on failure, remember why, warn once and return None (dense fallback)."""
    try:
        return function(*args)
    except (KeyboardInterrupt, MemoryError, ShootingCancelled):  # a stop raised before a compilation
        raise
    except Exception as exc:
        warnings.warn(f"KeOps failed ({mark_keops_broken(exc)}); falling back to dense torch", stacklevel=3)
        return None


# Row blocks of this many entries when a CPU builds a detached K_q: whole-matrix temporaries cost more
# in memory traffic than the arithmetic there (n = 2000, float32: 134 ms whole, 12-19 ms in blocks).
_CPU_BLOCK_ENTRIES = 2**20


def operator_matrix(kernel: Kernel, q: torch.Tensor) -> torch.Tensor:
    """K_q (n, n), no autograd, the diagonal from exactly |q_i - q_i|^2 = 0; in row blocks on a CPU."""
    n = len(q)
    rows = n if q.device.type != "cpu" else max(64, _CPU_BLOCK_ENTRIES // max(n, 1))
    with torch.no_grad():
        sq = (q * q).sum(-1)
        if rows >= n:  # one block: no copy into a result
            return _operator_rows(kernel, q, sq, 0, n)
        out = torch.empty(n, n, dtype=q.dtype, device=q.device)
        for start in range(0, n, rows):
            out[start : start + rows] = _operator_rows(kernel, q, sq, start, rows)
    return out


def _operator_rows(kernel: Kernel, q: torch.Tensor, sq: torch.Tensor, start: int, rows: int) -> torch.Tensor:
    d2 = torch.addmm(sq[start : start + rows, None], q[start : start + rows], q.T, alpha=-2.0)
    d2.add_(sq[None, :]).clamp_(min=0.0).diagonal(offset=start).zero_()
    return kernel.of_squared_distance(d2, _torch_safe_sqrt)


class ScalarKernelOperator:
    """v -> K_q v for fields v (n,) or (n, k), no autograd; k stacked fields cost one reduction.
    A dense matrix, when it fits, is built once and reused."""

    def __init__(self, kernel: Kernel, q: torch.Tensor, backend: str, matrix: torch.Tensor | None = None):
        """``matrix``: K_q already computed by the caller (detached), to be reused."""
        self.kernel, self.backend = kernel, backend
        self.q = q.detach()
        self.matvecs = 0
        self._matrix = matrix
        itemsize = torch.finfo(q.dtype).bits // 8
        if matrix is None and (backend == "torch" or len(q) ** 2 * itemsize <= OPERATOR_DENSE_BYTES):
            self._matrix = operator_matrix(kernel, self.q)

    @property
    def dense(self) -> bool:
        """True when products are dense matrix products (no KeOps reduction, no host synchronisation)."""
        return self._matrix is not None

    def scaled_matrix(
        self, e: torch.Tensor, alpha: float, shift: float, out: torch.Tensor | None = None
    ) -> torch.Tensor:
        """alpha diag(e) K_q diag(e) + shift I, for a dense operator, written into ``out`` (n, n) if given."""
        with torch.no_grad():
            out = torch.mul(self._matrix, e[:, None], out=out).mul_(alpha * e)
            out.diagonal().add_(shift)
        return out

    def __call__(self, v: torch.Tensor) -> torch.Tensor:
        self.matvecs += 1
        with torch.no_grad():
            if self._matrix is not None and v.ndim == 2 and v.device.type == "cpu":
                # CPU BLAS: a few columns one by one are 2-6x faster than a matrix product (n = 2000 to 5000)
                return torch.stack([self._matrix @ column for column in v.unbind(1)], 1)
            if self._matrix is not None:
                return self._matrix @ v
            out = kernel_product(self.kernel, self.q, self.q, v[:, None] if v.ndim == 1 else v, self.backend)
            return out[:, 0] if v.ndim == 1 else out
