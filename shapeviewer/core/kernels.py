"""Radial kernels ``k(x, y) = c0 + sum_m c_m * phi_m(|x - y|^2 / sigma_m^2)`` parsed from strings.

Grammar: ``sum := term ('+' term)*``, ``term := NUMBER | [NUMBER '*'] PROFILE '(' NUMBER ')'``.
Examples: ``gaussian(0.1)``, ``0.5*gaussian(0.2) + gaussian(1.0)``, ``1 + cauchy(0.25) + cauchy(0.05)``.
The same :class:`Kernel` evaluates on dense torch tensors and on KeOps LazyTensors.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import torch

PROFILES = ("gaussian", "cauchy", "laplacian", "inverse_multiquadric")
NUMBER_RANGE = (1e-12, 1e12)  # scales and weights outside this range overflow or vanish in float32/64 kernels
MAX_TERMS = 16  # profile terms in one kernel; more cannot be meant, and each costs a kernel evaluation
MAX_SPEC_LENGTH = 1000


class KernelSpecError(ValueError):
    """A kernel string that does not parse; ``position`` is the 0-based offset of the culprit."""

    def __init__(self, spec: str, position: int, message: str, hint: str = ""):
        self.spec = spec
        self.position = position
        self.short = f"{message} at position {position} in kernel '{spec}'" + (f" ({hint})" if hint else "")
        super().__init__(f"{self.short}\n  {spec}\n  {' ' * position}^")


@dataclass(frozen=True)
class KernelTerm:
    coefficient: float
    profile: str
    sigma: float


@dataclass(frozen=True)
class Kernel:
    constant: float
    terms: tuple[KernelTerm, ...]

    def __str__(self) -> str:
        parts = [_fmt(self.constant)] if self.constant else []
        for t in self.terms:
            head = "" if t.coefficient == 1 else f"{_fmt(t.coefficient)}*"
            parts.append(f"{head}{t.profile}({_fmt(t.sigma)})")
        return " + ".join(parts)

    @property
    def largest_scale(self) -> float:
        return max(t.sigma for t in self.terms)

    def at_zero(self) -> float:
        """k(x, x)."""
        return self.constant + sum(t.coefficient for t in self.terms)

    def of_squared_distance(self, d2, safe_sqrt=None):
        """Evaluate k from squared distances ``d2`` (a torch tensor or a KeOps LazyTensor)."""
        total = None
        for t in self.terms:
            u = d2 * (1.0 / t.sigma**2)
            value = _PROFILE_FUNCS[t.profile](u, safe_sqrt)
            value = value if t.coefficient == 1 else value * t.coefficient
            total = value if total is None else total + value
        return total + self.constant if self.constant else total

    def gradient_factor(self, d2, safe_rsqrt=None):
        """g(d2) with grad_x k(x, y) = g(|x - y|^2) (x - y), i.e. sum_m c_m 2 phi_m'(u_m) / sigma_m^2."""
        total = None
        for t in self.terms:
            u = d2 * (1.0 / t.sigma**2)
            value = _PROFILE_DERIVATIVES[t.profile](u, safe_rsqrt) * (2.0 * t.coefficient / t.sigma**2)
            total = value if total is None else total + value
        return total

    def profile(self, r: torch.Tensor) -> torch.Tensor:
        """k as a function of the distance r (for plots)."""
        return self.of_squared_distance(r * r, _torch_safe_sqrt)


def _fmt(x: float) -> str:
    return f"{x:.6g}"


def _torch_safe_sqrt(u):
    """sqrt with a zero (not NaN) gradient at 0, to any order."""
    positive = u > 0
    return torch.where(positive, torch.where(positive, u, torch.ones_like(u)).sqrt(), torch.zeros_like(u))


def _laplacian(u, safe_sqrt):
    root = safe_sqrt(u) if safe_sqrt is not None else u.sqrt()
    return (-root).exp()


_PROFILE_FUNCS = {
    "gaussian": lambda u, _s: (-u).exp(),
    "cauchy": lambda u, _s: 1.0 / (u + 1.0),
    "laplacian": _laplacian,
    "inverse_multiquadric": lambda u, _s: (u + 1.0).rsqrt(),
}


def _torch_safe_rsqrt(u):
    """1/sqrt(u) with the value 0 at u = 0 (KeOps' convention), smooth elsewhere."""
    positive = u > 0
    return torch.where(positive, torch.where(positive, u, torch.ones_like(u)).rsqrt(), torch.zeros_like(u))


def _laplacian_derivative(u, safe_rsqrt):
    inv_root = safe_rsqrt(u) if safe_rsqrt is not None else u.rsqrt()
    return -0.5 * (-(u * inv_root)).exp() * inv_root


