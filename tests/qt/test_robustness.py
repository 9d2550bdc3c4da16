"""The app under stress: many start/stop cycles leave nothing behind; a kill during a run loses at most
the last minute (the autosaved session opens on the next start)."""

import os
import signal
import subprocess
import sys
from pathlib import Path

from gui_helpers import quick_settings
from PySide6.QtCore import QTimer

CYCLES = 100


def _threads() -> int:
    return len(os.listdir("/proc/self/task"))


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS in /proc/self/status")


def _cycle(window, qtbot, k: int) -> None:
    window.start_run()
    assert window.run.running
    if k % 2:  # every other run is stopped after its first report, the others at once
        qtbot.waitUntil(lambda: window.run.reports_received >= 1 or not window.run.running, timeout=30_000)
    window.run.stop()
    qtbot.waitUntil(lambda: not window.run.running, timeout=30_000)


def test_a_hundred_start_stop_cycles_leave_no_thread_timer_or_memory_behind(window, qtbot):
    quick_settings(window, iterations=100_000, steps=4)
    for k in range(10):  # warm-up: caches, first allocations
        _cycle(window, qtbot, k)
    threads, timers, rss = _threads(), len(window.findChildren(QTimer)), _rss_mb()
    for k in range(CYCLES):
        _cycle(window, qtbot, k)
    assert _threads() <= threads
    assert len(window.findChildren(QTimer)) == timers
    grown = _rss_mb() - rss
    print(f"{CYCLES} start/stop cycles: threads {threads} -> {_threads()}, timers {timers}, resident +{grown:.1f} MB")
    assert grown < 40, f"resident memory grew by {grown:.0f} MB over {CYCLES} runs"
    assert window.run_button.isEnabled() and not window.stop_button.isEnabled()


def test_killed_during_a_run_the_next_start_offers_the_autosave_and_it_opens(window, qtbot, small_pair, tmp_path):
    from tests.qt.test_sessions import _new_window

    recovery = tmp_path / "killed-recovery.svsession"
    helper = Path(__file__).with_name("kill_during_run.py")
    args = [sys.executable, str(helper), str(recovery), *map(str, small_pair), str(tmp_path / "settings")]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        lines = []
        while not lines or lines[-1] not in ("autosaved", "no recovery file", ""):
            lines.append(proc.stdout.readline().strip())  # KeOps may print its own notices first
        assert lines[-1] == "autosaved", lines
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        proc.kill()
    fresh = _new_window(qtbot, recovery)
    assert fresh.session.offer_recovery(ask=lambda: True)
    assert fresh.parameters.kernel.text.text() == "laplacian(0.8)"
    result = fresh.doc.result
    assert result is not None and result.report.status == "interrupted"
    assert fresh.isWindowModified()
