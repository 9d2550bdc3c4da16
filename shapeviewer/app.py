"""What plain ``shapeviewer`` starts: the desktop app once it exists, until then a demo registration."""

from __future__ import annotations


def launch_default() -> int:
    from .cli import main

    print("shapeviewer: the desktop window is not built yet; running the command-line demo registration")
    return main(["demo"])
