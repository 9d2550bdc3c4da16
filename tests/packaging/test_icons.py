"""Icons: the hand-written SVG and its PNG renderings at every hicolor size, each a square PNG of that size."""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.packaging.common import APP_ID, ICON_SIZES, REPO, png_size

ICONS = REPO / "resources" / "icons"


def test_svg_is_square_and_titled():
    root = ET.parse(ICONS / f"{APP_ID}.svg").getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    x, y, w, h = map(float, root.get("viewBox").split())
    assert w == h > 0
    assert root.findtext("{http://www.w3.org/2000/svg}title") == "ShapeViewer"


@pytest.mark.parametrize("size", ICON_SIZES)
def test_png_at_every_hicolor_size(size):
    path = ICONS / "hicolor" / f"{size}x{size}" / "apps" / f"{APP_ID}.png"
    assert path.is_file(), f"missing {path.relative_to(REPO)}: run packaging/render_icons.py"
    assert png_size(path) == (size, size)


def test_no_stray_icon_sizes():
    sizes = sorted(int(p.name.split("x")[0]) for p in (ICONS / "hicolor").iterdir())
    assert sizes == sorted(ICON_SIZES)


def test_pngs_are_renderings_of_the_svg(tmp_path):
    """The PNGs in the repository match what packaging/render_icons.py makes of the SVG now (so an edited
    SVG without new PNGs fails here)."""
    pytest.importorskip("PySide6.QtSvg")
    import subprocess
    import sys

    # In a child process: a QGuiApplication made here would forbid the QApplication the GUI tests need.
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); import render_icons; from pathlib import Path\n"
        "for p in render_icons.render(out=Path(sys.argv[2])): print(p)"
    )
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    run = subprocess.run([sys.executable, "-c", code, str(REPO / "packaging"), str(tmp_path)], env=env,
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    assert run.returncode == 0, run.stderr
    from PySide6.QtGui import QImage

    for fresh in map(Path, run.stdout.split()):
        size = fresh.parent.parent.name
        kept = QImage(str(ICONS / "hicolor" / size / "apps" / fresh.name))
        new = QImage(str(fresh))
        assert kept.size() == new.size()
        diff = max(
            abs(a - b)
            for x in range(0, new.width(), max(1, new.width() // 16))
            for y in range(0, new.height(), max(1, new.height() // 16))
            for a, b in zip(kept.pixelColor(x, y).getRgb(), new.pixelColor(x, y).getRgb(), strict=True)
        )
        assert diff <= 8, f"{size}: the PNG differs from the SVG's rendering; run packaging/render_icons.py"
