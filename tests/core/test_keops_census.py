"""The census of KeOps formulas (core.keops_census): what a run's first level will compile, told before any
compilation, so that the app and the command line can say "compiling formula k of n"."""

import threading
import warnings

import numpy as np
import pytest
import torch

from shapeviewer.core import backends, keops_census, warmup
from shapeviewer.core.kernels import parse_kernel
from shapeviewer.core.model import ModelSettings
from shapeviewer.core.registration import Registration, RegistrationSettings
from shapeviewer.core.sinkhorn import SinkhornSettings, SinkhornSolver
from tests.core.test_zero_weight_masks import bent, human_masks

pytestmark = pytest.mark.keops


@pytest.fixture(autouse=True)
def need_keops():
    if not backends.keops_usable():
        pytest.skip("KeOps is not installed or cannot compile here")


@pytest.fixture
def case(human):
    """A normalized KeOps run with a zero-weight half and control points (formulas the suite compiles anyway)."""
    settings = RegistrationSettings(model=ModelSettings(dtype="float64", backend="keops", control_points=40))
    mask = human_masks(human.vertices)["half"]
    return (human.vertices, human.faces), (bent(human.vertices), human.faces), settings, mask


def real_formulas(monkeypatch) -> list[str]:
    """Records the tag of every formula that pykeops really loads from now on."""
    from pykeops.common.keops_io import keops_binder

    assert keops_census.install()
    binder, seen = keops_binder["cpp"], []
    real = binder.real

    def recording(*args):
        loaded = real(*args)
        if loaded.params.tag not in seen:
            seen.append(loaded.params.tag)
        return loaded

    monkeypatch.setattr(binder, "real", recording)
    return seen


def test_the_census_lists_the_formulas_the_real_evaluation_uses(case, monkeypatch):
    seen = real_formulas(monkeypatch)
    census = keops_census.take_census(lambda: warmup.warm_formulas(*case))
    assert seen == []  # nothing was loaded, let alone compiled or reduced, for the census
    assert census.stopped_by == "" and len(census.used) >= 5
    warmup.warm_formulas(*case)
    assert sorted(seen) == sorted(census.used)
    assert keops_census.take_census(lambda: warmup.warm_formulas(*case)).to_compile == 0  # all on disk now


def test_a_sinkhorn_solve_in_a_census_does_not_warn_of_its_stand_in_numbers():
    """A census's numbers are stand-ins: a Sinkhorn solve on them may not converge, and saying so (as the command
    line and the app's status bar did before every run of finger0 with its tip mask) would mislead."""
    q, mu = torch.randn(50, 3, dtype=torch.float64), torch.rand(50, dtype=torch.float64) + 0.1
    kernel = parse_kernel("cauchy(0.5)")

    def capped_solve():
        SinkhornSolver(kernel, "torch", SinkhornSettings(tol=1e-300, max_newton=1)).solve(q, mu)

    with pytest.warns(RuntimeWarning, match="Sinkhorn stopped"):
        capped_solve()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert keops_census.take_census(capped_solve).stopped_by == ""


def test_a_census_of_a_masked_run_warns_of_nothing(data_dir):
    """What a user saw: "Sinkhorn stopped after 4 Newton steps with residual 8.05e-01" before each run of finger0
    with its tip mask, from the census that counts the formulas to compile."""
    from shapeviewer.io.meshes import read_mesh

    source, target = ((m.vertices, m.faces) for m in (read_mesh(data_dir / f"finger{k}.ply") for k in (0, 1)))
    mask = np.load(data_dir / "finger0_tipmask.npy")
    settings = RegistrationSettings()  # the defaults: normalized, float32
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        census = keops_census.take_census(lambda: warmup.warm_formulas(source, target, settings, mask))
    assert census.stopped_by == "" and len(census.used) >= 3
    assert [str(w.message) for w in caught if "Sinkhorn" in str(w.message)] == []
    assert not keops_census.taking_census()


