"""The plugin's output: one status line (``MAILWATCH CRITICAL - ...``) with every figure as
perfdata after ``|``, then one line per check, worst first (the long output)."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence

from mailwatch.cli.nagios.levels import levels_for
from mailwatch.cli.nagios.lines import long_line, status_line
from mailwatch.cli.nagios.perfdata import Perfdatum, uom_for
from mailwatch.config.checks import CheckBase
from mailwatch.domain.results import CheckResult, State, worst


def plugin_output(results: Sequence[CheckResult], checks: Mapping[str, CheckBase]) -> str:
    """The whole output for ``results``; ``checks`` (by name) supply each figure's levels."""
    overall = worst(result.state for result in results)
    counts = Counter(result.state for result in results)
    tally = ", ".join(
        f"{counts[state]} {state.label}" for state in sorted(counts, key=lambda s: -s.badness)
    )
    failing = [r for r in results if r.state is not State.OK]
    shown = failing or (list(results) if len(results) == 1 else [])
    text = tally + (": " + "; ".join(f"{r.check}: {r.summary}" for r in shown) if shown else "")
    perf = " ".join(d.render() for r in results for d in perfdata(r, checks.get(r.check)))
    lines = [status_line(overall, text) + (f" | {perf}" if perf else "")]
    ordered = sorted(results, key=lambda r: (-r.state.badness, r.check))
    lines += [long_line(f"[{r.state.label.upper()}] {r.check}: {r.summary}") for r in ordered]
    return "\n".join(lines)


def perfdata(result: CheckResult, check: CheckBase | None) -> list[Perfdatum]:
    """Every figure the run measured, failed or not, and how long it took."""
    figures = {**result.metrics, "duration_s": result.duration_s}
    data = []
    for metric, value in figures.items():
        if not math.isfinite(value):
            continue  # a figure that could not be read is left out, not graphed as 0
        uom = uom_for(metric)
        data.append(
            Perfdatum(f"{result.check}.{metric}", value, uom, levels_for(check, metric, uom))
        )
    return data
