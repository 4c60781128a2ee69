"""Ticket deadlines under a plan, the ``mailwatch sla --json`` report, and plan validation.

Expected instants are worked out by hand on the calendar of test_calendar.py (New York,
Monday to Friday 09:00-17:00, US holidays, 24 December closed). In 2026 New York is EST
(-05:00) until 8 March 02:00 and from 1 November 02:00 (01:00 EST), EDT (-04:00) between.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from mailwatch.config.sla import (
    BusinessCalendarConfig,
    SlaPlanConfig,
    SlaTarget,
    check_plan_references,
)
from mailwatch.sla import BusinessCalendar, SlaDuration, add_duration, compute_deadlines, sla_report

CALENDAR_CONFIG = BusinessCalendarConfig.model_validate(
    {
        "timezone": "America/New_York",
        "days": ["mon", "tue", "wed", "thu", "fri"],
        "hours": "09:00-17:00",
        "holidays": {"country": "US"},
        "closed": ["2026-12-24"],
    }
)
CALENDAR = BusinessCalendar.from_config(CALENDAR_CONFIG)
# The plan of the issue, plus a severity with only a resolution target.
PLAN = SlaPlanConfig.model_validate(
    {
        "calendar": "us-eastern",
        "sev1": {"response": "4bh", "resolution": "4h"},
        "sev2": {"response": "2h", "response_off_hours": "4h", "resolution": "1bd"},
        "sev3": {"resolution": "1bd"},
    }
)
CALENDARS = {"us-eastern": CALENDAR_CONFIG}
PLANS = {"premium": PLAN}


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def iso(instant: datetime | None) -> str | None:
    return None if instant is None else instant.isoformat()


@pytest.mark.parametrize(
    ("severity", "opened", "acknowledged", "response_due", "resolution_due"),
    [
        # sev1: 4 business hours to respond, then 4 wall-clock hours to resolve.
        (1, "2026-11-23T10:00:00-05:00", None, "2026-11-23T14:00:00-05:00",
         "2026-11-23T18:00:00-05:00"),
        (1, "2026-11-23T10:00:00-05:00", "2026-11-23T10:30:00-05:00",
         "2026-11-23T14:00:00-05:00", "2026-11-23T14:30:00-05:00"),
        # Opened Saturday: the response clock starts Monday 09:00.
        (1, "2026-11-21T10:00:00-05:00", None, "2026-11-23T13:00:00-05:00",
         "2026-11-23T17:00:00-05:00"),
        # Friday 15:00: two hours on Friday, two on Monday.
        (1, "2026-11-20T15:00:00-05:00", None, "2026-11-23T11:00:00-05:00",
         "2026-11-23T15:00:00-05:00"),
        # Opened at 13:00: the response is due exactly at closing and stays there.
        (1, "2026-11-23T13:00:00-05:00", None, "2026-11-23T17:00:00-05:00",
         "2026-11-23T21:00:00-05:00"),
        # Acknowledged Saturday 23:00 EST (04:00Z); four real hours later is 08:00Z, which
        # is 04:00 EDT on the spring-forward Sunday: the local clock moved five hours.
        (1, "2026-03-07T22:00:00-05:00", "2026-03-07T23:00:00-05:00",
         "2026-03-09T13:00:00-04:00", "2026-03-08T04:00:00-04:00"),
        # Opened in UTC: deadlines come back in the calendar's zone.
        (1, "2026-11-23T15:00:00+00:00", None, "2026-11-23T14:00:00-05:00",
         "2026-11-23T18:00:00-05:00"),
        # sev2 inside hours: 2 h, then one business day from the response deadline.
        (2, "2026-11-23T10:00:00-05:00", None, "2026-11-23T12:00:00-05:00",
         "2026-11-24T12:00:00-05:00"),
        (2, "2026-11-23T09:00:00-05:00", None, "2026-11-23T11:00:00-05:00",
         "2026-11-24T11:00:00-05:00"),  # exactly at opening is inside hours
        # Exactly at closing is outside hours: 4 h to 21:00; that is outside hours too, so
        # the business day counts from Tuesday 09:00 and ends Wednesday 09:00.
        (2, "2026-11-23T17:00:00-05:00", None, "2026-11-23T21:00:00-05:00",
         "2026-11-25T09:00:00-05:00"),
        # Saturday: 4 h to 14:00; Monday 09:00 starts the business day, due Tuesday 09:00.
        (2, "2026-11-21T10:00:00-05:00", None, "2026-11-21T14:00:00-05:00",
         "2026-11-24T09:00:00-05:00"),
        # Acknowledged Friday 15:20: one business day later is Monday 15:20.
        (2, "2026-11-20T15:00:00-05:00", "2026-11-20T15:20:00-05:00",
         "2026-11-20T17:00:00-05:00", "2026-11-23T15:20:00-05:00"),
        # Acknowledged on Saturday: from Monday 09:00, due Tuesday 09:00.
        (2, "2026-11-20T16:00:00-05:00", "2026-11-21T09:00:00-05:00",
         "2026-11-20T18:00:00-05:00", "2026-11-24T09:00:00-05:00"),
        # Opened 00:30 EST (05:30Z) on the spring-forward Sunday: 4 real hours is 09:30Z,
        # 05:30 EDT. Then one business day from Monday 09:00 EDT.
        (2, "2026-03-08T00:30:00-05:00", None, "2026-03-08T05:30:00-04:00",
         "2026-03-10T09:00:00-04:00"),
        # Opened 23:30 EDT (03:30Z) the night before fall-back: 07:30Z is 02:30 EST.
        (2, "2026-10-31T23:30:00-04:00", None, "2026-11-01T02:30:00-05:00",
         "2026-11-03T09:00:00-05:00"),
        # sev3 has only a resolution target: it waits for the acknowledgement.
        (3, "2026-11-23T10:00:00-05:00", None, None, None),
        (3, "2026-11-23T10:00:00-05:00", "2026-11-23T10:00:00-05:00", None,
         "2026-11-24T10:00:00-05:00"),
        # sev4 has no target at all.
        (4, "2026-11-23T10:00:00-05:00", None, None, None),
        (4, "2026-11-23T10:00:00-05:00", "2026-11-23T11:00:00-05:00", None, None),
    ],
)  # fmt: skip
def test_compute_deadlines(
    severity: int,
    opened: str,
    acknowledged: str | None,
    response_due: str | None,
    resolution_due: str | None,
) -> None:
    acknowledged_at = at(acknowledged) if acknowledged is not None else None
    deadlines = compute_deadlines(PLAN, CALENDAR, severity, at(opened), acknowledged_at)
    assert (iso(deadlines.response_due), iso(deadlines.resolution_due)) == (
        response_due,
        resolution_due,
    )


@pytest.mark.parametrize(
    ("start", "duration", "expected"),
    [
        ("2026-11-23T16:45:00-05:00", "30m", "2026-11-23T17:15:00-05:00"),  # ignores closing
        ("2026-11-21T10:00:00-05:00", "4h", "2026-11-21T14:00:00-05:00"),  # and weekends
        # 24 real hours from Saturday noon EST (17:00Z) is 17:00Z Sunday: 13:00 EDT.
        ("2026-03-07T12:00:00-05:00", "1d", "2026-03-08T13:00:00-04:00"),
        ("2026-03-08T00:30:00-05:00", "4h", "2026-03-08T05:30:00-04:00"),
        # 00:30 EDT (04:30Z) + 4 h = 08:30Z = 03:30 EST: the clock moved three hours.
        ("2026-11-01T00:30:00-04:00", "4h", "2026-11-01T03:30:00-05:00"),
        ("2026-11-23T10:00:00-05:00", "4bh", "2026-11-23T14:00:00-05:00"),
        ("2026-11-20T15:00:00-05:00", "1bd", "2026-11-23T15:00:00-05:00"),
    ],
)
def test_add_duration(start: str, duration: str, expected: str) -> None:
    assert add_duration(CALENDAR, at(start), SlaDuration.parse(duration)).isoformat() == expected


@pytest.mark.parametrize(
    ("start", "duration", "expected"),
    [
        # Starts carrying the zone itself, where Python's own `+` would be wall-clock
        # arithmetic: 00:30 + 4 h would read 04:30 EDT, only three real hours later.
        (datetime(2026, 3, 8, 0, 30), "4h", "2026-03-08T05:30:00-04:00"),
        (datetime(2026, 11, 1, 0, 30), "4h", "2026-11-01T03:30:00-05:00"),
        (datetime(2026, 3, 7, 12, 0), "1d", "2026-03-08T13:00:00-04:00"),
        (datetime(2026, 10, 31, 12, 0), "1d", "2026-11-01T11:00:00-05:00"),
    ],
)
def test_add_duration_is_elapsed_time_for_zoned_starts(
    start: datetime, duration: str, expected: str
) -> None:
    zoned = start.replace(tzinfo=CALENDAR.zone)
    assert add_duration(CALENDAR, zoned, SlaDuration.parse(duration)).isoformat() == expected


def test_off_hours_response_makes_deadlines_jump_at_opening_time() -> None:
    # Not monotone in the opened time, by design of the promise: 08:59 is "other times"
    # (4 h, 12:59) while 09:00 is business hours (2 h, 11:00).
    before = compute_deadlines(PLAN, CALENDAR, 2, at("2026-11-23T08:59:00-05:00"))
    after = compute_deadlines(PLAN, CALENDAR, 2, at("2026-11-23T09:00:00-05:00"))
    assert iso(before.response_due) == "2026-11-23T12:59:00-05:00"
    assert iso(after.response_due) == "2026-11-23T11:00:00-05:00"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"severity": 5}, "severity must be 1, 2, 3 or 4, got 5"),
        ({"severity": 0}, "severity must be 1, 2, 3 or 4, got 0"),
        (
            {"opened_at": datetime(2026, 11, 23, 10)},
            "opened_at must be timezone-aware, got 2026-11-23T10:00:00",
        ),
        (
            {"acknowledged_at": datetime(2026, 11, 23, 11)},
            "acknowledged_at must be timezone-aware, got 2026-11-23T11:00:00",
        ),
        (
            {"acknowledged_at": at("2026-11-23T09:59:00-05:00")},
            "acknowledged_at 2026-11-23T09:59:00-05:00 is before "
            "opened_at 2026-11-23T10:00:00-05:00",
        ),
    ],
)
def test_compute_deadlines_refuses(kwargs: dict[str, Any], message: str) -> None:
    arguments: dict[str, Any] = {
        "plan": PLAN,
        "calendar": CALENDAR,
        "severity": 1,
        "opened_at": at("2026-11-23T10:00:00-05:00"),
    }
    arguments.update(kwargs)
    with pytest.raises(ValueError) as excinfo:
        compute_deadlines(**arguments)
    assert str(excinfo.value) == message


# --- sla_report: what `mailwatch sla --json` prints ---------------------------------------------


@pytest.mark.parametrize(
    ("severity", "opened", "acknowledged", "expected"),
    [
        (1, "2026-11-23T10:00:00-05:00", None,
         {"response_due": "2026-11-23T14:00:00-05:00",
          "resolution_due": "2026-11-23T18:00:00-05:00"}),
        # No offset: read as New York time.
        (1, "2026-11-23T10:00", None,
         {"response_due": "2026-11-23T14:00:00-05:00",
          "resolution_due": "2026-11-23T18:00:00-05:00"}),
        (1, "2026-11-23T15:00:00Z", "2026-11-23T10:30",
         {"response_due": "2026-11-23T14:00:00-05:00",
          "resolution_due": "2026-11-23T14:30:00-05:00"}),
        # Summer: the offset shown is EDT.
        (1, "2026-06-15T10:00", None,
         {"response_due": "2026-06-15T14:00:00-04:00",
          "resolution_due": "2026-06-15T18:00:00-04:00"}),
        # Seconds precision: fractions are cut, never rounded up past the promise.
        (1, "2026-11-23T10:00:00.750-05:00", None,
         {"response_due": "2026-11-23T14:00:00-05:00",
          "resolution_due": "2026-11-23T18:00:00-05:00"}),
        # A naive time that New York skips (02:30 on 8 March) is the jump, 03:00 EDT;
        # outside hours, so 4 h: 07:00 EDT; one business day from Monday 09:00.
        (2, "2026-03-08T02:30", None,
         {"response_due": "2026-03-08T07:00:00-04:00",
          "resolution_due": "2026-03-10T09:00:00-04:00"}),
        # Naive 00:30 on the spring-forward Sunday is 00:30 EST (05:30Z); outside hours,
        # 4 real hours: 09:30Z, which is 05:30 EDT.
        (2, "2026-03-08T00:30", None,
         {"response_due": "2026-03-08T05:30:00-04:00",
          "resolution_due": "2026-03-10T09:00:00-04:00"}),
        (3, "2026-11-23T10:00", None, {"response_due": None, "resolution_due": None}),
        (4, "2026-11-23T10:00", "2026-11-23T10:05",
         {"response_due": None, "resolution_due": None}),
    ],
)  # fmt: skip
def test_sla_report(
    severity: int, opened: str, acknowledged: str | None, expected: dict[str, str | None]
) -> None:
    report = sla_report(CALENDARS, PLANS, "premium", severity, opened, acknowledged)
    assert report == expected
    assert json.loads(json.dumps(report)) == expected


def test_sla_report_accepts_datetimes() -> None:
    report = sla_report(CALENDARS, PLANS, "premium", 1, datetime(2026, 11, 23, 10))
    assert report["response_due"] == "2026-11-23T14:00:00-05:00"


@pytest.mark.parametrize(
    ("plan_name", "severity", "opened", "acknowledged", "message"),
    [
        ("gold", 1, "2026-11-23T10:00", None, "unknown plan 'gold' (defined plans: 'premium')"),
        ("premium", 5, "2026-11-23T10:00", None, "severity must be 1, 2, 3 or 4, got 5"),
        ("premium", 0, "2026-11-23T10:00", None, "severity must be 1, 2, 3 or 4, got 0"),
        (
            "premium",
            1,
            "yesterday",
            None,
            "opened time 'yesterday' is not ISO 8601, e.g. 2026-11-23T09:00:00-05:00",
        ),
        (
            "premium",
            1,
            "2026-11-23T10:00",
            "soon",
            "acknowledged time 'soon' is not ISO 8601, e.g. 2026-11-23T09:00:00-05:00",
        ),
    ],
)
def test_sla_report_refuses(
    plan_name: str, severity: int, opened: str, acknowledged: str | None, message: str
) -> None:
    with pytest.raises(ValueError) as excinfo:
        sla_report(CALENDARS, PLANS, plan_name, severity, opened, acknowledged)
    assert str(excinfo.value) == message


def test_sla_report_with_no_plans() -> None:
    with pytest.raises(ValueError, match=r"^unknown plan 'x' \(defined plans: none\)$"):
        sla_report({}, {}, "x", 1, "2026-11-23T10:00")


def test_sla_report_with_a_dangling_calendar() -> None:
    with pytest.raises(ValueError) as excinfo:
        sla_report({}, PLANS, "premium", 1, "2026-11-23T10:00")
    assert str(excinfo.value) == "plan 'premium' uses calendar 'us-eastern', which is not defined"


# --- plan validation: exact messages -------------------------------------------------------------


def plan_error(data: dict[str, Any]) -> tuple[tuple[int | str, ...], str]:
    with pytest.raises(ValidationError) as excinfo:
        SlaPlanConfig.model_validate(data)
    errors = excinfo.value.errors()
    assert len(errors) == 1, errors
    return tuple(errors[0]["loc"]), errors[0]["msg"].removeprefix("Value error, ")


EXTRA = "Extra inputs are not permitted"
DURATION_HELP = (
    "expected a whole number from 1 to 9999 followed by one unit: m, h, d (wall clock), "
    'bh (business hours) or bd (business days), e.g. "90m", "4h", "4bh", "1bd"'
)


@pytest.mark.parametrize(
    ("data", "loc", "message"),
    [
        (
            {"calendar": "c", "sev1": {}},
            ("sev1",),
            "a severity target needs a response or a resolution duration",
        ),
        (
            {"calendar": "c", "sev2": {"response_off_hours": "4h"}},
            ("sev2",),
            "response_off_hours replaces response outside business hours, "
            "so response must be set too",
        ),
        (
            {"calendar": "c", "sev1": {"response": "4x"}},
            ("sev1", "response"),
            f"invalid duration '4x': {DURATION_HELP}",
        ),
        (
            {"calendar": "c", "sev1": {"response": "1h30m"}},
            ("sev1", "response"),
            f"invalid duration '1h30m': {DURATION_HELP} (one unit only: write 90m)",
        ),
        (
            {"calendar": "c", "sev1": {"response": 4}},
            ("sev1", "response"),
            'a duration must be a string such as "4h" or "4bh", got 4',
        ),
        (
            {"calendar": "c"},
            (),
            "a plan needs a target for at least one severity (sev1 .. sev4)",
        ),
        ({"calendar": "c", "sev5": {"response": "1h"}}, ("sev5",), EXTRA),
        ({"calendar": "c", "sev1": {"respond": "1h"}}, ("sev1", "respond"), EXTRA),
        ({"sev1": {"response": "1h"}}, ("calendar",), "Field required"),
    ],
)  # fmt: skip
def test_plan_config_errors(data: dict[str, Any], loc: tuple[int | str, ...], message: str) -> None:
    assert plan_error(data) == (loc, message)


def test_plan_round_trips_through_its_serialized_form() -> None:
    dumped = PLAN.model_dump(exclude_none=True)
    assert dumped == {
        "calendar": "us-eastern",
        "sev1": {"response": "4bh", "resolution": "4h"},
        "sev2": {"response": "2h", "response_off_hours": "4h", "resolution": "1bd"},
        "sev3": {"resolution": "1bd"},
    }
    assert SlaPlanConfig.model_validate(dumped) == PLAN
    assert SlaPlanConfig.model_json_schema()["title"] == "SlaPlanConfig"


def test_target_lookup() -> None:
    assert PLAN.target(1) == SlaTarget.model_validate({"response": "4bh", "resolution": "4h"})
    assert PLAN.target(4) is None
    with pytest.raises(ValueError, match="severity must be 1, 2, 3 or 4, got 7"):
        PLAN.target(7)


def test_check_plan_references() -> None:
    check_plan_references(CALENDARS, PLANS)  # nothing dangling: no error
    plans = {
        "premium": PLAN,
        "gold": PLAN.model_copy(update={"calendar": "eu"}),
        "silver": PLAN.model_copy(update={"calendar": "eu"}),
    }
    with pytest.raises(ValueError) as excinfo:
        check_plan_references(CALENDARS, plans)
    assert str(excinfo.value) == (
        "plan 'gold' uses calendar 'eu', which is not defined; "
        "plan 'silver' uses calendar 'eu', which is not defined "
        "(defined calendars: 'us-eastern')"
    )
    with pytest.raises(ValueError) as excinfo:
        check_plan_references({}, {"premium": PLAN})
    assert str(excinfo.value) == (
        "plan 'premium' uses calendar 'us-eastern', which is not defined (defined calendars: none)"
    )


# --- properties ----------------------------------------------------------------------------------

minutes = st.integers(min_value=0, max_value=2 * 365 * 24 * 60)
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


def minute(n: int) -> datetime:
    return EPOCH + timedelta(minutes=n)


@given(opened=minutes, severity=st.sampled_from([1, 2]), ack_after=st.none() | minutes)
def test_deadlines_never_precede_their_start(
    opened: int, severity: int, ack_after: int | None
) -> None:
    acknowledged = None if ack_after is None else minute(opened + ack_after)
    deadlines = compute_deadlines(PLAN, CALENDAR, severity, minute(opened), acknowledged)
    assert deadlines.response_due is not None and deadlines.resolution_due is not None
    assert deadlines.response_due >= minute(opened)
    resolution_start = acknowledged if acknowledged is not None else deadlines.response_due
    assert deadlines.resolution_due >= resolution_start


@given(opened=minutes)
def test_business_hour_response_lands_inside_hours_or_at_closing(opened: int) -> None:
    due = compute_deadlines(PLAN, CALENDAR, 1, minute(opened)).response_due
    assert due is not None
    assert CALENDAR.is_open(due) or CALENDAR.is_open(due - timedelta(microseconds=1))


@given(earlier=minutes, gap=st.integers(min_value=0, max_value=14 * 24 * 60))
def test_deadlines_are_monotone_in_the_opened_time(earlier: int, gap: int) -> None:
    # sev1 has no off-hours response; sev2's would make it jump at opening time (see above).
    first = compute_deadlines(PLAN, CALENDAR, 1, minute(earlier))
    second = compute_deadlines(PLAN, CALENDAR, 1, minute(earlier + gap))
    assert first.response_due is not None and second.response_due is not None
    assert first.resolution_due is not None and second.resolution_due is not None
    assert first.response_due <= second.response_due
    assert first.resolution_due <= second.resolution_due
