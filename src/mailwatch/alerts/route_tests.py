"""Test notices: one message through one route, to see that the alert path works, and its
outcome as a ``CheckResult`` of the synthetic check ``route-test:NAME``.

``mailwatch notify-test`` sends one at a person's request; the daemon sends one per route on
``[routes.NAME] test_every`` and puts the result through the incident engine, so a route that
fails its test has a ticket, told through its fallback (``routes.route_test_targets``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from mailwatch.alerts.delivery import DeliveryOutcome, deliver
from mailwatch.alerts.messages import NoticeFacts, render
from mailwatch.alerts.routes import Route
from mailwatch.domain.notices import ROUTE_TEST_KIND, NoticeKind, route_test_check
from mailwatch.domain.results import CheckResult, State
from mailwatch.domain.time import load_zone

if TYPE_CHECKING:
    from mailwatch.config.model import MailwatchConfig

ROUTE_TEST_STAGE = "route_test"
"""The stage of a failed route test: the route did not take the test notice."""


async def send_test_notice(
    config: MailwatchConfig,
    route: Route,
    summary: str,
    timeout_s: float,
    now: datetime,
    *,
    check: str,
) -> DeliveryOutcome:
    """Render a test notice from ``check`` (what ``{check}`` in a template shows) saying
    ``summary`` and deliver it through ``route``; route filters do not apply (the point is to
    test the pipe). Never raises for a delivery problem."""
    zone = load_zone(config.incidents.timezone) if config.incidents.timezone else None
    facts = NoticeFacts(
        ticket=f"{config.incidents.ticket_prefix}TEST",
        severity=4,
        check=check,
        target=route.name,
        kind=NoticeKind.TEST,
        summary=summary,
    )
    message = render(
        facts,
        now=now,
        body_format=route.config.format,
        templates=config.alerts.templates,
        zone=zone,
    )
    return await deliver(route, message.title, message.body, timeout_s, level=message.level)


async def run_route_test(config: MailwatchConfig, route: Route, host: str) -> CheckResult:
    """The daemon's scheduled test of ``route``: a test notice, and its outcome as the result
    of ``route-test:NAME`` (ok when every URL took it; critical, naming each masked URL that
    did not and why, otherwise)."""
    started = datetime.now(UTC)
    summary = (
        f"Scheduled test of route {route.name} by mailwatch on {host} "
        "([routes] test_every). If you can read this, the route works."
    )
    check = route_test_check(route.name)
    timeout_s = config.alerts.timeout_s
    outcome = await send_test_notice(config, route, summary, timeout_s, started, check=check)
    failed = [url for url in outcome.per_url if not url.ok]
    total = len(outcome.per_url)
    if outcome.ok:
        state, stage = State.OK, None
        said = f"route {route.name} took its test notice ({total} of {total} URL(s))"
    elif not total:
        state, stage = State.CRITICAL, ROUTE_TEST_STAGE
        said = f"route {route.name} has no URL apprise could use for its test notice"
    else:
        state, stage = State.CRITICAL, ROUTE_TEST_STAGE
        reasons = "; ".join(f"{url.masked_url}: {url.error}" for url in failed)
        said = (
            f"route {route.name} failed its test notice at {len(failed)} of {total} URL(s): "
            f"{reasons}"
        )
    return CheckResult(
        check=check,
        kind=ROUTE_TEST_KIND,
        target=route.name,
        state=state,
        summary=said,
        stage=stage,
        metrics={"urls_failed": float(len(failed)), "urls": float(total)},
        details={"urls": [url.masked_url for url in outcome.per_url]},
        started_at=started,
        finished_at=datetime.now(UTC),
    )
