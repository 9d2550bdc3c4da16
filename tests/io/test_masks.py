"""Mask files: .npy and .vtp round trips; wrong length, negative and non-finite masks refused."""

import numpy as np
import pytest

from shapeviewer.core.model import InputError
from shapeviewer.io.demo import make_demo_pair
from shapeviewer.io.masks import load_mask, save_mask


@pytest.mark.parametrize("suffix", [".npy", ".vtp"])
def test_round_trip(tmp_path, suffix):
    source, _ = make_demo_pair(resolution=8)
    w = np.linspace(0, 1, source.n_vertices)
    path = save_mask(tmp_path / f"m{suffix}", w, source.vertices, source.faces)
    np.testing.assert_allclose(load_mask(path, source.n_vertices), w)


@pytest.mark.parametrize(
    "values, message",
    [(np.ones(5), "expected \\(58,\\)"), (-np.ones(58), "negative"), (np.full(58, np.nan), "non-finite"),
     (np.zeros(58), "zero everywhere"), (np.full(58, 1e-30), "largest weight is 1e-30"),
     (np.full(58, 1e13), "largest weight is 1e\\+13")],
)  # fmt: skip
def test_bad_masks_are_refused(tmp_path, values, message):
    np.save(tmp_path / "bad.npy", values)
    with pytest.raises(InputError, match=message) as err:
        load_mask(tmp_path / "bad.npy", 58)
    assert "bad.npy" in str(err.value)


def test_complex_masks_are_refused_and_big_endian_ones_read_right(tmp_path):
    np.save(tmp_path / "c.npy", np.ones(58, complex))
    with pytest.raises(InputError, match="complex"):
        load_mask(tmp_path / "c.npy", 58)
    w = np.linspace(0, 1, 58)
    np.save(tmp_path / "be.npy", w.astype(">f8"))
    np.testing.assert_array_equal(load_mask(tmp_path / "be.npy", 58), w)


def test_a_mask_header_claiming_10_8_entries_is_refused_by_its_length(tmp_path):
    import io

    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False, "shape": (10**8,)})
    (tmp_path / "huge.npy").write_bytes(header.getvalue())
    with pytest.raises(InputError, match=r"shape \(100000000,\), expected \(58,\)"):
        load_mask(tmp_path / "huge.npy", 58)
