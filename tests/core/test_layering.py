"""core/ is numbers only: no Qt, no VTK, no pyvista, neither imported nor pulled in."""

import ast
import subprocess
import sys
from pathlib import Path

import shapeviewer.core

FORBIDDEN = ("PySide6", "PyQt5", "PyQt6", "qtpy", "pyvista", "pyvistaqt", "vtk", "vtkmodules", "superqt")
CORE = Path(shapeviewer.core.__file__).parent


def test_core_sources_import_no_gui_or_vtk_package():
    offenders = []
    for path in CORE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] in FORBIDDEN]
    assert not offenders


def test_importing_the_core_loads_no_gui_or_vtk_module():
    modules = [m for m in (CORE / "").glob("*.py") if m.stem != "__init__"]
    imports = "; ".join(f"import shapeviewer.core.{m.stem}" for m in modules)
    check = f"{imports}; import sys; print(sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r}))"
    out = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_render_and_io_import_no_qt():
    """Imports flow qt -> render/document -> io -> core: render/, document/ and io/ work without a Qt binding."""
    qt = ("PySide6", "PyQt5", "PyQt6", "qtpy", "pyvistaqt", "superqt", "pyqtgraph")
    root = CORE.parent
    offenders = []
    for package in ("render", "io", "document"):
        for path in (root / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
                if isinstance(node, ast.ImportFrom) and node.module:
                    names = [node.module] if node.level == 0 else [f".{node.module}"]
                offenders += [f"{package}/{path.name}: {n}" for n in names if n.split(".")[0] in qt or ".qt" in n]
    assert not offenders
