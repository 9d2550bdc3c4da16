"""KeOps against dense torch (property 1), and the fallback when KeOps fails."""

import time

import pytest
import torch

from shapeviewer.core import backends
from shapeviewer.core.backends import kernel_product, resolve_backend
from shapeviewer.core.cometrics import NormalizedCometric
from shapeviewer.core.kernels import parse_kernel
from shapeviewer.core.shooting import shoot
from shapeviewer.core.sinkhorn import SinkhornSettings
from tests.conftest import random_cloud

ALL_PROFILES = "1 + 0.5*gaussian(0.6) + cauchy(0.5) + laplacian(0.7) + inverse_multiquadric(0.4)"

pytestmark = pytest.mark.keops


@pytest.fixture(autouse=True)
def need_keops():
    if not backends.keops_usable():
        pytest.skip("KeOps is not installed or cannot compile here")


@pytest.mark.parametrize("dtype, rtol", [(torch.float32, 1e-5), (torch.float64, 1e-10)])
def test_keops_and_dense_agree(dtype, rtol):
    kernel = parse_kernel(ALL_PROFILES)
    x, y = random_cloud(300, dtype, 1), random_cloud(200, dtype, 2)
    b = random_cloud(200, dtype, 3)
    dense = kernel_product(kernel, x, y, b, "torch")
    lazy = kernel_product(kernel, x, y, b, "keops")
    assert torch.allclose(lazy, dense, rtol=rtol, atol=rtol * float(dense.abs().max()))


def test_keops_normalized_shooting_matches_dense():
    kernel = parse_kernel("cauchy(0.8)")
    q, p = random_cloud(120, seed=4), 0.1 * random_cloud(120, seed=5)
    mu = torch.rand(120, dtype=torch.float64, generator=torch.Generator().manual_seed(6)) + 0.1
    ends = {}
    for backend in ("torch", "keops"):
        cometric = NormalizedCometric(kernel, backend, mu, SinkhornSettings(tol=1e-12))
        ends[backend] = shoot(cometric, q, p, steps=3, integrator="euler", create_graph=False).q[-1]
    assert torch.allclose(ends["keops"], ends["torch"], rtol=1e-9, atol=1e-10)


def test_failing_keops_falls_back_to_dense_with_a_warning(monkeypatch):
    def broken(*args):
        raise RuntimeError("simulated compiler failure")

    monkeypatch.setattr(backends, "_keops_product", broken)
    monkeypatch.setattr(backends, "_keops_broken", None)
    kernel = parse_kernel("gaussian(0.5)")
    x = random_cloud(30)
    with pytest.warns(UserWarning, match="KeOps failed"):
        out = kernel_product(kernel, x, x, x, "keops")
    assert torch.allclose(out, kernel_product(kernel, x, x, x, "torch"))
    assert resolve_backend("auto", 10**5, 10**5) == "torch"


@pytest.mark.parametrize("dtype, rtol", [(torch.float32, 1e-5), (torch.float64, 1e-10)])
def test_keops_and_dense_agree_on_a_cloud_against_itself(dtype, rtol):
    kernel = parse_kernel(ALL_PROFILES)
    x = 3.0 * random_cloud(400, dtype, 8) + 2.0  # off-centre: rounding in |x|^2 + |y|^2 - 2xy shows
    b = random_cloud(400, dtype, 9)
    dense, lazy = kernel_product(kernel, x, x, b, "torch"), kernel_product(kernel, x, x, b, "keops")
    assert float((dense - lazy).abs().max() / dense.abs().max()) < rtol


@pytest.mark.keops
def test_keops_reductions_let_other_threads_run():
    """A long KeOps CPU reduction in one thread must not freeze another (the GUI) for its whole length."""
    import threading
    import time

    from shapeviewer.core import backends
    from shapeviewer.core.kernels import parse_kernel

    kernel = parse_kernel("cauchy(0.5)")
    x = torch.randn(12000, 3)
    backends.kernel_product(kernel, x, x, x, "keops")  # compiled and loaded
    beats, done = [], threading.Event()

    def heartbeat():
        while not done.is_set():
            beats.append(time.perf_counter())
            time.sleep(0.002)

    thread = threading.Thread(target=heartbeat)
    thread.start()
    start = time.perf_counter()
    for _ in range(3):
        backends.kernel_product(kernel, x, x, x, "keops")
    one_call = (time.perf_counter() - start) / 3
    done.set()
    thread.join()
    assert one_call > 0.05  # long enough for the test to mean something
    assert max(b - a for a, b in zip(beats, beats[1:], strict=False)) < 0.5 * one_call


def test_a_formula_compiled_for_the_cpu_is_announced(monkeypatch):
    """Listeners hear start and end around a compilation, and nothing for a formula already built."""
    from pykeops.torch import Genred

    from shapeviewer.core import keops_compile

    monkeypatch.setattr(keops_compile, "_library_exists", lambda _path: False)  # as on a first run
    heard = []
    x = random_cloud(20, torch.float64, 7)
    with keops_compile.compile_notices(lambda k, phase: heard.append((k, phase))):
        reduce = Genred("Sum(Square(x-y))*b", ["x = Vi(3)", "y = Vj(3)", "b = Vj(1)"], axis=1)
        reduce(x, x, torch.ones(20, 1, dtype=torch.float64))
    k = keops_compile.compiled_count()
    assert heard == [(k, "start"), (k, "end")]
    heard.clear()
    reduce(x, x, torch.ones(20, 1, dtype=torch.float64))
    assert heard == []  # the same formula again: nothing to compile, nothing said


def test_two_threads_asking_for_one_new_formula_compile_it_once(monkeypatch):
    """The app's background warm-up and a run may ask for the same formula together: the second waits for the
    first's compilation, then finds the library built (two compilations of one formula break the cache)."""
    import threading

    from pykeops.common.keops_io.LoadKeOps_cpp import LoadKeOps_cpp as loaded
    from pykeops.torch import Genred

    from shapeviewer.core import keops_compile

    built = threading.Event()
    monkeypatch.setattr(keops_compile, "_library_exists", lambda _path: built.is_set())
    monkeypatch.setattr(loaded, "library", {})  # as in a fresh process: this formula not loaded yet
    monkeypatch.setattr(loaded, "library_params", {}, raising=False)
    heard = []

    def listener(k, phase):
        heard.append(phase)
        if phase == "start":
            time.sleep(0.3)  # compiling: the other thread arrives meanwhile
        else:
            built.set()

    x = random_cloud(20, torch.float64, 8)

    results, errors = [], []

    def reduce():
        try:
            genred = Genred("Sum(Square(x-y))*b", ["x = Vi(3)", "y = Vj(3)", "b = Vj(1)"], axis=1)
            results.append(genred(x, x, torch.ones(20, 1).double()))
        except Exception as exc:  # noqa: BLE001  asserted below
            errors.append(exc)

    with keops_compile.compile_notices(listener):
        threads = [threading.Thread(target=reduce) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    assert errors == [] and len(results) == 2 and torch.equal(results[0], results[1])
    assert heard == ["start", "end"]