# d phi / du; the laplacian's is singular at u = 0, where it multiplies x - y = 0 and is taken as 0.
_PROFILE_DERIVATIVES = {
    "gaussian": lambda u, _s: -((-u).exp()),
    "cauchy": lambda u, _s: -1.0 / ((u + 1.0) * (u + 1.0)),
    "laplacian": _laplacian_derivative,
    "inverse_multiquadric": lambda u, _s: -0.5 * (u + 1.0).rsqrt() / (u + 1.0),
}

_TOKEN = re.compile(
    r"\s*(?:(?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)|(?P<name>[A-Za-z_][A-Za-z_0-9]*)|(?P<op>[+*()\-/,])|(?P<bad>\S))"
)


def _tokenize(spec: str) -> list[tuple[str, str, int]]:
    tokens = []
    for m in _TOKEN.finditer(spec):
        kind = m.lastgroup
        if kind is None:
            continue
        tokens.append((kind, m.group(kind), m.start(kind)))
    tokens.append(("end", "", len(spec)))
    return tokens


class _Parser:
    def __init__(self, spec: str):
        self.spec = spec
        self.tokens = _tokenize(spec)
        self.i = 0
        self.terms_so_far: list[str] = []

    def peek(self):
        return self.tokens[self.i]

    def take(self):
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def fail(self, tok, message: str, hint: str = ""):
        raise KernelSpecError(self.spec, tok[2], message, hint)

    def expect(self, kind: str, value: str | None, what: str):
        tok = self.take()
        if tok[0] != kind or (value is not None and tok[1] != value):
            found = "end of string" if tok[0] == "end" else f"'{tok[1]}'"
            self.fail(tok, f"expected {what}, found {found}")
        return tok

    def number(self, what: str) -> float:
        tok = self.peek()
        if tok[0] == "op" and tok[1] == "-":
            self.fail(tok, f"{what} must be positive")
        tok = self.expect("number", None, what)
        value = float(tok[1])
        if value <= 0:
            self.fail(tok, f"{what} must be positive, got {tok[1]}")
        low, high = NUMBER_RANGE
        if not low <= value <= high:  # also an infinite 1e400 or a 1e-400 that reads as 0
            self.fail(tok, f"{what} {tok[1]} is out of range", f"use {low:g} to {high:g}")
        return value

    def parse(self) -> Kernel:
        constant = 0.0
        terms: list[KernelTerm] = []
        while True:
            c, term = self.term()
            constant += c
            if term is not None:
                terms.append(term)
            tok = self.take()
            if tok[0] == "end":
                break
            if tok != ("op", "+", tok[2]):
                self.fail(tok, f"unexpected '{tok[1]}', expected '+' or end of string")
        if not terms:
            raise KernelSpecError(self.spec, 0, "a kernel needs at least one profile term such as gaussian(0.1)")
        if constant > NUMBER_RANGE[1]:
            raise KernelSpecError(self.spec, 0, f"the constant term {constant:g} is out of range")
        return Kernel(constant, tuple(terms))

    def term(self) -> tuple[float, KernelTerm | None]:
        tok = self.peek()
        coefficient = 1.0
        if tok[0] == "number" or (tok[0] == "op" and tok[1] == "-"):
            coefficient = self.number("coefficient")
            nxt = self.peek()
            if nxt[0] != "op" or nxt[1] != "*":
                return coefficient, None
            self.take()
        tok = self.take()
        if tok[0] != "name":
            found = "end of string" if tok[0] == "end" else f"'{tok[1]}'"
            self.fail(tok, f"expected a number or a kernel name, found {found}", f"known: {', '.join(PROFILES)}")
        if tok[1] not in PROFILES:
            self.fail(tok, f"unknown kernel '{tok[1]}'", f"known: {', '.join(PROFILES)}")
        self.expect("op", "(", f"'(' after {tok[1]}")
        sigma = self.number(f"scale of {tok[1]}")
        self.expect("op", ")", "')'")
        if len(self.terms_so_far) >= MAX_TERMS:
            self.fail(tok, f"more than {MAX_TERMS} profile terms", "a kernel sums a few scales")
        self.terms_so_far.append(tok[1])
        return 0.0, KernelTerm(coefficient, tok[1], sigma)


def parse_kernel(spec: str | Kernel) -> Kernel:
    """Parse a kernel string; raise :class:`KernelSpecError` naming the bad token and its position."""
    if isinstance(spec, Kernel):
        return spec
    if not isinstance(spec, str) or not spec.strip():
        raise KernelSpecError(str(spec), 0, "empty kernel string")
    if len(spec) > MAX_SPEC_LENGTH:
        raise KernelSpecError(
            spec[:40] + "...", 0, f"a kernel string of {len(spec)} characters (at most {MAX_SPEC_LENGTH})"
        )
    return _Parser(spec).parse()
