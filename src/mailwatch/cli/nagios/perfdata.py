"""Performance data as the Monitoring Plugins guidelines define it:
``'label'=value[UOM];[warn];[crit];[min];[max]``, in plain decimals."""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal

PLACES = 6
"""Decimals kept: a microsecond for seconds, far below what any figure needs elsewhere."""


def plain(value: float) -> str:
    """A number as graphers read it: ``0.000082``, never ``8.2e-05``; ``3``, not ``3.0``."""
    if not math.isfinite(value):
        raise ValueError(f"{value!r} has no plain decimal form")
    text = format(Decimal(repr(round(float(value), PLACES))), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def uom_for(metric: str) -> str:
    """The unit of a metric, read from its name: ``_s`` seconds, ``_bytes`` bytes, ``_percent``;
    rates (``_per_s``, ``_per_min``) and counts have none (the guidelines have no unit for
    them, and ``c`` is only for counters that never go down)."""
    if metric.endswith(("_per_s", "_per_min")):
        return ""
    if metric.endswith("_s"):
        return "s"
    if metric.endswith("_bytes"):
        return "B"
    if metric.endswith("_percent"):
        return "%"
    return ""


@dataclass(frozen=True, slots=True)
class Levels:
    """A figure's warning and critical levels as plugin ranges (``"85"``: alert above 85;
    ``"21:"``: alert below 21; ``"~:10"``: above 10, no floor), and its possible span."""

    warning: str = ""
    critical: str = ""
    minimum: float | None = None
    maximum: float | None = None


def ceiling(level: float | None, *, may_be_negative: bool = False) -> str:
    """A range that alerts above ``level`` (an empty string when the level is off)."""
    if level is None:
        return ""
    return f"~:{plain(level)}" if may_be_negative else plain(level)


def floor(level: float | None) -> str:
    """A range that alerts below ``level``."""
    return "" if level is None else f"{plain(level)}:"


@dataclass(frozen=True, slots=True)
class Perfdatum:
    label: str
    value: float
    uom: str = ""
    levels: Levels = Levels()

    def render(self) -> str:
        """``'a.latency_s'=0.42s;30;90;0`` (trailing empty fields left out)."""
        label = self.label.replace("'", "_").replace("=", "_")
        fields = [
            f"{plain(self.value)}{self.uom}",
            self.levels.warning,
            self.levels.critical,
            "" if self.levels.minimum is None else plain(self.levels.minimum),
            "" if self.levels.maximum is None else plain(self.levels.maximum),
        ]
        while fields[-1] == "":
            fields.pop()
        return f"'{label}'=" + ";".join(fields)
