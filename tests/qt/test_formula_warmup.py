"""KeOps formulas compile in the background once meshes and settings are known; a Run pressed meanwhile
stops the warm-up and starts at once, or, while a formula is being compiled, right after it."""

import re
import threading
import time

from gui_helpers import quick_settings

from shapeviewer.core import keops_compile
from shapeviewer.core.keops_census import Census
from shapeviewer.qt import formula_warmup


def census_finding(n: int) -> Census:
    """A whole census that found n formulas to compile."""
    return Census(used=[f"formula {k}" for k in range(n)], missing=[f"formula {k}" for k in range(n)])


def test_the_formulas_of_a_keops_run_are_compiled_before_run_is_pressed(window, qtbot, monkeypatch):
    """The real warm-up runs once the settings settle; its compilations are counted first and announced as
    "k of n" with a progress bar (two compilations simulated here, and a census that found them: formulas
    this test process already loaded would not compile again)."""
    real = formula_warmup.warm_formulas

    def compiling_warm_up(*args):
        for _ in range(2):
            with keops_compile._lock:
                keops_compile._compiled += 1
            keops_compile._notify("start")
            keops_compile._notify("end")
        real(*args)

    monkeypatch.setattr(formula_warmup, "warm_formulas", compiling_warm_up)
    monkeypatch.setattr(formula_warmup, "first_level_census", lambda *args: census_finding(2))
    shown = []
    window.warmup.progress.connect(lambda *args: shown.append(window.progress.text()))
    window.warmup.timer.setInterval(50)
    quick_settings(window, iterations=2, steps=3)
    window.parameters.backend.setCurrentText("keops")  # the settings settle, then the warm-up starts
    assert window.warmup.run_may_compile()  # a run now would count its formulas first
    qtbot.waitUntil(lambda: window.warmup.busy, timeout=10_000)
    qtbot.waitUntil(lambda: not window.warmup.busy, timeout=120_000)
    log = window.log_panel.toPlainText()
    assert "Compiling KeOps formula 1 of 2 in the background for the coming run" in log
    assert "formula 2 of 2 in the background" in log and "KeOps formulas ready (2 compiled" in log
    assert shown[:4] == ["compiling formula 1 of 2", "compiled formula 1 of 2", "compiling formula 2 of 2",
                         "compiled formula 2 of 2"]  # fmt: skip
    assert window.progress.text() == "KeOps formulas ready"
    assert not window.warmup.start()  # the same structure is not warmed twice
    assert not window.warmup.run_may_compile()  # nor counted again by the run


def test_a_warm_up_whose_census_finds_nothing_to_compile_evaluates_nothing(window, qtbot, monkeypatch):
    """Formulas all on disk (the usual case after a first run): the warm-up ends with its census, instead of
    setting up and evaluating the first level, which a Run pressed meanwhile waited for (minutes at 200k)."""
    evaluated = []
    monkeypatch.setattr(formula_warmup, "will_use_keops", lambda *args: True)
    monkeypatch.setattr(formula_warmup, "first_level_census", lambda *args: census_finding(0))
    monkeypatch.setattr(formula_warmup, "warm_formulas", lambda *args: evaluated.append(args))
    assert window.warmup.start()
    qtbot.waitUntil(lambda: not window.warmup.busy, timeout=10_000)
    assert evaluated == [] and not window.warmup.run_may_compile()
    stopped = Census(used=["formula 0"], stopped_by="FloatingPointError: stand-in numbers")
    monkeypatch.setattr(formula_warmup, "first_level_census", lambda *args: stopped)  # a census cut short
    window.warmup.warmed.clear()  # as for another structure
    window.warmup.completed.clear()
    assert window.warmup.start()
    qtbot.waitUntil(lambda: not window.warmup.busy, timeout=10_000)
    assert len(evaluated) == 1  # may have missed formulas after its stop: evaluates


def compiling_until(release: threading.Event):
    """A warm-up that is compiling a formula until ``release`` is set."""

    def warm(*args):
        keops_compile._notify("start")
        release.wait(30)
        keops_compile._notify("end")

    return warm


