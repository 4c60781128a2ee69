"""Each figure's warning and critical levels, from the check's own config, so a grapher draws
the lines the check itself alerts at; and each figure's span (0 to 100 for percentages)."""

from __future__ import annotations

import re

from mailwatch.cli.nagios.perfdata import Levels, ceiling, floor
from mailwatch.config.checks import CheckBase
from mailwatch.config.checks.levels import Limits
from mailwatch.config.checks.queue import QueueCheckBase
from mailwatch.config.checks.resources import ResourcesCheck
from mailwatch.config.checks.roundtrip import RoundtripCheck
from mailwatch.config.checks.service import ProcessService
from mailwatch.config.checks.tls import TlsCheck

MAY_BE_NEGATIVE = frozenset({"growth_per_min", "days_left"})
"""Figures that go below zero: a shrinking queue, an expired certificate."""

# A resources figure and the level key judging it: disk_var_spool_percent -> disk_percent.
_RESOURCES = (
    (re.compile(r"disk_\w+_free_bytes"), "disk_free_bytes"),
    (re.compile(r"disk_\w+_percent"), "disk_percent"),
    (re.compile(r"inodes_\w+_percent"), "inodes_percent"),
    (re.compile(r"net_\w+_errors"), "net_errors"),
    (re.compile(r"net_\w+_drops"), "net_drops"),
    (re.compile(r"(cpu_percent|load_per_core|memory_percent|swap_percent)"), None),
)


def levels_for(check: CheckBase | None, metric: str, uom: str) -> Levels:
    """The levels and span of one of ``check``'s figures (no levels when it has none)."""
    warning, critical = _alerting(check, metric) if check is not None else ("", "")
    if uom == "%":
        return Levels(warning, critical, 0, 100)
    if metric == "duration_s" and check is not None:
        return Levels(warning, critical, 0, check.timeout_s)
    return Levels(warning, critical, None if metric in MAY_BE_NEGATIVE else 0)


def _alerting(check: CheckBase, metric: str) -> tuple[str, str]:
    if isinstance(check, RoundtripCheck) and metric == "latency_s":
        return ceiling(check.latency_warning_s), ceiling(check.latency_critical_s)
    if isinstance(check, TlsCheck) and metric == "days_left":
        return floor(check.expiry_warning_days), floor(check.expiry_critical_days)
    if isinstance(check, ProcessService) and metric == "process_count":
        return "", floor(check.min_count)
    if isinstance(check, ResourcesCheck):
        for pattern, key in _RESOURCES:
            if pattern.fullmatch(metric):
                pair = getattr(check, key or metric)
                if key == "disk_free_bytes":
                    return floor(pair.warning), floor(pair.critical)
                return _ceilings(pair.limits(), metric)
    if isinstance(check, QueueCheckBase):
        limits = check.limits()
        name = {"total_messages": "total", "oldest_age_s": "oldest_s"}.get(metric, metric)
        name = name.removesuffix("_messages")
        if name in limits:
            return _ceilings(limits[name], metric)
    return "", ""


def _ceilings(limits: Limits, metric: str) -> tuple[str, str]:
    negative = metric in MAY_BE_NEGATIVE
    return (
        ceiling(limits.warning, may_be_negative=negative),
        ceiling(limits.critical, may_be_negative=negative),
    )
