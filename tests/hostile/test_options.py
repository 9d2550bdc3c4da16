"""Numeric options and kernel strings out of their ranges, generated: each refused before any work."""

import math

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from shapeviewer.cli import MAX_ITERATIONS, MAX_LEVELS, MAX_SINKHORN_ITERATIONS, MAX_STEPS
from shapeviewer.core.kernels import KernelSpecError, parse_kernel
from shapeviewer.core.model import RELATIVE_SCALE
from tests.hostile.hostile import assert_refused

SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
SOURCE_SIZE = 4.3  # bounding-box diagonal of the demo mesh, near enough for the relative ranges


def _whole_numbers_above(limit: int):
    return st.integers(limit + 1, 10**40).map(str)


def _not_numbers():
    return st.sampled_from(["nan", "inf", "-inf", "1e400", "", " ", "one", "0x10", "1,5", "--", "1e", "∞"])


def _bad_whole(limit: int):
    return st.one_of(_whole_numbers_above(limit), st.integers(-(10**20), 0).map(str), _not_numbers(),
                     st.floats(0.1, 1e6).map(repr))  # fmt: skip


def _bad_positive_real(high: float = math.inf):
    too_big = [st.floats(high * 1.01, 1e308).map(repr)] if math.isfinite(high) else []
    return st.one_of(st.floats(-1e308, 0).map(repr), _not_numbers(), *too_big)


OPTIONS = {
    "--steps": _bad_whole(MAX_STEPS),
    "--iterations": _bad_whole(MAX_ITERATIONS),
    "--sinkhorn-iters": _bad_whole(MAX_SINKHORN_ITERATIONS),
    "--levels": _bad_whole(MAX_LEVELS).filter(lambda t: t != "auto"),
    "--control-points": _bad_whole(10**6).filter(lambda t: t not in ("auto", "all")),
    "--sinkhorn-tol": _bad_positive_real(1.0),
    "--regularization": st.one_of(st.floats(-1e308, -1e-300).map(repr), _not_numbers(), st.just("1e7")),
    "--tolerance": st.one_of(st.floats(1, 1e308).map(repr), st.floats(-1e308, -1e-300).map(repr), _not_numbers()),
    "--fidelity-scale": st.one_of(
        _bad_positive_real(),
        st.floats(1e-300, RELATIVE_SCALE[0] * SOURCE_SIZE * 0.5).map(repr),
        st.floats(RELATIVE_SCALE[1] * SOURCE_SIZE * 2, 1e300).map(repr),
    ),
}


@pytest.mark.parametrize("option", sorted(OPTIONS))
@SETTINGS
@given(data=st.data())
def test_an_option_out_of_range_is_refused_naming_it(valid, tmp_path, option, data):
    value = data.draw(OPTIONS[option])
    out = tmp_path / "out"
    argv = [
        "register",
        valid["source.ply"],
        valid["target.ply"],
        "--out",
        out,
        "--iterations",
        "1",
        f"{option}={value}",
    ]
    assert_refused(argv, out, [valid["source.ply"], valid["target.ply"]], option.split("-")[-1])


def _kernel_numbers():
    return st.one_of(
        st.floats(1e13, 1e308).map(repr),
        st.floats(1e-300, 1e-13).map(repr),
        st.sampled_from(["1e400", "1e-400", "0", "-1", "inf", "nan", "1e38", "1e-45", "", "x"]),
    )


@st.composite
def bad_kernels(draw):
    profile = draw(st.sampled_from(["gaussian", "cauchy", "laplacian", "inverse_multiquadric", "gausian", ""]))
    choice = draw(st.integers(0, 4))
    if choice == 0:  # a scale out of range
        return f"{profile}({draw(_kernel_numbers())})"
    if choice == 1:  # a weight out of range
        return f"{draw(_kernel_numbers())}*{profile}(0.5)"
    if choice == 2:  # too many terms
        return " + ".join([f"{profile}(0.5)"] * draw(st.integers(17, 300)))
    if choice == 3:  # random text
        return draw(st.text(max_size=40))
    return f"{profile}({draw(st.floats(1e-300, 1e-5).map(repr))})"  # within parsing range, far below the shape


@SETTINGS
@given(kernel=bad_kernels())
def test_a_bad_kernel_is_refused_in_one_line(valid, tmp_path, kernel):
    try:
        terms = parse_kernel(kernel).terms
        low, high = RELATIVE_SCALE
        assume(any(not low * SOURCE_SIZE * 0.9 <= t.sigma <= high * SOURCE_SIZE * 1.1 for t in terms))
    except KernelSpecError:
        pass
    out = tmp_path / "out"
    argv = ["register", valid["source.ply"], valid["target.ply"], "--out", out, f"--kernel={kernel}"]
    assert_refused(argv, out, [valid["source.ply"], valid["target.ply"]], "kernel")


@pytest.mark.parametrize(
    "argv, mention",
    [
        (["movie", "R", "--out", "m.mp4", "--fps", "0"], "--fps"),
        (["movie", "R", "--out", "m.mp4", "--fps", "100000"], "--fps"),
        (["movie", "R", "--out", "m.mp4", "--frames-per-step", "1000000"], "--frames-per-step"),
        (["movie", "R", "--out", "m.mp4", "--size", "100000x100000"], "size"),
        (["movie", "R", "--out", "m.mp4", "--size", "axb"], "size"),
        (["movie", "R", "--out", "m.avi"], "format"),
        (["demo", "--out", "d", "--iterations", "1000000000"], "--iterations"),
    ],
)
def test_movie_and_demo_options_out_of_range(tmp_path, argv, mention, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "R").mkdir()
    assert_refused(argv, tmp_path / argv[3], [tmp_path / "R"], mention)