def test_run_pressed_while_the_warm_up_compiles_starts_when_it_ends(window, qtbot, monkeypatch):
    release = threading.Event()
    monkeypatch.setattr(formula_warmup, "will_use_keops", lambda *args: True)
    monkeypatch.setattr(formula_warmup, "first_level_census", lambda *args: census_finding(1))
    monkeypatch.setattr(formula_warmup, "warm_formulas", compiling_until(release))
    quick_settings(window, iterations=2, steps=3)
    assert window.warmup.start() and window.warmup.busy
    qtbot.waitUntil(lambda: window.warmup.compiling, timeout=10_000)
    window.start_run()
    assert not window.run.running and "the run starts next" in window.status_line.text()
    assert window.stop_button.isEnabled() and not window.run_button.isEnabled()  # waiting: Stop drops it
    assert not window.parameters.isEnabled()  # the queued run's settings cannot change under it
    qtbot.wait(1000)
    release.set()
    qtbot.waitUntil(lambda: window.run.running or window.run.final is not None, timeout=10_000)
    qtbot.waitUntil(lambda: not window.run.running, timeout=60_000)
    assert window.run.final.status in ("finished", "converged")
    logged = re.search(r"([\d.]+) s \(([\d.]+) s optimising\)", window.log_panel.toPlainText())
    assert float(logged.group(1)) >= float(logged.group(2)) + 0.9  # the wait for the warm-up counted


def test_run_pressed_while_the_warm_up_only_counts_or_sets_up_starts_at_once(window, qtbot, monkeypatch):
    """The census and the set-up of a 50k pair took 35-68 s of a busy machine, compiling nothing: a Run waited
    for all of it. Now the warm-up stops (the census at its next time step) and the run starts."""
    stops = []

    def slow_census(*args):
        should_stop = args[4]
        while not should_stop():  # counting, as on a large pair
            time.sleep(0.01)
        stops.append(True)
        return census_finding(1)

    monkeypatch.setattr(formula_warmup, "will_use_keops", lambda *args: True)
    monkeypatch.setattr(formula_warmup, "first_level_census", slow_census)
    monkeypatch.setattr(formula_warmup, "warm_formulas", lambda *args: stops.append("compiled"))
    quick_settings(window, iterations=2, steps=3)
    assert window.warmup.start() and window.warmup.busy
    window.start_run()
    assert window.run.running and "the run starts next" not in window.status_line.text()
    qtbot.waitUntil(lambda: not window.warmup.busy, timeout=10_000)
    assert stops == [True]  # it stopped, and evaluated nothing after its census
    qtbot.waitUntil(lambda: not window.run.running, timeout=60_000)
    assert window.run.final.status in ("finished", "converged")


def test_stop_drops_a_run_queued_behind_the_warm_up(window, qtbot, monkeypatch):
    release = threading.Event()
    monkeypatch.setattr(formula_warmup, "will_use_keops", lambda *args: True)
    monkeypatch.setattr(formula_warmup, "first_level_census", lambda *args: census_finding(1))
    monkeypatch.setattr(formula_warmup, "warm_formulas", compiling_until(release))
    quick_settings(window, iterations=2, steps=3)
    assert window.warmup.start()
    qtbot.waitUntil(lambda: window.warmup.compiling, timeout=10_000)
    window.start_run()
    window.stop_button.click()
    assert "cancelled before it started" in window.status_line.text() and window.run_button.isEnabled()
    release.set()
    qtbot.waitUntil(lambda: not window.warmup.busy, timeout=10_000)
    assert not window.run.running and window.run.final is None  # nothing started after all


