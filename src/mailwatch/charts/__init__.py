"""Charts drawn on the server: a chart's data (``model``), its scales and tick labels
(``scales``) and the SVG it becomes (``svg``). Pure: no I/O, no JavaScript, no dependency.

The web's check page and the health report both draw with it, so it sits low in the layers.
"""

from __future__ import annotations

from mailwatch.charts.model import Chart, Level, Point, Series, Shade, ShadeKind, Threshold
from mailwatch.charts.svg import render_svg

__all__ = [
    "Chart",
    "Level",
    "Point",
    "Series",
    "Shade",
    "ShadeKind",
    "Threshold",
    "render_svg",
]
