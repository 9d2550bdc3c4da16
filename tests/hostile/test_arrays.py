"""Masks and momenta files, generated: wrong shapes and types, complex, cut, lying headers, huge values."""

import io

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tests.hostile.hostile import assert_refused, run

N = 50  # vertices of the demo mesh at resolution 8
SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _npy(array) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def _mask_argv(valid, mask, out):
    return ["register", valid["source.ply"], valid["target.ply"], "--mask", mask, "--out", out, "--iterations", "1"]


def _shoot_argv(valid, momenta, out):
    return ["shoot", valid["source.ply"], "--momenta", momenta, "--out", out, "--steps", "2",
            "--control-points", "all", "--backend", "torch"]  # fmt: skip


wrong_shapes = hnp.array_shapes(min_dims=0, max_dims=3, max_side=60).filter(lambda s: s != (N,))
bad_values = st.sampled_from([np.nan, np.inf, -np.inf, -1.0, 1e300, 1e13])


@st.composite
def bad_masks(draw) -> bytes:
    kind = draw(st.integers(0, 6))
    if kind == 0:
        return _npy(np.ones(draw(wrong_shapes)))
    if kind == 1:
        values = np.ones(N)
        values[draw(st.integers(0, N - 1))] = draw(bad_values)
        return _npy(values)
    if kind == 2:
        return _npy(np.ones(N, dtype=draw(st.sampled_from(["complex64", "complex128", "U3", "bool", "datetime64[s]"]))))
    if kind == 3:
        return draw(st.binary(max_size=300))
    if kind == 4:
        data = _npy(np.ones(N))
        return data[: draw(st.integers(0, len(data) - 1))]
    if kind == 5:  # all weights far below 1 (lambda overflows)
        return _npy(np.full(N, draw(st.sampled_from([1e-30, 1e-13, 5e-324]))))
    return _npy(np.zeros(N))


@SETTINGS
@given(content=bad_masks())
def test_a_bad_mask_is_refused_naming_the_mask(valid, tmp_path, content):
    mask = tmp_path / "mask.npy"
    mask.write_bytes(content)
    assert_refused(_mask_argv(valid, mask, tmp_path / "out"), tmp_path / "out", [mask], "mask")


@st.composite
def bad_momenta(draw) -> bytes:
    kind = draw(st.integers(0, 4))
    if kind == 0:
        return _npy(np.zeros(draw(wrong_shapes.filter(lambda s: s != (N, 3)))))
    if kind == 1:
        values = np.full((N, 3), 0.01)
        values[draw(st.integers(0, N - 1)), draw(st.integers(0, 2))] = draw(
            st.sampled_from([np.nan, np.inf, 1e300, np.finfo(float).max, 1e31])
        )
        return _npy(values)
    if kind == 2:
        return _npy(np.zeros((N, 3), dtype=draw(st.sampled_from(["complex128", "U2", "O"]))))
    if kind == 3:
        return draw(st.binary(max_size=300))
    data = _npy(np.zeros((N, 3)))
    return data[: draw(st.integers(0, len(data) - 1))]


@SETTINGS
@given(content=bad_momenta())
def test_bad_momenta_are_refused_naming_them(valid, tmp_path, content):
    momenta = tmp_path / "p.npy"
    momenta.write_bytes(content)
    assert_refused(_shoot_argv(valid, momenta, tmp_path / "out"), tmp_path / "out", [momenta], "momenta")


def test_a_mask_of_10_8_entries_is_refused_by_its_length_without_reading_it(valid, tmp_path):
    mask = tmp_path / "huge.npy"
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False, "shape": (10**8,)})
    mask.write_bytes(header.getvalue() + b"\0" * 64)  # the header lies: 800 MB claimed
    assert_refused(_mask_argv(valid, mask, tmp_path / "out"), tmp_path / "out", [mask], "(100000000,)")


def test_momenta_that_blow_the_geodesic_up_are_refused(valid, tmp_path):
    momenta = tmp_path / "p.npy"
    np.save(momenta, np.full((N, 3), 1e12))
    assert_refused(_shoot_argv(valid, momenta, tmp_path / "out"), tmp_path / "out", [momenta], "momenta")


@pytest.mark.parametrize("what", ["mask", "momenta"])
def test_big_endian_arrays_give_the_same_result_as_native_ones(valid, tmp_path, what):
    values = np.linspace(0.1, 1.0, N) if what == "mask" else np.full((N, 3), 0.01) * np.arange(3)
    results = []
    for order in ("<", ">"):
        path = tmp_path / f"{order == '>'}.npy"
        np.save(path, values.astype(f"{order}f8"))
        out = tmp_path / f"out{order == '>'}"
        argv = _mask_argv(valid, path, out) if what == "mask" else _shoot_argv(valid, path, out)
        code, lines = run([*argv, "--backend", "torch", "--steps", "2"] if what == "mask" else argv)
        assert code == 0, lines
        results.append(np.load(out / ("mu.npy" if what == "mask" else "momenta.npy")))
    np.testing.assert_allclose(results[0], results[1])