def test_formulas_not_on_disk_are_the_ones_to_compile(case, monkeypatch):
    used = keops_census.take_census(lambda: warmup.warm_formulas(*case)).used
    monkeypatch.setattr(keops_census, "_library_path", lambda tag: f"/nonexistent/{tag}.so")  # a first run
    assert warmup.formulas_to_compile(*case) == len(used)


def test_a_census_changes_no_result(case):
    source, target, settings, mask = case

    def first_loss() -> float:
        reg = Registration(source, target, settings, mask)
        return float(reg.evaluate(reg.z + 0.01, False)[0])

    before = first_loss()
    census = keops_census.take_census(first_loss)
    assert census.used and census.stopped_by == ""
    assert first_loss() == before


def test_other_threads_reduce_for_real_during_a_census():
    x = torch.randn(50, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    b = torch.rand(50, 1, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    dense = torch.exp(-((x[:, None] - x[None]) ** 2).sum(-1)) @ b
    kernel = backends._genred("Exp(-SqDist(x,y))*b", ("x = Vi(3)", "y = Vj(3)", "b = Vj(1)"))
    results = {}

    def reduce(name):
        results[name] = kernel(x, x, b)

    def census_with_a_thread_beside_it():
        reduce("census")
        other = threading.Thread(target=reduce, args=("other",))
        other.start()
        other.join()

    keops_census.take_census(census_with_a_thread_beside_it)
    assert torch.equal(results["census"], torch.ones_like(dense))  # the stand-in's values
    assert torch.allclose(results["other"], dense, rtol=1e-10)
    assert torch.allclose(kernel(x, x, b), dense, rtol=1e-10)  # and this thread again, once the census is over


def test_a_computation_that_fails_on_stand_in_values_ends_the_census_with_its_reason():
    def fails():
        raise np.linalg.LinAlgError("singular matrix")

    census = keops_census.take_census(fails)
    assert census.stopped_by == "LinAlgError: singular matrix" and census.used == []


def test_compilations_are_numbered_against_the_census():
    count = warmup.CompileCount(2)
    assert [count.start() for _ in range(3)] == [(1, 2), (2, 2), (3, 3)]  # more than counted: n follows k
    unknown = warmup.CompileCount(None)
    assert unknown.start() == (1, 0) and warmup.CompileCount.words(1, 0) == "formula 1"
    assert warmup.CompileCount.words(2, 5) == "formula 2 of 5"


def test_pykeops_own_calls_on_its_binder_reach_the_real_one():
    """pykeops resets its binder's library when the build folder changes (shapeviewer's GIL-releasing
    bindings do that on first use): a census taken before that first use used to end with AttributeError."""
    from pykeops.common.keops_io import keops_binder

    assert keops_census.install()
    binder = keops_binder["cpp"]
    assert binder.reset == binder.real.reset and binder.library is binder.real.library


def test_the_census_of_a_single_step_run_lists_what_its_second_evaluation_compiles(human, monkeypatch):
    """One time step: the backward's warm start first exists in the second evaluation, and with it the fused
    reduction that carries its product; the census must count that formula before the run compiles it."""
    monkeypatch.setattr(backends, "OPERATOR_DENSE_BYTES", 0)  # K_q as KeOps, as for ~8k control points
    model = ModelSettings(dtype="float64", backend="keops", control_points=40, steps=1)
    settings = RegistrationSettings(model=model)
    source, target = (human.vertices, human.faces), (bent(human.vertices), human.faces)
    census = keops_census.take_census(lambda: warmup.warm_formulas(source, target, settings))
    seen = real_formulas(monkeypatch)
    reg = Registration(source, target, settings)
    for _ in range(3):  # the run's first evaluations, each from a changed p0
        z = (reg.z.detach() + 1e-3).requires_grad_(True)
        torch.autograd.grad(reg.evaluate(z, True)[0], z)
    assert set(seen) <= set(census.used)
