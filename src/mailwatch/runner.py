"""Runs checks under their timeouts; whatever a probe does, the caller gets a result back."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any

from mailwatch.config.checks import CheckBase
from mailwatch.config.checks.registry import kind_named
from mailwatch.domain.kinds import SharedStage
from mailwatch.domain.nodes import NodeIdentity
from mailwatch.domain.probing import ProbeContext
from mailwatch.domain.results import CheckResult, State
from mailwatch.probes import probe_for

log = logging.getLogger(__name__)


async def run_check(
    check: CheckBase,
    memory: dict[str, Any] | None = None,
    *,
    confirming: bool = False,
    node: NodeIdentity | None = None,
) -> CheckResult:
    """Run one check; a timeout or a probe bug becomes a result, never an exception.

    ``confirming``: the run confirms a failure no ticket holds yet (``ProbeContext``);
    ``node``: this daemon's node, the run's vantage point when the check has ``run_from``."""
    # Before the deadline is set: importing a probe's module is not the probe's time.
    probe = probe_for(check.kind)
    ctx = ProbeContext(
        check=check.name,
        kind=check.kind,
        target=check.target,
        confirming=confirming,
        vantage=node if check.votes else None,
    )
    if memory is not None:
        ctx.memory = memory
    ctx.deadline = asyncio.get_running_loop().time() + check.timeout_s
    try:
        async with asyncio.timeout_at(ctx.deadline):
            return await probe(check, ctx)
    except TimeoutError:
        stage = ctx.stage or SharedStage.TIMEOUT
        return ctx.result(
            kind_named(check.kind).timeout_state,
            f"no answer{f' from {ctx.peer}' if ctx.peer else ''} within "
            f"{check.timeout_s:g} s during {stage}",
            stage=stage,
        )
    except Exception as exc:
        # A probe bug must never take the daemon down; it shows as unknown with the reason.
        log.exception(
            "probe %s (%s) failed unexpectedly", check.name, check.kind, extra={"check": check.name}
        )
        if ctx.memory:
            # What it remembered may be what broke it (kept by another mailwatch version, or
            # damaged in the database): forgotten, so the next run starts afresh instead of
            # every run failing the same way. It is only learned figures and pending canaries.
            log.warning(
                "check %s: forgetting what it remembered between runs (%s), in case that broke it",
                check.name,
                ", ".join(sorted(ctx.memory)),
                extra={"check": check.name},
            )
            ctx.memory.clear()
        return ctx.result(
            State.UNKNOWN,
            f"internal error in the {check.kind} probe: {type(exc).__name__}: {exc}",
            stage=SharedStage.INTERNAL,
        )


async def run_checks(checks: Iterable[CheckBase]) -> list[CheckResult]:
    """Run checks concurrently; results come back in the order the checks were given."""
    checks = list(checks)
    # Import every probe needed before any starts, so no import blocks the loop while another
    # probe is timing something.
    for kind in {check.kind for check in checks}:
        probe_for(kind)
    return list(await asyncio.gather(*(run_check(check) for check in checks)))
