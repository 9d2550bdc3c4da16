"""A KeOps failure at any point (while setting up, in a backward pass) falls back to dense reductions with
one warning, or stops with one line when dense reductions cannot fit in memory.

The failures are raised from a module named like pykeops' own (what a missing compiler or a corrupt cache
raises there), so that no formula has to be broken for real.
"""

import types
import warnings

import numpy as np
import pytest
import torch

from shapeviewer.core import backends, dense_fallback
from shapeviewer.core.backends import BackendError
from shapeviewer.core.fidelity import Fidelity
from shapeviewer.core.registration import Registration, RegistrationSettings
from tests.core.test_registration import deformed_copy
from tests.core.test_registration import settings as model_settings

KEOPS_LIKE = types.ModuleType("pykeops.common.keops_io.simulated")
exec(  # noqa: S102 (a module whose frames look like pykeops' own)
    "def fail():\n    raise ImportError('simulated: libKeOps.so: cannot open shared object file (no compiler)')\n",
    KEOPS_LIKE.__dict__,
)


@pytest.fixture(autouse=True)
def keops_state(monkeypatch):
    monkeypatch.setattr(backends, "_keops_broken", None)  # restored afterwards: other tests keep KeOps


class _FailOnceBackward(torch.autograd.Function):
    armed = True

    @staticmethod
    def forward(ctx, x):
        return x.clone()

    @staticmethod
    def backward(ctx, grad):
        if _FailOnceBackward.armed:
            _FailOnceBackward.armed = False
            KEOPS_LIKE.fail()
        return grad


def settings(iterations: int) -> RegistrationSettings:
    s = model_settings(backend="torch")  # nothing compiles: the failures are simulated
    s.iterations = iterations
    return s


def _run(reg):
    return list(reg.run())[-1]


def test_a_failure_in_the_backward_pass_goes_on_dense_with_one_warning(human, monkeypatch):
    original = Fidelity.__call__
    monkeypatch.setattr(Fidelity, "__call__", lambda self, x, *stop: original(self, _FailOnceBackward.apply(x), *stop))
    _FailOnceBackward.armed = True
    reg = Registration((human.vertices, human.faces), deformed_copy(human), settings(iterations=3))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        final = _run(reg)
    assert final.status in ("finished", "converged") and final.iteration >= 1
    notices = [w for w in caught if "KeOps failed" in str(w.message)]
    assert len(notices) == 1 and "dense" in str(notices[0].message) and "no compiler" in str(notices[0].message)
    assert reg.backend_fallback and not backends.keops_usable()
    assert reg.model.backend == "torch" and reg.level.fidelity.backend == "torch"


def fail_first_fidelity_set_up(monkeypatch) -> None:
    """The first Fidelity built fails as KeOps does without a compiler; later ones work."""
    original, calls = Fidelity.__init__, []

    def first_fails(self, *args):
        calls.append(1)
        if len(calls) == 1:
            KEOPS_LIKE.fail()
        original(self, *args)

    monkeypatch.setattr(Fidelity, "__init__", first_fails)


def test_a_failure_while_setting_up_sets_up_again_dense(human, monkeypatch):
    fail_first_fidelity_set_up(monkeypatch)
    with pytest.warns(UserWarning, match="KeOps failed .* dense"):
        reg = Registration((human.vertices, human.faces), deformed_copy(human), settings(iterations=2))
    assert reg.backend_fallback and _run(reg).status in ("finished", "converged")


def test_when_dense_cannot_fit_the_run_stops_with_one_clear_line(human, monkeypatch):
    monkeypatch.setattr(dense_fallback, "physical_memory", lambda: 2**20)  # a 1 MiB machine
    monkeypatch.setattr(Fidelity, "__init__", lambda self, *a: KEOPS_LIKE.fail())
    with pytest.raises(BackendError) as info:
        Registration((human.vertices, human.faces), deformed_copy(human), settings(iterations=2))
    message = str(info.value)
    assert "\n" not in message and "KeOps failed" in message and "dense reductions would need" in message
    assert "compiler" in message


def test_other_errors_are_not_mistaken_for_keops_failures(human, monkeypatch):
    monkeypatch.setattr(Fidelity, "__init__", lambda self, *a: np.linalg.inv(np.zeros((2, 2))))
    with pytest.raises(np.linalg.LinAlgError):
        Registration((human.vertices, human.faces), deformed_copy(human), RegistrationSettings())
    assert backends.keops_usable() or not backends.keops_importable()


def test_without_a_compiler_auto_is_dense_with_one_notice(monkeypatch):
    """Checked in a fresh interpreter: KeOps' usability is decided once per process."""
    import subprocess
    import sys

    code = (
        "import warnings; warnings.simplefilter('always')\n"
        "from shapeviewer.core.backends import resolve_backend\n"
        "print(resolve_backend('auto', 10**5, 10**5))"
    )
    env = {**__import__("os").environ, "CXX": "/nonexistent/g++", "PATH": "/nonexistent"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "torch"
    notices = [line for line in out.stderr.splitlines() if "KeOps needs a C++ compiler" in line]
    assert len(notices) == 1 and "CXX='/nonexistent/g++' is not found" in notices[0]


@pytest.mark.keops
def test_a_corrupt_keops_cache_falls_back_to_dense_with_one_notice(tmp_path):
    """A formula compiled into a fresh cache, its library then cut short: the next process loads it, fails,
    and reduces densely with one notice (the numbers stay right)."""
    import os
    import subprocess
    import sys

    if not backends.keops_importable():
        pytest.fail("KeOps must be importable for this test (the full suite runs it where g++ exists)")
    code = (
        "import warnings, torch; warnings.simplefilter('always')\n"
        "from shapeviewer.core.backends import kernel_product\n"
        "from shapeviewer.core.kernels import parse_kernel\n"
        "x = torch.linspace(0, 1, 60, dtype=torch.float64).reshape(20, 3); b = torch.ones(20, 1, dtype=torch.float64)\n"
        "k = parse_kernel('gaussian(0.7)')\n"
        "lazy, dense = kernel_product(k, x, x, b, 'keops'), kernel_product(k, x, x, b, 'torch')\n"
        "print(float((lazy - dense).abs().max()))"
    )
    env = {**os.environ, "KEOPS_CACHE_FOLDER": str(tmp_path / "cache")}
    first = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert first.returncode == 0 and float(first.stdout.split()[-1]) < 1e-9, first.stderr
    libraries = [p for p in (tmp_path / "cache").rglob("*.so")]
    assert libraries, "the formula was not compiled into the fresh cache"
    for library in libraries:
        library.write_bytes(library.read_bytes()[:100])  # a half-written cache: a crash, a full disk
    again = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert again.returncode == 0, again.stderr
    assert float(again.stdout.split()[-1]) < 1e-9  # dense numbers
    notices = [line for line in again.stderr.splitlines() if "KeOps failed" in line]
    assert len(notices) == 1 and "dense" in notices[0]
