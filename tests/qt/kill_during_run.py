"""Helper process for test_robustness: opens a pair, edits, starts a long run, autosaves mid-run, then
waits to be killed (prints 'autosaved' when the recovery file is written)."""

import sys
import time
from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication

recovery, source, target, settings_dir = (Path(a) for a in sys.argv[1:5])
QSettings.setPath(QSettings.Format.NativeFormat, QSettings.Scope.UserScope, str(settings_dir))
app = QApplication([])
from shapeviewer.qt.main_window import MainWindow  # noqa: E402

window = MainWindow()
window.session.recovery_path = recovery
window.show()
window.load_pair(source, target)
window.parameters.kernel.set_spec("laplacian(0.8)")
window.parameters.iterations.setValue(100_000)
window.parameters.steps.setValue(20)
window.parameters.tolerance.setCurrentText("0")
window.parameters.backend.setCurrentText("torch")
window.start_run()
deadline = time.time() + 60
while window.doc.result is None and time.time() < deadline:
    app.processEvents()
    time.sleep(0.01)
window.session.autosave(wait=True)
print("autosaved" if recovery.exists() else "no recovery file", flush=True)
while True:  # running, until killed
    app.processEvents()
    time.sleep(0.01)
