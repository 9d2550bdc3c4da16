"""The app's inspection tools, installed into a MainWindow: the surface distance map (result view colours and
the Distances tab), the tracked point and the layers list (Display tab). Afterwards the window has
``distances`` (DistanceMap), ``distances_panel``, ``correspondence`` and ``layers`` (see qt/layers.py)."""

from __future__ import annotations

from .correspondence import Correspondence
from .distance_map import DistanceMap
from .distance_panel import DistancesPanel
from .layers import install_layers


def install_inspection(window) -> None:
    """Call once the window's document, views, playback, Display tab and bottom tabs exist."""
    window.distances = DistanceMap(window)
    window.distances_panel = DistancesPanel(window.distances)
    window.bottom_tabs.addTab(window.distances_panel, "Distances")
    window.correspondence = Correspondence(window)
    window.display.add_section(window.correspondence.panel)
    install_layers(window)
    window.distances.schedule()
