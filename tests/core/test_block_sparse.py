"""Block-sparse data terms: a large mesh at a small scale visits only near cells, with the full sum's value."""

import numpy as np
import pytest
import torch

from shapeviewer.core import block_sparse
from shapeviewer.core.block_sparse import CUTOFF, plan_blocks
from shapeviewer.core.fidelity import Fidelity
from shapeviewer.core.geometry import shape_size


@pytest.fixture
def any_size(monkeypatch):
    """Plans for meshes of test size (the app plans only above MIN_PAIRS point pairs)."""
    monkeypatch.setattr(block_sparse, "MIN_PAIRS", 0)


def surface_points(n: int, seed: int) -> torch.Tensor:
    """Points on a bumpy sphere of radius ~1, in float64."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 3, generator=g, dtype=torch.float64)
    x = x / x.norm(dim=1, keepdim=True)
    return x * (1 + 0.2 * torch.sin(3 * x[:, :1]))


def kept_cell_pairs(blocks, n1: int, n2: int) -> tuple[set, np.ndarray, np.ndarray]:
    """The (cell of set 1, cell of set 2) pairs the ranges visit, as reductions over j see them, and each
    point's cell (points in their original order)."""
    r1, slices1, red2, r2, slices2, red1 = (t.numpy() for t in blocks.ranges)
    start2 = {int(a): k for k, (a, _b) in enumerate(r2)}
    pairs, begin = set(), 0
    for k, end in enumerate(slices1):
        pairs |= {(k, start2[int(a)]) for a, _b in red2[begin:end]}
        begin = end
    start1 = {int(a): k for k, (a, _b) in enumerate(r1)}
    transposed, begin = set(), 0  # the layout for reductions over i (the backward pass) must agree
    for k, end in enumerate(slices2):
        transposed |= {(start1[int(a)], k) for a, _b in red1[begin:end]}
        begin = end
    assert transposed == pairs
    cell1, cell2 = np.empty(n1, int), np.empty(n2, int)
    for cells, ranges, order in ((cell1, r1, blocks.order1), (cell2, r2, blocks.order2)):
        for k, (a, b) in enumerate(ranges):
            cells[order[a:b].numpy()] = k
    return pairs, cell1, cell2


def test_every_pair_within_the_cutoff_lies_in_a_visited_block(any_size):
    x, y = surface_points(1500, 0), surface_points(1200, 1)
    scale = 0.05
    blocks = plan_blocks(x, y, scale)
    assert blocks is not None and blocks.kept < 0.3  # most of the far pairs are skipped
    pairs, cell1, cell2 = kept_cell_pairs(blocks, len(x), len(y))
    near_i, near_j = torch.nonzero(torch.cdist(x, y) < CUTOFF * scale, as_tuple=True)
    missing = {(int(cell1[i]), int(cell2[j])) for i, j in zip(near_i, near_j, strict=True)} - pairs
    assert not missing
    sizes = np.bincount(cell1)[:, None] * np.bincount(cell2)[None, :]
    visited = sum(int(sizes[a, b]) for a, b in pairs)
    assert visited / (len(x) * len(y)) == pytest.approx(blocks.kept)


def test_no_plan_where_it_would_not_pay(any_size, monkeypatch):
    x = surface_points(800, 2)
    assert plan_blocks(x, x, 1.0) is None  # a scale as large as the shape: every cell is near every other
    monkeypatch.setattr(block_sparse, "MIN_PAIRS", 10**8)
    assert plan_blocks(x, x, 0.02) is None  # 640,000 pairs: the full reduction is fast enough


def test_a_plan_made_in_small_chunks_is_the_same_plan(any_size, monkeypatch):
    """Cells are looked up by chunks (memory at a million cells); the chunks change nothing."""
    x, y = surface_points(2000, 3), surface_points(1500, 4)
    whole = plan_blocks(x, y, 0.04)
    monkeypatch.setattr(block_sparse, "LOOKUPS", 1000)  # a few cells of x per chunk
    chunked = plan_blocks(x, y, 0.04)
    assert chunked.kept == whole.kept
    assert all(torch.equal(a, b) for a, b in zip(chunked.ranges, whole.ranges, strict=True))


def test_the_self_term_sorts_its_points_once_with_the_same_plan(any_size):
    x = surface_points(1500, 7)
    shared, copied = plan_blocks(x, x, 0.05), plan_blocks(x, x.clone(), 0.05)
    assert shared.kept == copied.kept
    assert all(torch.equal(a, b) for a, b in zip(shared.ranges, copied.ranges, strict=True))


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_a_blown_up_trial_step_gets_no_plan(any_size, bad):
    """A non-finite point (an L-BFGS trial step that blew up) leaves the data term to the plain sum, whose NaN
    the line search steps back from; planning must not raise."""
    x = surface_points(500, 5)
    x[7, 1] = bad
    assert plan_blocks(x, surface_points(400, 6), 0.05) is None


def fit_and_gradient(fid: Fidelity, x: torch.Tensor) -> tuple[float, torch.Tensor]:
    x = x.clone().requires_grad_()
    value = fid(x)
    (grad,) = torch.autograd.grad(value, x)
    return float(value.detach()), grad


@pytest.mark.keops
def test_block_sparse_varifold_matches_the_full_sum(any_size, data_dir):
    from shapeviewer.core.backends import keops_usable
    from shapeviewer.io.meshes import read_mesh

    if not keops_usable():
        pytest.skip("KeOps is not installed or cannot compile here")
    source, target = read_mesh(data_dir / "finger0.ply"), read_mesh(data_dir / "finger1.ply")
    x, y = (torch.as_tensor(m.vertices, dtype=torch.float64) for m in (source, target))
    sf, tf = torch.as_tensor(source.faces), torch.as_tensor(target.faces)
    scale = 0.03 * shape_size(x)
    lazy = Fidelity("varifold", sf, y, tf, scale, "keops")
    centres = [(v[f].mean(1)) for v, f in ((x, sf), (y, tf))]
    assert plan_blocks(*centres, scale).kept < 0.3  # the lazy fidelity does visit blocks only
    value, grad = fit_and_gradient(lazy, x)
    full_value, full_grad = fit_and_gradient(Fidelity("varifold", sf, y, tf, scale, "torch"), x)
    assert value == pytest.approx(full_value, rel=1e-7)
    assert float((grad - full_grad).abs().max()) <= 1e-6 * float(full_grad.abs().max())


@pytest.mark.parametrize("kind", ["varifold", "currents"])
def test_self_term_gradient_through_one_side_is_the_full_gradient(human, kind):
    """<S, S> takes its gradient through one side, doubled: the same as through both."""
    from shapeviewer.core.fidelity import _features, _inner

    v = torch.as_tensor(human.vertices, dtype=torch.float64)
    f = torch.as_tensor(human.faces)
    fid = Fidelity(kind, f, v * 1.05, f, 0.3, "torch")
    moved = v + 0.02 * torch.sin(4 * v)
    value, grad = fit_and_gradient(fid, moved)

    def both_sides(x):
        src = _features(x, f, fid.oriented)
        cross = _inner(src, fid.target, fid.scale, fid.oriented, "torch")
        return _inner(src, src, fid.scale, fid.oriented, "torch") - 2 * cross + fid.target_self

    x = moved.clone().requires_grad_()
    expected = both_sides(x)
    (expected_grad,) = torch.autograd.grad(expected, x)
    assert value == pytest.approx(float(expected.detach()), rel=1e-12)
    assert torch.allclose(grad, expected_grad, rtol=1e-10, atol=1e-12 * float(expected_grad.abs().max()))
