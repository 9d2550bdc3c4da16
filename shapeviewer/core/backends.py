"""Kernel reductions ``out_i = sum_j k(x_i, y_j) b_j``, dense (torch) or on the fly (KeOps).

``auto`` picks dense while the N x M kernel matrix stays small, KeOps beyond, and falls back to
dense with a warning when KeOps is missing or fails to compile.
"""

from __future__ import annotations

import functools
import warnings

import torch

from .kernels import Kernel, _torch_safe_rsqrt, _torch_safe_sqrt

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
    try:
        import pykeops.torch  # noqa: F401
    except Exception as exc:  # ImportError, or a broken install raising anything
        warnings.warn(f"KeOps unavailable ({exc}); using dense torch reductions", stacklevel=2)
        return False
    from .keops_gil import release_gil_in_cpu_reductions

    release_gil_in_cpu_reductions()
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


def _keops_product(kernel: Kernel, x, y, b):
    from pykeops.torch import LazyTensor

    x_i = LazyTensor(x[:, None, :].contiguous())
    y_j = LazyTensor(y[None, :, :].contiguous())
    b_j = LazyTensor(b[None, :, :].contiguous())
    d2 = x_i.sqdist(y_j)
    # u * rsqrt(u) is KeOps' sqrt with a zero derivative at u = 0 (rsqrt(0) = 0 there).
    k = kernel.of_squared_distance(d2, lambda u: u * u.rsqrt())
    return (k * b_j).sum(dim=1)


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
    from pykeops.torch import LazyTensor

    q_i, q_j = LazyTensor(q[:, None, :].contiguous()), LazyTensor(q[None, :, :].contiguous())
    m_i, m_j = LazyTensor(m[:, None, :].contiguous()), LazyTensor(m[None, :, :].contiguous())
    d2 = q_i.sqdist(q_j)
    k = kernel.of_squared_distance(d2, lambda u: u * u.rsqrt())
    g = kernel.gradient_factor(d2, lambda u: u.rsqrt())
    return (k * m_j).concat(g * (m_i | m_j) * (q_i - q_j)).sum(dim=1)


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
    from pykeops.torch import LazyTensor

    q_i, q_j = LazyTensor(q[:, None, :].contiguous()), LazyTensor(q[None, :, :].contiguous())
    a_i, b_j = LazyTensor(a[:, None, :].contiguous()), LazyTensor(b[None, :, :].contiguous())
    g = kernel.gradient_factor(q_i.sqdist(q_j), lambda x: x.rsqrt())
    return (g * (a_i | b_j) * (q_i - q_j)).sum(dim=1)


def weighted_kernel_gradient(kernel: Kernel, q: torch.Tensor, a: torch.Tensor, b: torch.Tensor, backend: str):
    """sum_j G_ij <a_i, b_j> (q_i - q_j), G from :meth:`Kernel.gradient_factor`; a, b (n, d) with
    <a_i, b_j> symmetric in i, j: then it is d/dq of sum_ij k(q_i, q_j) <a_i, b_j> / 2 at fixed a, b."""
    if backend == "keops" and keops_usable():
        out = _keops_call(_keops_weighted_gradient, kernel, q, a, b)
        if out is not None:
            return out
    return gradient_from_weights(kernel.gradient_factor(squared_distances(q, q), _torch_safe_rsqrt) * (a @ b.T), q)


def kernel_gradient(kernel: Kernel, q: torch.Tensor, u: torch.Tensor, v: torch.Tensor, backend: str):
    """d/dq of sum_ij <u_i, v_j> k(q_i, q_j) at fixed fields u, v ((n,) or (n, d)): (n, 3), differentiable."""
    u = u[:, None] if u.ndim == 1 else u
    v = v[:, None] if v.ndim == 1 else v
    return weighted_kernel_gradient(kernel, q, torch.cat([u, v], 1), torch.cat([v, u], 1), backend)


def _keops_call(function, *args):
    """Run a KeOps reduction; on failure, remember why, warn once and return None (dense fallback)."""
    global _keops_broken
    try:
        return function(*args)
    except (KeyboardInterrupt, MemoryError):
        raise
    except Exception as exc:
        _keops_broken = f"{type(exc).__name__}: {exc}".splitlines()[0]
        warnings.warn(f"KeOps failed ({_keops_broken}); falling back to dense torch", stacklevel=3)
        return None


class ScalarKernelOperator:
    """v -> K_q v for scalar fields, no autograd; a dense matrix, when it fits, is built once and reused."""

    def __init__(self, kernel: Kernel, q: torch.Tensor, backend: str, matrix: torch.Tensor | None = None):
        """``matrix``: K_q already computed by the caller (detached), to be reused."""
        self.kernel, self.backend = kernel, backend
        self.q = q.detach()
        self.matvecs = 0
        self._matrix = matrix
        itemsize = torch.finfo(q.dtype).bits // 8
        if matrix is None and (backend == "torch" or len(q) ** 2 * itemsize <= OPERATOR_DENSE_BYTES):
            with torch.no_grad():
                self._matrix = kernel_matrix(kernel, self.q, self.q)

    def __call__(self, v: torch.Tensor) -> torch.Tensor:
        self.matvecs += 1
        with torch.no_grad():
            if self._matrix is not None:
                return self._matrix @ v
            return kernel_product(self.kernel, self.q, self.q, v[:, None], self.backend)[:, 0]
