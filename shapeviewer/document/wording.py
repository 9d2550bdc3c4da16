"""Numbers said in words that read one way only (the convergence plot, the result title)."""

from __future__ import annotations


def passive_words(n: int, what: str = "the flow") -> str:
    """'1 vertex of weight 0 follows the flow passively', '12 vertices of weight 0 follow ...'."""
    return f"{n} vertex of weight 0 follows {what} passively" if n == 1 else (
        f"{n} vertices of weight 0 follow {what} passively")  # fmt: skip


ROUNDING_CHANGE = 1e-6  # a relative change of the mismatch below this is float32 rounding (two formulas' sums)


def mismatch_change(fidelity: float) -> str:
    """How the mismatch changed, in words that read one way only: 'down 98.7%', 'up 3.0%', 'unchanged' (also
    for a change within rounding, as at iteration 0, where the fused and the plain formula differ by it)."""
    if abs(fidelity - 1) < ROUNDING_CHANGE:
        return "unchanged"
    return f"down {percent(100 * (1 - fidelity))}" if fidelity < 1 else f"up {percent(100 * (fidelity - 1))}"


TINY_PERCENT = 0.01  # a share below this is said as "< 0.01%", not 5e-07%


def percent(value: float) -> str:
    """A percentage never rounded to a false 0% or 100%: 98.7%, 0.4%, 0.03%, < 0.01%, > 99.9%; about 0%
    below 0 (rounding)."""
    if value < 0:
        return "≈0%"
    if value == 0 or value == 100:
        return f"{value:.0f}%"
    if value < TINY_PERCENT:
        return f"< {TINY_PERCENT:g}%"
    if value < 0.1:
        return f"{value:.1g}%"
    return f"{value:.1f}%" if value < 99.95 else "> 99.9%"


def vertex_count(n: int) -> str:
    """A vertex count as the status bar, the plot and the parameters say it: 950, 1.6k, 8k, 40k, 200k."""
    if n < 1000:
        return str(n)
    if n < 10_000:
        return f"{n / 1000:.1f}".removesuffix(".0") + "k"
    return f"{n / 1000:.0f}k"


def levels_sentence(levels: list[tuple[int, bool]]) -> str:
    """'coarse to fine over 2 of 3 levels: 2001, 10001, 50000 (skipped: ...) vertices' from (vertices, run)."""
    sizes = ", ".join(f"{n}" + ("" if run else " (skipped: resolved by a coarser level)") for n, run in levels)
    return f"coarse to fine over {sum(run for _, run in levels)} of {len(levels)} levels: {sizes} vertices"
