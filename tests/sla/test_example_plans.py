"""The shipped config/sla-plans.toml: it validates, and each plan keeps its seed's promise.

Expected deadlines are worked out by hand from the seed documents' words (quoted in the
TOML). New York 2026: EST -05:00, EDT -04:00 from 8 March to 31 October. Athens 2026:
EET +02:00, EEST +03:00 from 29 March to 24 October. Greek holidays used: Good Friday
10 April, Easter Monday 13 April, Ohi Day 28 October.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

from mailwatch.config.sla import BusinessCalendarConfig, SlaPlanConfig, check_plan_references
from mailwatch.sla import sla_report

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "sla-plans.toml"


def load_example() -> tuple[dict[str, BusinessCalendarConfig], dict[str, SlaPlanConfig]]:
    with EXAMPLE.open("rb") as handle:
        data: dict[str, Any] = tomllib.load(handle)
    assert set(data) == {"calendars", "plans"}
    calendars = {
        name: BusinessCalendarConfig.model_validate(section)
        for name, section in data["calendars"].items()
    }
    plans = {name: SlaPlanConfig.model_validate(section) for name, section in data["plans"].items()}
    check_plan_references(calendars, plans)
    return calendars, plans


CALENDARS, PLANS = load_example()

CASES: list[tuple[str, int, str, str | None, str | None, str | None]] = [
    # plan, severity, opened, acknowledged, response_due, resolution_due
    # NetGovern premium, "4 hours* ... During business hours (9am – 5pm EST)":
    # Friday 15:00 -> 2 h on Friday, 2 h on Monday.
    ("netgovern-premium", 1, "2026-11-20T15:00:00-05:00", None,
     "2026-11-23T11:00:00-05:00", None),
    # The seed excludes no holidays, so Thanksgiving counts as a business day.
    ("netgovern-premium", 3, "2026-11-25T15:00:00-05:00", None,
     "2026-11-26T11:00:00-05:00", None),
    # NetGovern dedicated, "1 hour*": 30 min on Monday, 30 min on Tuesday.
    ("netgovern-dedicated", 2, "2026-11-23T16:30:00-05:00", None,
     "2026-11-24T09:30:00-05:00", None),
    # Mailprotector emergency: "30 minutes or less", at 03:00 on a Saturday too.
    ("mailprotector", 1, "2026-11-21T03:00:00-05:00", None,
     "2026-11-21T03:30:00-05:00", None),
    # 19:00 is inside 9:00-20:00; Thanksgiving is skipped: Friday 19:00.
    ("mailprotector", 2, "2026-11-25T19:00:00-05:00", None,
     "2026-11-27T19:00:00-05:00", None),
    # 20:00 is closing time, outside hours: Friday 09:00 starts, due Monday 09:00.
    ("mailprotector", 2, "2026-11-25T20:00:00-05:00", None,
     "2026-11-30T09:00:00-05:00", None),
    # Independence Day is observed Friday 3 July 2026: Thursday 19:30 -> Monday 19:30.
    ("mailprotector", 4, "2026-07-02T19:30:00-04:00", None,
     "2026-07-06T19:30:00-04:00", None),
    # SophiMail severity 1: "four (4) hours after the Initial Response Time".
    ("sophimail", 1, "2026-04-09T10:00:00+03:00", "2026-04-09T10:45:00+03:00",
     None, "2026-04-09T14:45:00+03:00"),
    # Unacknowledged: no response target in the seed's text, so nothing runs yet.
    ("sophimail", 1, "2026-04-09T10:00:00+03:00", None, None, None),
    # Severity 2: "one (1) Business Day": Good Friday and Easter Monday are skipped.
    ("sophimail", 2, "2026-04-09T14:00:00+03:00", "2026-04-09T15:00:00+03:00",
     None, "2026-04-14T15:00:00+03:00"),
    # Friday 16:00 EEST -> Monday 16:00, which is EET after the 25 October change.
    ("sophimail", 2, "2026-10-23T15:00:00+03:00", "2026-10-23T16:00:00+03:00",
     None, "2026-10-26T16:00:00+02:00"),
    # Ohi Day, Wednesday 28 October, is skipped.
    ("sophimail", 2, "2026-10-27T10:00:00+02:00", "2026-10-27T11:00:00+02:00",
     None, "2026-10-29T11:00:00+02:00"),
    ("sophimail", 3, "2026-10-27T10:00:00+02:00", "2026-10-27T11:00:00+02:00", None, None),
    # Message Partners standard: 2 h in business hours (even past 18:00) ...
    ("messagepartners-standard", 1, "2026-11-23T17:30:00-05:00", None,
     "2026-11-23T19:30:00-05:00", None),
    # ... and 4 h "all other times": 18:00 is closing time, so other times.
    ("messagepartners-standard", 2, "2026-11-23T18:00:00-05:00", None,
     "2026-11-23T22:00:00-05:00", None),
    ("messagepartners-standard", 4, "2026-11-23T07:59:00-05:00", None,
     "2026-11-23T11:59:00-05:00", None),
    # Enhanced: 1 h from the 08:00 opening, 2 h on a Saturday.
    ("messagepartners-enhanced", 1, "2026-11-23T08:00:00-05:00", None,
     "2026-11-23T09:00:00-05:00", None),
    ("messagepartners-enhanced", 3, "2026-11-21T12:00:00-05:00", None,
     "2026-11-21T14:00:00-05:00", None),
    # Priority: 1 h on a June Monday (EDT) ...
    ("messagepartners-priority", 1, "2026-06-15T10:00:00-04:00", None,
     "2026-06-15T11:00:00-04:00", None),
    # ... and 2 real hours from 00:30 EST (05:30Z) on the spring-forward Sunday: 07:30Z,
    # which is 03:30 EDT.
    ("messagepartners-priority", 2, "2026-03-08T00:30:00-05:00", None,
     "2026-03-08T03:30:00-04:00", None),
]  # fmt: skip


def test_example_has_every_seed_plan() -> None:
    assert set(PLANS) == {
        "netgovern-premium",
        "netgovern-dedicated",
        "mailprotector",
        "sophimail",
        "messagepartners-standard",
        "messagepartners-enhanced",
        "messagepartners-priority",
    }


def test_every_example_plan_has_an_exact_deadline_below() -> None:
    assert {case[0] for case in CASES} == set(PLANS)


@pytest.mark.parametrize(
    ("plan", "severity", "opened", "acknowledged", "response_due", "resolution_due"), CASES
)
def test_example_plan_deadlines(
    plan: str,
    severity: int,
    opened: str,
    acknowledged: str | None,
    response_due: str | None,
    resolution_due: str | None,
) -> None:
    report = sla_report(CALENDARS, PLANS, plan, severity, opened, acknowledged)
    assert report == {"response_due": response_due, "resolution_due": resolution_due}


@pytest.mark.parametrize(
    ("calendar", "timezone", "hours", "country"),
    [
        ("netgovern", "America/New_York", "09:00-17:00", None),
        ("mailprotector", "America/New_York", "09:00-20:00", "US"),
        ("sophimail", "Europe/Athens", "09:00-17:00", "GR"),
        ("messagepartners", "America/New_York", "08:00-18:00", None),
    ],
)
def test_example_calendars(calendar: str, timezone: str, hours: str, country: str | None) -> None:
    config = CALENDARS[calendar]
    assert (config.timezone, config.hours) == (timezone, hours)
    assert config.days == ("mon", "tue", "wed", "thu", "fri")
    assert (config.holidays.country if config.holidays else None) == country
