import pytest


@pytest.fixture(autouse=True)
def private_settings(tmp_path, monkeypatch):
    """Each test gets its own QSettings store (recent files, window geometry)."""
    from PySide6.QtCore import QSettings, QStandardPaths

    QSettings.setPath(QSettings.Format.NativeFormat, QSettings.Scope.UserScope, str(tmp_path / "settings"))
    QStandardPaths.setTestModeEnabled(True)  # recovery files go to a test folder, not the user's
    yield


@pytest.fixture
def window(qtbot, small_pair):
    from shapeviewer.qt.main_window import MainWindow

    win = MainWindow()
    win.session.recovery_path = small_pair[0].parent / "recovery.svsession"
    win.ask_unsaved = lambda *_: "discard"  # tests that care replace this answer
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    assert win.load_pair(*small_pair)
    yield win
    win.run.shutdown(15_000)
