"""The canary round trip (placeholder while it is being written)."""

from __future__ import annotations

from mailwatch.config.roundtrip import RoundtripCheck
from mailwatch.probes.base import ProbeContext, ProbeSpec
from mailwatch.result import CheckResult, State


async def probe(check: RoundtripCheck, ctx: ProbeContext) -> CheckResult:
    return ctx.result(State.UNKNOWN, "not implemented yet", stage="internal")


SPEC = ProbeSpec(kind="roundtrip", config=RoundtripCheck, probe=probe)
