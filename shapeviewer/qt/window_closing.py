"""What closing the main window does: nothing unsaved lost, work in progress ended first, then the views go."""

from __future__ import annotations

from . import settings_store
from .batch_quitting import close_running_batches
from .busy import busy_cursor
from .mesh_views import release_view


def may_close(window) -> bool:
    """Asks about unsaved work and ends the background work; False (the window stays) when the user cancels
    or a registration does not stop."""
    if window.isWindowModified() and window.doc.ready:
        choice = window.ask_unsaved()
        if choice == "cancel" or (choice == "save" and not window.session.save()):
            return False
    if not close_running_batches(window):
        return False
    window._waiting_job = None  # a run queued behind the warm-up must not start once the window has closed
    if window.warmup.busy:  # a KeOps compilation in progress ends first (a cut one would leave a broken cache)
        window.status_line.setText("Finishing a KeOps compilation before quitting (a few seconds)…")
        window.status_line.repaint()
    with busy_cursor():
        window.warmup.shutdown()  # and none starts after the window has closed
    if window.run.running:  # a large level ends its KeOps reduction first: seconds
        window.status_line.setText("Stopping the registration before quitting (a few seconds on a large mesh)…")
        window.status_line.repaint()  # drawn now: the wait below holds this thread
    with busy_cursor():
        stopped = window.run.shutdown(15_000)
    if not stopped:
        window.warmup.closed = False  # the window stays
        window.show_error("Still running", "The registration did not stop within 15 s; try quitting again.")
        return False
    return True


def release(window) -> None:
    """The window is closing: its layout is remembered, its document heard by no view, its views closed."""
    window.playback.pause()
    s = settings_store.app_settings()
    s.setValue("geometry", window.saveGeometry())
    s.setValue("windowState", window.saveState())
    window.doc.mute()  # what arrives late (a worker's answer) must not reach the closed views
    for view in (window.inputs.view, window.result.view):
        release_view(view)
    window.session.discard_recovery()  # a clean exit: nothing to recover next time
    window.warnings.uninstall()
