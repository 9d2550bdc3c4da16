"""Packaging checks. The slow ones carry markers and are deselected (not skipped) unless asked for:
``packaging`` (build.sh builds the .deb: minutes) with SHAPEVIEWER_PACKAGING=1, which CI sets;
``packaging_install`` (installs the .deb with dpkg, runs it, removes it; root) with SHAPEVIEWER_PACKAGING_INSTALL=1."""

from __future__ import annotations

import os

GATES = {"packaging": "SHAPEVIEWER_PACKAGING", "packaging_install": "SHAPEVIEWER_PACKAGING_INSTALL"}


def pytest_configure(config):
    config.addinivalue_line("markers", "packaging: builds the .deb (minutes); runs with SHAPEVIEWER_PACKAGING=1")
    config.addinivalue_line(
        "markers", "packaging_install: installs the built .deb with dpkg; runs with SHAPEVIEWER_PACKAGING_INSTALL=1"
    )


def pytest_collection_modifyitems(config, items):
    def wanted(item) -> bool:
        return all(os.environ.get(env) == "1" for marker, env in GATES.items() if item.get_closest_marker(marker))

    left_out = [item for item in items if not wanted(item)]
    if left_out:
        config.hook.pytest_deselected(items=left_out)
        items[:] = [item for item in items if wanted(item)]
