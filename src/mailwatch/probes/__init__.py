"""The probes: one module (or package) per check kind, each exposing
``async def probe(check, ctx) -> CheckResult``; the kind's declaration names it.

A kind's probe is imported the first time it is asked for, so a ``mailwatch check`` started
per Nagios probe loads dnspython, cryptography or the mail protocols only for the kinds it runs.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable
from typing import Any

from mailwatch.config.checks.registry import kind_named
from mailwatch.domain.probing import ProbeContext
from mailwatch.domain.results import CheckResult

Probe = Callable[[Any, ProbeContext], Awaitable[CheckResult]]
"""What every probe is: the check's config and the run's context in, a result out. The caller
owns the deadline (``mailwatch.runner``); the probe names its step in ``ctx.stage``."""


def probe_for(kind: str) -> Probe:
    """The probe of the kind called ``kind``, importing its module on first use; ``KeyError``
    for a kind nobody registered."""
    probe: Probe = importlib.import_module(kind_named(kind).probe).probe
    return probe


__all__ = ["Probe", "probe_for"]
