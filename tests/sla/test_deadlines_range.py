"""Deadlines at the ends of time: any instant and any promise give deadlines or a one-line
``ValueError``, never an ``OverflowError`` from the arithmetic."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailwatch.config.sla import BusinessCalendarConfig, SlaPlanConfig
from mailwatch.sla import BusinessCalendar, compute_deadlines, sla_report
from mailwatch.sla.deadlines import EARLIEST, LATEST

WEEKDAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
OFFICE = {"timezone": "America/New_York", "days": WEEKDAYS[:5], "hours": "09:00-17:00"}

durations = st.builds(
    "{}{}".format, st.integers(1, 9999), st.sampled_from(["m", "h", "d", "bh", "bd"])
)
zones = st.one_of(
    st.timezones(),
    st.timedeltas(-timedelta(hours=23, minutes=59), timedelta(hours=23, minutes=59)).map(timezone),
)
instants = st.datetimes(timezones=zones)
calendars = st.fixed_dictionaries(
    {
        "timezone": st.sampled_from(["UTC", "America/New_York", "Pacific/Kiritimati"]),
        "days": st.lists(st.sampled_from(WEEKDAYS), min_size=1, unique=True),
        "hours": st.sampled_from(["09:00-17:00", "00:00-24:00", "12:00-13:00"]),
    }
)


def _plan(response: str, resolution: str) -> SlaPlanConfig:
    return SlaPlanConfig.model_validate(
        {"calendar": "c", "sev1": {"response": response, "resolution": resolution}}
    )


def _utc(instant: datetime) -> datetime:
    return instant.astimezone(UTC)


@settings(max_examples=200, deadline=None)
@given(
    calendar=calendars,
    response=durations,
    resolution=durations,
    opened=instants,
    acknowledged_after=st.none() | st.timedeltas(timedelta(0), timedelta(days=3650)),
)
def test_any_instant_and_promise_give_deadlines_or_a_value_error(
    calendar: dict[str, Any],
    response: str,
    resolution: str,
    opened: datetime,
    acknowledged_after: timedelta | None,
) -> None:
    desk = BusinessCalendar.from_config(BusinessCalendarConfig.model_validate(calendar))
    plan = _plan(response, resolution)
    acknowledged = None
    if acknowledged_after is not None and opened.replace(tzinfo=None) < datetime(9000, 1, 1):
        acknowledged = opened + acknowledged_after
    try:
        deadlines = compute_deadlines(plan, desk, 1, opened, acknowledged)
    except ValueError as refused:
        text = str(refused)
        assert "\n" not in text
        assert "out of range" in text or "falls after the year 9999" in text
        return
    assert EARLIEST <= _utc(opened) < LATEST
    assert deadlines.response_due is not None and deadlines.resolution_due is not None
    assert _utc(deadlines.response_due) >= _utc(opened)
    start = deadlines.response_due if acknowledged is None else acknowledged
    assert _utc(deadlines.resolution_due) >= _utc(start)


@settings(max_examples=200, deadline=None)
@given(response=durations, resolution=durations, opened=instants)
def test_a_weekday_desk_has_deadlines_for_every_instant_in_range(
    response: str, resolution: str, opened: datetime
) -> None:
    desk = BusinessCalendar.from_config(BusinessCalendarConfig.model_validate(OFFICE))
    try:
        in_range = EARLIEST <= _utc(opened) < LATEST
    except OverflowError:
        in_range = False
    if in_range:
        deadlines = compute_deadlines(_plan(response, resolution), desk, 1, opened)
        assert deadlines.resolution_due is not None
    else:
        with pytest.raises(ValueError, match="is out of range: deadlines are computed for"):
            compute_deadlines(_plan(response, resolution), desk, 1, opened)


@settings(max_examples=200, deadline=None)
@given(
    opened=st.one_of(
        st.text(max_size=40),
        instants.map(datetime.isoformat),
        st.datetimes().map(datetime.isoformat),
    )
)
def test_the_report_reads_any_text_or_refuses_it_naming_the_argument(opened: str) -> None:
    plans = {"p": _plan("4bh", "1bd")}
    calendars = {"c": BusinessCalendarConfig.model_validate(OFFICE)}
    try:
        report = sla_report(calendars, plans, "p", 1, opened)
    except ValueError as refused:
        assert str(refused).startswith(f"opened time {opened!r} is ")
        assert "\n" not in str(refused)
    else:
        assert report["response_due"] is not None


@pytest.mark.parametrize(
    "opened",
    ["9999-12-31T23:00", "0001-01-01T00:00+01:00", "9999-12-31T23:59:59-14:00", "0001-01-01"],
)
def test_the_ends_of_time_are_out_of_range(opened: str) -> None:
    plans = {"p": _plan("4bh", "1bd")}
    calendars = {"c": BusinessCalendarConfig.model_validate(OFFICE)}
    with pytest.raises(ValueError) as refused:
        sla_report(calendars, plans, "p", 1, opened)
    assert str(refused.value) == (
        f"opened time {opened!r} is out of range: "
        "deadlines are computed for times from 1900 to 9899"
    )


def test_a_promise_past_the_year_9999_is_a_value_error() -> None:
    hour_a_week = {"timezone": "UTC", "days": ["mon"], "hours": "12:00-13:00"}
    desk = BusinessCalendar.from_config(BusinessCalendarConfig.model_validate(hour_a_week))
    opened = datetime(9899, 1, 1, tzinfo=UTC)  # 9999 weeks later is 10090
    with pytest.raises(ValueError, match="falls after the year 9999"):
        compute_deadlines(_plan("9999bh", "1h"), desk, 1, opened)
