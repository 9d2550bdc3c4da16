"""Quitting while batches started from the app run: ask, then stop them as their Cancel does and wait for
each command to end (and write its summary), so that no batch dies half-written with the window."""

from __future__ import annotations

import time

from PySide6.QtCore import QCoreApplication, QEventLoop
from PySide6.QtWidgets import QMessageBox

from .batch_launcher import BatchRunDialog
from .busy import busy_cursor

QUIT_WAIT_SECONDS = 30.0


def running_batches(parent) -> list[BatchRunDialog]:
    return [run for run in parent.findChildren(BatchRunDialog) if run.running()]


def ask_stop_and_quit(parent, text: str) -> bool:
    """The blocking question before quitting (tests replace it with their answer)."""
    box = QMessageBox(QMessageBox.Icon.Question, "A batch is running", text, QMessageBox.StandardButton.NoButton,
                      parent)  # fmt: skip
    stop = box.addButton("Stop and quit", QMessageBox.ButtonRole.DestructiveRole)
    box.addButton(QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(QMessageBox.StandardButton.Cancel)
    box.exec()
    return box.clickedButton() is stop


def _running_text(runs: list[BatchRunDialog]) -> str:
    done = sum(run.jobs_done for run in runs)
    total = sum(run.jobs_total or run.request.job_count() for run in runs)
    what = "A batch is running" if len(runs) == 1 else f"{len(runs)} batches are running"
    return f"{what} ({done} of {total} jobs done). Stop it and quit? Finished jobs are kept."


def close_running_batches(parent, wait_seconds: float = QUIT_WAIT_SECONDS) -> bool:
    """Before the window closes: True at once when no batch started from the app runs; else, once the user
    agreed, cancels them as Cancel does and waits until each command has ended (and written its summary).
    False when the user declined or a command did not end in time."""
    runs = running_batches(parent)
    if not runs:
        return True
    if not ask_stop_and_quit(parent, _running_text(runs)):
        return False
    deadline = time.monotonic() + wait_seconds
    with busy_cursor():
        for run in runs:
            run.quitting = True
            run.cancel()
        while any(run.running() for run in runs) and time.monotonic() < deadline:
            QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.ExcludeUserInputEvents, 100)
            time.sleep(0.02)
    ended = not any(run.running() for run in runs)
    if not ended:
        for run in runs:
            run.quitting = False
        parent.show_error("The batch did not stop", f"it still runs after {wait_seconds:.0f} s; try again, or "
                          "wait for its running jobs to end")  # fmt: skip
    return ended
