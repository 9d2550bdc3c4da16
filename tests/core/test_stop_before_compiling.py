"""Stop during a first run: the registration ends before its next KeOps compilation (seconds each on a CPU),
not after all those left (the notices of core.keops_compile, simulated here)."""

import threading

import pytest

from shapeviewer.core import keops_compile
from shapeviewer.core.model import ModelSettings
from shapeviewer.core.registration import Registration, RegistrationSettings
from shapeviewer.core.shooting import ShootingCancelled
from tests.core.test_registration import deformed_copy


def test_a_stop_raises_before_the_next_compilation_of_its_thread_only():
    heard, stop, other = [], threading.Event(), []
    listening = keops_compile.compile_notices(lambda k, phase: heard.append(phase))
    with listening, keops_compile.stop_before_compiling(stop.is_set):
        keops_compile._notify("start")
        keops_compile._notify("end")
        stop.set()
        thread = threading.Thread(target=lambda: other.append(keops_compile._notify("start")))
        thread.start()
        thread.join()
        with pytest.raises(ShootingCancelled):
            keops_compile._notify("start")
    assert other == [None]  # another thread compiles on
    assert heard == ["start", "end", "start"]  # the stopped compilation was never announced


def test_stop_during_a_compilation_ends_the_run_before_the_next_one(human, monkeypatch):
    """Each evaluation 'compiles' two formulas; Stop is pressed during the third compilation (iteration 1's
    evaluation): the fourth never starts, and the run ends cancelled with its best state."""
    settings = RegistrationSettings(model=ModelSettings(backend="torch", steps=3), iterations=30, tolerance=0)
    reg = Registration((human.vertices, human.faces), deformed_copy(human), settings)
    real_evaluate = reg.evaluate
    stop, started_after_stop = threading.Event(), []

    def compiling_evaluate(*args, **kwargs):
        for _ in range(2):
            keops_compile._notify("start")
            started_after_stop.append(stop.is_set())
            if len(started_after_stop) == 3:
                stop.set()  # pressed while this formula compiles
            keops_compile._notify("end")
        return real_evaluate(*args, **kwargs)

    monkeypatch.setattr(reg, "evaluate", compiling_evaluate)
    final = list(reg.run(should_stop=stop.is_set))[-1]
    assert final.status == "cancelled" and final.iteration == 0
    assert started_after_stop == [False, False, False]
    keops_compile._notify("start")  # after the run, nothing stops this thread's compilations