def test_a_closed_window_waits_for_its_warm_up_and_starts_no_other(window, qtbot, monkeypatch):
    """A warm-up thread left running, or started by a timer after its window closed, was still in C++ when
    the process exited: 'terminate called without an active exception', Aborted."""
    release, calls = threading.Event(), []
    monkeypatch.setattr(formula_warmup, "will_use_keops", lambda *args: True)
    monkeypatch.setattr(formula_warmup, "first_level_census", lambda *args: census_finding(1))

    def warm(*args):
        calls.append(args)
        release.wait(30)

    monkeypatch.setattr(formula_warmup, "warm_formulas", warm)
    window.warmup.timer.setInterval(20)
    window.parameters.landmark_weight.setValue(1.0)  # with paired landmarks the warm-up runs without them
    window.doc.landmarks.add("source", window.doc.meshes["source"].vertices[0])
    window.doc.landmarks.add("target", window.doc.meshes["target"].vertices[0])
    window.parameters.steps.setValue(7)
    qtbot.waitUntil(lambda: window.warmup.busy, timeout=10_000)
    assert calls[0][2].landmark_weight == 0.0
    threading.Timer(0.3, release.set).start()
    window.close()
    assert not window.warmup.busy or not window.warmup.thread.is_alive()
    window.warmup.schedule()
    qtbot.wait(200)
    assert len(calls) == 1 and not window.warmup.start()


def compiling_one_by_one(compiled: list, calls: list):
    """A warm-up whose five 'compilations' take 0.3 s each (the notices that core.keops_compile sends)."""

    def warm(source, target, settings, mask, should_stop=None):
        calls.append(settings)
        for _ in range(5):
            keops_compile._notify("start")  # the warm-up's listener raises here once it is asked to stop
            time.sleep(0.3)
            keops_compile._notify("end")
            compiled.append(settings.model.cometric)

    return warm


def test_a_run_pressed_during_the_warm_up_waits_for_one_compilation_not_all(window, qtbot, monkeypatch):
    compiled, calls = [], []
    monkeypatch.setattr(formula_warmup, "will_use_keops", lambda *args: True)
    monkeypatch.setattr(formula_warmup, "first_level_census", lambda *args: census_finding(5))
    monkeypatch.setattr(formula_warmup, "warm_formulas", compiling_one_by_one(compiled, calls))
    quick_settings(window, iterations=2, steps=3)
    assert window.warmup.start()
    qtbot.waitUntil(lambda: len(compiled) >= 1, timeout=10_000)
    window.start_run()
    assert "the run starts next" in window.status_line.text()
    qtbot.waitUntil(lambda: window.run.running or window.run.final is not None, timeout=10_000)
    assert len(compiled) <= 2  # the formula being compiled ended; the next three were left to the run
    qtbot.waitUntil(lambda: not window.run.running, timeout=60_000)
    assert window.run.final.status in ("finished", "converged")
    assert window.warmup.run_may_compile()  # the interrupted structure is not taken for warmed


def test_new_settings_stop_a_warm_up_for_the_old_ones(window, qtbot, monkeypatch):
    compiled, calls = [], []
    monkeypatch.setattr(formula_warmup, "will_use_keops", lambda *args: True)
    monkeypatch.setattr(formula_warmup, "first_level_census", lambda *args: census_finding(5))
    monkeypatch.setattr(formula_warmup, "warm_formulas", compiling_one_by_one(compiled, calls))
    window.warmup.timer.setInterval(50)
    quick_settings(window, iterations=2, steps=3)
    qtbot.waitUntil(lambda: len(compiled) >= 1, timeout=10_000)
    assert calls[0].model.cometric == "normalized"
    window.parameters.cometric.setCurrentText("lddmm")  # other formulas: the running warm-up is stale
    qtbot.waitUntil(lambda: len(calls) == 2, timeout=10_000)
    assert calls[1].model.cometric == "lddmm" and compiled.count("normalized") <= 2
    log = window.log_panel.toPlainText()
    assert "Settings changed: the background compilation stops" in log
    assert "Background compilation stopped for the changed settings" in log  # not left saying "stops"
    qtbot.waitUntil(lambda: not window.warmup.busy, timeout=10_000)
    assert compiled.count("lddmm") == 5 and "KeOps formulas ready (5 compiled" in window.log_panel.toPlainText()
