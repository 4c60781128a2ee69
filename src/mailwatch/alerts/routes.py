"""Routes at run time: a ``[routes.NAME]`` section with its calendar built, and the pure rule
that says whether a notice about a ticket goes through it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from mailwatch.alerts.messages import NoticeFacts
from mailwatch.domain.notices import tested_route
from mailwatch.sla.calendar import BusinessCalendar

if TYPE_CHECKING:
    from mailwatch.config.model import MailwatchConfig
    from mailwatch.config.routes import RouteConfig


@dataclass(frozen=True)
class Route:
    """One named route. ``config.urls`` hold secrets (``SecretStr``): show them only through
    ``mailwatch.alerts.masking.mask_url``."""

    name: str
    config: RouteConfig
    calendar: BusinessCalendar | None = None

    @property
    def fallback(self) -> str | None:
        return self.config.fallback


def build_routes(config: MailwatchConfig) -> dict[str, Route]:
    """Every configured route, in file order, with the calendars they name built once."""
    calendars: dict[str, BusinessCalendar] = {}
    routes = {}
    for name, route in config.routes.items():
        calendar = None
        if route.calendar is not None:
            if route.calendar not in calendars:
                calendars[route.calendar] = BusinessCalendar.from_config(
                    config.calendars[route.calendar]
                )
            calendar = calendars[route.calendar]
        routes[name] = Route(name, route, calendar)
    return routes


def route_test_targets(routes: dict[str, Route], check: str) -> dict[str, Route] | None:
    """Where the ticket of a route test (``route-test:NAME``) is told: the tested route's
    fallback, or, without one, every other route; never the route that failed its test.
    None for the ticket of any other check (every route, as its filters say)."""
    tested = tested_route(check)
    if tested is None:
        return None
    route = routes.get(tested)
    if route is not None and route.fallback is not None and route.fallback in routes:
        return {route.fallback: routes[route.fallback]}
    return {name: other for name, other in routes.items() if name != tested}


def route_matches(route: Route, ticket_facts: NoticeFacts, now: datetime) -> bool:
    """Whether a notice about ``ticket_facts`` sent at ``now`` goes through ``route``.

    Every filter the route sets must pass: the notice kind, the severity range (inclusive;
    1 is most urgent), the check name and one of the check's tags (not for a route test),
    and business or off hours of the route's calendar at ``now`` (the time of the notice, not
    the opening of the ticket).
    """
    config = route.config
    facts = ticket_facts
    if facts.kind not in config.notices:
        return False
    if not config.min_severity <= facts.severity <= config.max_severity:
        return False
    # A route test's ticket is about the alert path itself: filters naming configured checks
    # (``checks``, ``tags``) do not hold it back from the route chosen to hear of it.
    about_a_check = tested_route(facts.check) is None
    if about_a_check and config.checks and facts.check not in config.checks:
        return False
    if about_a_check and config.tags and not set(config.tags) & set(facts.tags):
        return False
    if config.hours == "any":
        return True
    if route.calendar is None:
        raise ValueError(f"route {route.name} filters on {config.hours} but has no calendar")
    return route.calendar.is_open(now) == (config.hours == "business")
