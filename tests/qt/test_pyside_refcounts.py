"""Guards against a Qt binding that corrupts reference counts (PySide6 6.12.0 aborts the app that way)."""

import sys

from PySide6.QtCore import QTimer


def test_timer_driven_slots_keep_none_alive(qapp):
    calls = []
    timer = QTimer()
    timer.setInterval(0)
    timer.timeout.connect(lambda: calls.append(1))
    before = sys.getrefcount(None)
    timer.start()
    while len(calls) < 300:
        qapp.processEvents()
    timer.stop()
    # each call of a slot returns None; a binding that forgets the matching reference loses one per call
    assert sys.getrefcount(None) - before > -100, "the Qt binding drops references to None: pin another PySide6"
