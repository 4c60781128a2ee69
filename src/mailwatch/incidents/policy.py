"""What the engine needs from the config for one check: thresholds, severity, SLA clock.

Built from ``MailwatchConfig`` by ``policy_for``; the engine never sees the config itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from mailwatch.domain.notices import tested_route
from mailwatch.sla.calendar import BusinessCalendar
from mailwatch.sla.deadlines import Deadlines, compute_deadlines

if TYPE_CHECKING:
    from mailwatch.config.model import MailwatchConfig
    from mailwatch.config.sla import BusinessCalendarConfig, SlaPlanConfig


@dataclass
class SlaClock:
    """A plan and its calendar; ``deadlines`` is pure arithmetic (``mailwatch.sla``).

    The calendar is built on first use: most results open no ticket and never need it.
    """

    plan_name: str
    plan: SlaPlanConfig
    calendar_config: BusinessCalendarConfig
    _calendar: BusinessCalendar | None = field(default=None, repr=False)

    def deadlines(
        self, severity: int, opened_at: datetime, acknowledged_at: datetime | None = None
    ) -> Deadlines:
        if self._calendar is None:
            self._calendar = BusinessCalendar.from_config(self.calendar_config)
        return compute_deadlines(self.plan, self._calendar, severity, opened_at, acknowledged_at)


@dataclass(frozen=True)
class IncidentPolicy:
    """When one check's tickets open and resolve, and how severe they are.

    ``open_after_s``, when set, replaces ``open_after``: a ticket opens once the check has
    been failing for that long (the first failed result's time to now).
    """

    open_after: int = 2
    open_after_s: float | None = None
    resolve_after: int = 2
    flap_high_percent: float = 50.0
    flap_low_percent: float = 25.0
    severity: int | None = None
    sla: SlaClock | None = None

    @property
    def plan(self) -> str | None:
        return None if self.sla is None else self.sla.plan_name


def policy_for(config: MailwatchConfig, check_name: str) -> IncidentPolicy:
    """The policy of a configured check; a check no longer in the config gets the defaults
    (its open ticket can still recover or be resolved by a person). A route test
    (``route-test:NAME``) opens on its first failed test and resolves on its first passed one,
    with the route's ``test_failure_severity``: tests are days apart, not minutes."""
    incidents = config.incidents
    check = config.check_named(check_name)
    override = incidents.overrides.get(check_name)
    plan_name = check.plan if check is not None and check.plan else incidents.default_plan
    sla = None
    if plan_name is not None:
        plan = config.plans[plan_name]
        sla = SlaClock(plan_name, plan, config.calendars[plan.calendar])
    open_after_s = incidents.open_after_s
    open_after = incidents.open_after
    resolve_after = incidents.resolve_after
    if override is not None:
        if override.open_after is not None:
            open_after, open_after_s = override.open_after, None
        if override.open_after_s is not None:
            open_after_s = override.open_after_s
        if override.resolve_after is not None:
            resolve_after = override.resolve_after
    route = config.routes.get(name) if (name := tested_route(check_name)) is not None else None
    if route is not None:
        open_after, open_after_s, resolve_after = 1, None, 1
    return IncidentPolicy(
        open_after=open_after,
        open_after_s=open_after_s,
        resolve_after=resolve_after,
        flap_high_percent=incidents.flap_high_percent,
        flap_low_percent=incidents.flap_low_percent,
        severity=(
            route.test_failure_severity
            if route is not None
            else check.severity
            if check is not None
            else None
        ),
        sla=sla,
    )
