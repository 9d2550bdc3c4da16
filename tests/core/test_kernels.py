import math

import pytest
import torch

from shapeviewer.core.backends import kernel_matrix, kernel_product
from shapeviewer.core.kernels import KernelSpecError, parse_kernel
from tests.conftest import random_cloud


@pytest.mark.parametrize(
    "spec, constant, n_terms",
    [
        ("gaussian(0.1)", 0.0, 1),
        ("cauchy(0.1)", 0.0, 1),
        ("laplacian(2)", 0.0, 1),
        ("inverse_multiquadric(.5)", 0.0, 1),
        ("0.5*gaussian(0.2) + gaussian(1.0)", 0.0, 2),
        ("1 + cauchy(0.25) + cauchy(0.05)", 1.0, 2),
        ("  2.5e-1 * cauchy( 1e-1 )", 0.0, 1),
    ],
)
def test_valid_strings_parse_and_round_trip(spec, constant, n_terms):
    k = parse_kernel(spec)
    assert k.constant == constant and len(k.terms) == n_terms
    assert parse_kernel(str(k)) == k


@pytest.mark.parametrize(
    "spec, position, fragment",
    [
        ("gausian(0.1)", 0, "unknown kernel 'gausian'"),
        ("gaussian(-1)", 9, "must be positive"),
        ("gaussian(0)", 9, "must be positive"),
        ("gaussian(0.1", 12, "expected ')'"),
        ("gaussian(0.1) cauchy(1)", 14, "expected '+'"),
        ("1 + ", 4, "found end of string"),
        ("-2*cauchy(1)", 0, "coefficient must be positive"),
        ("cauchy(1) + 3", 0, None),  # a constant plus a term is fine
        ("", 0, "empty kernel"),
        ("1", 0, "at least one profile term"),
        ("cauchy(1) $", 10, "unexpected '$'"),
    ],
)
def test_bad_strings_name_the_token_and_position(spec, position, fragment):
    if fragment is None:
        parse_kernel(spec)
        return
    with pytest.raises(KernelSpecError) as info:
        parse_kernel(spec)
    assert info.value.position == position
    assert fragment in str(info.value)
    assert f"position {position}" in str(info.value)


def test_profiles_have_their_documented_values():
    r = torch.tensor([0.0, 0.5], dtype=torch.float64)
    u = (r / 0.5) ** 2
    expected = {
        "gaussian": torch.exp(-u),
        "cauchy": 1 / (1 + u),
        "laplacian": torch.exp(-u.sqrt()),
        "inverse_multiquadric": 1 / torch.sqrt(1 + u),
    }
    for name, values in expected.items():
        assert torch.allclose(parse_kernel(f"{name}(0.5)").profile(r), values)
    k = parse_kernel("1 + 2*gaussian(0.5)")
    assert torch.allclose(k.profile(r), 1 + 2 * torch.exp(-u))
    assert k.at_zero() == 3.0


@pytest.mark.parametrize("spec", ["gaussian(0.7)", "laplacian(0.7)", "1 + cauchy(0.25) + cauchy(0.05)"])
def test_kernel_matrix_is_symmetric(spec):
    x = random_cloud(50)
    k = kernel_matrix(parse_kernel(spec), x, x)
    assert torch.allclose(k, k.T, atol=1e-14)
    assert torch.allclose(torch.diagonal(k), torch.full((50,), parse_kernel(spec).at_zero(), dtype=torch.float64))


def test_three_equidistant_points_have_the_predicted_eigenvalues():
    side = 0.8
    x = torch.tensor([[0, 0, 0], [side, 0, 0], [side / 2, side * math.sqrt(3) / 2, 0]], dtype=torch.float64)
    kernel = parse_kernel("gaussian(1.0)")
    c = math.exp(-(side**2))
    k = kernel_matrix(kernel, x, x)
    assert torch.allclose(k, torch.tensor([[1, c, c], [c, 1, c], [c, c, 1]], dtype=torch.float64), atol=1e-12)
    ones = torch.ones(3, dtype=torch.float64)
    assert torch.allclose(k @ ones, (1 + 2 * c) * ones)
    complement = torch.tensor([1.0, -1.0, 0.0], dtype=torch.float64)
    assert torch.allclose(k @ complement, (1 - c) * complement)
    assert torch.allclose(torch.linalg.eigvalsh(k), torch.tensor([1 - c, 1 - c, 1 + 2 * c], dtype=torch.float64))


def test_laplacian_gradient_is_finite_at_coincident_points():
    x = random_cloud(20).requires_grad_()
    h = kernel_product(parse_kernel("laplacian(0.5)"), x, x, torch.ones(20, 1, dtype=torch.float64), "torch").sum()
    (g,) = torch.autograd.grad(h, x, create_graph=True)
    (gg,) = torch.autograd.grad(g.square().sum(), x)
    assert torch.isfinite(g).all() and torch.isfinite(gg).all()
