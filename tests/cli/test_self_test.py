"""``shapeviewer --self-test``: a real run passes here; a broken part fails the run, named, and the rest still runs."""

import os
import subprocess
import sys

import pytest

from shapeviewer.cli import main
from shapeviewer.core.keops_compile import compiler_problem

CHECK_NAMES = ("imports", "render", "registration")


def self_test_in_process(capsys) -> tuple[int, list[str]]:
    """``shapeviewer --self-test`` through the command line's own entry point."""
    with pytest.raises(SystemExit) as exited:
        main(["--self-test"])
    return exited.value.code, capsys.readouterr().out.splitlines()


@pytest.fixture
def no_compiler(monkeypatch, tmp_path):
    """No C++ compiler to be found: the registration runs dense (no KeOps compile in these tests)."""
    monkeypatch.delenv("CXX", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))


def line_of(lines: list[str], check: str) -> str:
    found = [line for line in lines if line.split()[1:2] == [check]]
    assert len(found) == 1, lines
    return found[0]


@pytest.mark.slow
@pytest.mark.keops  # with g++, the first run on a machine compiles the registration's formulas (about a minute)
def test_self_test_passes_without_a_display():
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    run = subprocess.run(
        [sys.executable, "-m", "shapeviewer", "--self-test"], capture_output=True, text=True, env=env, timeout=600
    )
    lines = run.stdout.splitlines()
    assert run.returncode == 0, run.stdout + run.stderr
    for check in CHECK_NAMES:
        assert line_of(lines, check).split()[0] == "ok"
    assert "torch 2" in line_of(lines, "imports") and "VTK 9" in line_of(lines, "imports")
    assert "RenderWindow" in line_of(lines, "render")  # the VTK window class that drew off screen
    registration = line_of(lines, "registration")
    expected = "backend torch (dense)" if compiler_problem() else "backend keops (KeOps)"
    assert expected in registration and "device cpu" in registration
    assert lines[-1].startswith("self-test passed (3 checks")


def test_without_a_compiler_the_registration_is_dense_and_says_why(no_compiler, capsys):
    code, lines = self_test_in_process(capsys)
    assert code == 0, lines
    registration = line_of(lines, "registration")
    assert "backend torch (dense)" in registration
    assert "no C++ compiler for KeOps (no g++ on PATH and CXX is not set)" in registration
    assert lines[-1].startswith("self-test passed")


def test_a_blank_frame_fails_the_render_check_and_the_others_still_run(no_compiler, monkeypatch, capsys):
    monkeypatch.setattr("shapeviewer.render.scene.DeformationScene.__init__", lambda self, *args, **kwargs: None)
    code, lines = self_test_in_process(capsys)
    assert code == 1
    assert line_of(lines, "render").split()[0] == "FAIL"
    assert "the frame is blank" in line_of(lines, "render")
    assert line_of(lines, "imports").split()[0] == "ok" and line_of(lines, "registration").split()[0] == "ok"
    assert lines[-1].startswith("self-test failed: render: the frame is blank")
    assert not any(line.startswith("self-test passed") for line in lines)


def test_a_missing_package_fails_the_imports_check_naming_it(no_compiler, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "pyvistaqt", None)  # as if the package were not installed
    code, lines = self_test_in_process(capsys)
    assert code == 1
    imports = line_of(lines, "imports")
    assert imports.split()[0] == "FAIL" and "ModuleNotFoundError" in imports and "pyvistaqt" in imports
    assert line_of(lines, "render").split()[0] == "ok"
    assert lines[-1].startswith("self-test failed: imports: ModuleNotFoundError")
