"""Business calendars: open hours, holidays, closed dates and both DST changes.

Every expected instant is written by hand with its UTC offset. America/New_York in 2026:
EST (-05:00) until Sunday 8 March 02:00, when clocks jump to 03:00 EDT (-04:00); EDT until
Sunday 1 November 02:00, when clocks go back to 01:00 EST. US federal holidays used below:
Thanksgiving Thu 26 Nov, Christmas Fri 25 Dec, Independence Day observed Fri 3 Jul.
New York State adds Election Day Tue 3 Nov and Lincoln's Birthday Thu 12 Feb.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import holidays
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from mailwatch.config.sla import BusinessCalendarConfig
from mailwatch.sla.calendar import BusinessCalendar, DailyHours, localize

NEW_YORK = ZoneInfo("America/New_York")
WEEKDAYS = ["mon", "tue", "wed", "thu", "fri"]
EVERY_DAY = [*WEEKDAYS, "sat", "sun"]


def make_calendar(**overrides: Any) -> BusinessCalendar:
    fields: dict[str, Any] = {
        "timezone": "America/New_York",
        "days": WEEKDAYS,
        "hours": "09:00-17:00",
        "holidays": {"country": "US"},
        "closed": ["2026-12-24"],
    }
    fields.update(overrides)
    return BusinessCalendar.from_config(BusinessCalendarConfig.model_validate(fields))


US = make_calendar()
US_NY = make_calendar(holidays={"country": "US", "subdiv": "NY"})
# A desk open around the clock: business time is then plain elapsed time, DST included.
ALWAYS = make_calendar(days=EVERY_DAY, hours="00:00-24:00", holidays=None, closed=[])
# Hours that contain the skipped and the repeated hour of the DST changes.
NIGHT = make_calendar(days=EVERY_DAY, hours="01:00-05:00", holidays=None, closed=[])


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


# --- is_open -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("calendar", "instant", "expected"),
    [
        (US, "2026-11-23T09:00:00-05:00", True),  # Monday, exactly at opening
        (US, "2026-11-23T08:59:59-05:00", False),
        (US, "2026-11-23T16:59:59-05:00", True),
        (US, "2026-11-23T17:00:00-05:00", False),  # exactly at closing is outside hours
        (US, "2026-11-21T12:00:00-05:00", False),  # Saturday
        (US, "2026-11-22T12:00:00-05:00", False),  # Sunday
        (US, "2026-11-26T12:00:00-05:00", False),  # Thanksgiving
        (US, "2026-11-27T12:00:00-05:00", True),  # the Friday after is a working day
        (US, "2026-12-24T12:00:00-05:00", False),  # closed date
        (US, "2026-07-03T12:00:00-04:00", False),  # 4 July is a Saturday: observed Friday
        (US, "2026-11-23T14:00:00+00:00", True),  # 09:00 EST, given in UTC
        (US, "2026-11-23T22:00:00+00:00", False),  # 17:00 EST, given in UTC
        (US, "2026-06-15T13:00:00+00:00", True),  # 09:00 EDT
        (US, "2026-06-15T12:59:00+00:00", False),  # 08:59 EDT: summer opening follows EDT
        (US, "2026-11-03T12:00:00-05:00", True),  # Election Day: not a federal holiday
        (US_NY, "2026-11-03T12:00:00-05:00", False),  # ... but a New York one
        (US, "2026-02-12T12:00:00-05:00", True),  # Lincoln's Birthday: New York only
        (US_NY, "2026-02-12T12:00:00-05:00", False),
    ],
)
def test_is_open(calendar: BusinessCalendar, instant: str, expected: bool) -> None:
    assert calendar.is_open(at(instant)) is expected


def test_naive_instants_are_refused() -> None:
    with pytest.raises(ValueError, match="instant must be timezone-aware, got 2026-11-23T10:00"):
        US.is_open(datetime(2026, 11, 23, 10))
    with pytest.raises(ValueError, match="start must be timezone-aware"):
        US.add_business_hours(datetime(2026, 11, 23, 10), 4)


# --- next_opening ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("calendar", "instant", "expected"),
    [
        (US, "2026-11-23T10:00:00-05:00", "2026-11-23T10:00:00-05:00"),  # open: itself
        (US, "2026-11-23T09:00:00-05:00", "2026-11-23T09:00:00-05:00"),
        (US, "2026-11-23T07:00:00-05:00", "2026-11-23T09:00:00-05:00"),
        (US, "2026-11-23T17:00:00-05:00", "2026-11-24T09:00:00-05:00"),
        (US, "2026-11-20T18:00:00-05:00", "2026-11-23T09:00:00-05:00"),  # Friday evening
        (US, "2026-11-25T17:00:00-05:00", "2026-11-27T09:00:00-05:00"),  # over Thanksgiving
        # Thu 24 Dec closed, Fri 25 Christmas, then the weekend.
        (US, "2026-12-23T17:30:00-05:00", "2026-12-28T09:00:00-05:00"),
        (US, "2026-03-07T12:00:00-05:00", "2026-03-09T09:00:00-04:00"),  # over spring-forward
        (US, "2026-10-31T12:00:00-04:00", "2026-11-02T09:00:00-05:00"),  # over fall-back
        (US, "2026-07-02T17:00:00-04:00", "2026-07-06T09:00:00-04:00"),  # observed 4 July
        (US, "2026-11-02T17:00:00-05:00", "2026-11-03T09:00:00-05:00"),
        (US_NY, "2026-11-02T17:00:00-05:00", "2026-11-04T09:00:00-05:00"),  # Election Day
        (US, "2026-11-23T23:00:00+00:00", "2026-11-24T09:00:00-05:00"),  # result in the zone
    ],
)
def test_next_opening(calendar: BusinessCalendar, instant: str, expected: str) -> None:
    assert calendar.next_opening(at(instant)).isoformat() == expected


# --- add_business_hours ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("calendar", "start", "hours", "expected"),
    [
        (US, "2026-11-23T10:00:00-05:00", 4, "2026-11-23T14:00:00-05:00"),
        # Lands exactly on closing time: stays there, not moved to Tuesday 09:00.
        (US, "2026-11-23T13:00:00-05:00", 4, "2026-11-23T17:00:00-05:00"),
        (US, "2026-11-23T14:00:00-05:00", 4, "2026-11-24T10:00:00-05:00"),  # 3 h + 1 h
        (US, "2026-11-20T15:00:00-05:00", 4, "2026-11-23T11:00:00-05:00"),  # Fri 2 h + Mon 2 h
        (US, "2026-11-21T10:00:00-05:00", 4, "2026-11-23T13:00:00-05:00"),  # from Mon 09:00
        (US, "2026-11-23T07:00:00-05:00", 4, "2026-11-23T13:00:00-05:00"),  # before opening
        (US, "2026-11-23T09:00:00-05:00", 4, "2026-11-23T13:00:00-05:00"),  # at opening
        (US, "2026-11-23T17:00:00-05:00", 4, "2026-11-24T13:00:00-05:00"),  # at closing
        (US, "2026-11-23T09:00:00-05:00", 8, "2026-11-23T17:00:00-05:00"),  # a full day
        (US, "2026-11-23T09:00:00-05:00", 16, "2026-11-24T17:00:00-05:00"),
        # Mon 23, Tue 24, Wed 25, (Thanksgiving), Fri 27, Mon 30: five full days.
        (US, "2026-11-23T09:00:00-05:00", 40, "2026-11-30T17:00:00-05:00"),
        (US, "2026-11-25T15:00:00-05:00", 4, "2026-11-27T11:00:00-05:00"),  # over Thanksgiving
        # Wed 1 h; Thu 24 closed; Fri 25 Christmas; weekend; Mon 28 09:00 + 3 h.
        (US, "2026-12-23T16:00:00-05:00", 4, "2026-12-28T12:00:00-05:00"),
        # Over the spring-forward Sunday: Fri 2 h, Mon 2 h; the open hours are local hours.
        (US, "2026-03-06T15:00:00-05:00", 4, "2026-03-09T11:00:00-04:00"),
        # Over the fall-back Sunday.
        (US, "2026-10-30T15:00:00-04:00", 4, "2026-11-02T11:00:00-05:00"),
        (US, "2026-11-02T15:00:00-05:00", 4, "2026-11-03T11:00:00-05:00"),
        (US_NY, "2026-11-02T15:00:00-05:00", 4, "2026-11-04T11:00:00-05:00"),  # Election Day
        (US, "2026-11-23T15:00:00+00:00", 4, "2026-11-23T14:00:00-05:00"),  # 10:00 EST in UTC
        # Around the clock over spring-forward: Saturday 22:00 EST is 03:00Z; four real
        # hours later is 07:00Z, which is 03:00 EDT (the local clock moved five hours).
        (ALWAYS, "2026-03-07T22:00:00-05:00", 4, "2026-03-08T03:00:00-04:00"),
        # Around the clock over fall-back: 23:00 EDT is 03:00Z; 07:00Z is 02:00 EST.
        (ALWAYS, "2026-10-31T23:00:00-04:00", 4, "2026-11-01T02:00:00-05:00"),
        # 01:00-05:00 on the spring Sunday: 01:00 EST (06:00Z) to 05:00 EDT (09:00Z) is only
        # three real hours, so the fourth hour is Monday 01:00-02:00 EDT.
        (NIGHT, "2026-03-08T01:00:00-05:00", 3, "2026-03-08T05:00:00-04:00"),
        (NIGHT, "2026-03-08T01:00:00-05:00", 4, "2026-03-09T02:00:00-04:00"),
        # 01:00-05:00 on the autumn Sunday: 01:00 EDT (05:00Z, the first 01:00) to 05:00 EST
        # (10:00Z) is five real hours.
        (NIGHT, "2026-11-01T01:00:00-04:00", 5, "2026-11-01T05:00:00-05:00"),
    ],
)
def test_add_business_hours(
    calendar: BusinessCalendar, start: str, hours: int, expected: str
) -> None:
    assert calendar.add_business_hours(at(start), hours).isoformat() == expected


def test_zero_business_time_from_outside_hours_is_the_next_opening() -> None:
    friday_evening = at("2026-11-20T18:00:00-05:00")
    assert US.add_business_hours(friday_evening, 0).isoformat() == "2026-11-23T09:00:00-05:00"


def test_negative_business_time_is_refused() -> None:
    with pytest.raises(ValueError, match="negative business time"):
        US.add_business_time(at("2026-11-23T10:00:00-05:00"), timedelta(minutes=-1))


# --- add_business_days -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("calendar", "start", "days", "expected"),
    [
        (US, "2026-11-20T15:00:00-05:00", 1, "2026-11-23T15:00:00-05:00"),  # Fri -> Mon
        # Saturday 10:00 is outside hours: Monday 09:00 is the start, due Tuesday 09:00.
        (US, "2026-11-21T10:00:00-05:00", 1, "2026-11-24T09:00:00-05:00"),
        # Exactly at closing is outside hours: Tuesday 09:00 is the start.
        (US, "2026-11-23T17:00:00-05:00", 1, "2026-11-25T09:00:00-05:00"),
        (US, "2026-11-23T07:00:00-05:00", 1, "2026-11-24T09:00:00-05:00"),
        (US, "2026-11-23T09:00:00-05:00", 1, "2026-11-24T09:00:00-05:00"),
        (US, "2026-11-23T16:59:00-05:00", 1, "2026-11-24T16:59:00-05:00"),
        (US, "2026-11-25T10:00:00-05:00", 1, "2026-11-27T10:00:00-05:00"),  # over Thanksgiving
        (US, "2026-12-23T10:00:00-05:00", 1, "2026-12-28T10:00:00-05:00"),  # closed + Christmas
        # Tue 24, Wed 25, (Thanksgiving), Fri 27, Mon 30, Tue 1 Dec.
        (US, "2026-11-23T10:00:00-05:00", 5, "2026-12-01T10:00:00-05:00"),
        # Same local time across DST: 71 real hours in spring, 73 in autumn.
        (US, "2026-03-06T15:00:00-05:00", 1, "2026-03-09T15:00:00-04:00"),
        (US, "2026-10-30T15:00:00-04:00", 1, "2026-11-02T15:00:00-05:00"),
        (US_NY, "2026-11-02T10:00:00-05:00", 1, "2026-11-04T10:00:00-05:00"),  # Election Day
        (US, "2026-11-21T10:00:00-05:00", 0, "2026-11-23T09:00:00-05:00"),  # just the start
        # The working day after a Saturday 01:30 EST start on the NIGHT desk is Sunday 8
        # March, whose 01:30 exists (the jump is at 02:00).
        (NIGHT, "2026-03-07T01:30:00-05:00", 1, "2026-03-08T01:30:00-05:00"),
        # From Saturday 02:30 EST the same local time on Sunday does not exist: it is the
        # instant of the jump, 03:00 EDT.
        (NIGHT, "2026-03-07T02:30:00-05:00", 1, "2026-03-08T03:00:00-04:00"),
        # 01:30 happens twice on 1 November: the first one (EDT) is used.
        (NIGHT, "2026-10-31T01:30:00-04:00", 1, "2026-11-01T01:30:00-04:00"),
    ],
)
def test_add_business_days(
    calendar: BusinessCalendar, start: str, days: int, expected: str
) -> None:
    assert calendar.add_business_days(at(start), days).isoformat() == expected


# --- local times that do not exist or exist twice ------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "naive", "expected"),
    [
        ("America/New_York", "2026-11-23T09:00:00", "2026-11-23T09:00:00-05:00"),
        ("America/New_York", "2026-03-08T02:30:00", "2026-03-08T03:00:00-04:00"),  # skipped
        ("America/New_York", "2026-03-08T02:00:00", "2026-03-08T03:00:00-04:00"),  # skipped
        ("America/New_York", "2026-03-08T03:00:00", "2026-03-08T03:00:00-04:00"),
        ("America/New_York", "2026-11-01T01:30:00", "2026-11-01T01:30:00-04:00"),  # first one
        ("America/New_York", "2026-11-01T02:00:00", "2026-11-01T02:00:00-05:00"),
        # Athens jumps from 03:00 EET to 04:00 EEST on Sunday 29 March 2026.
        ("Europe/Athens", "2026-03-29T03:30:00", "2026-03-29T04:00:00+03:00"),
        ("Europe/Athens", "2026-10-25T03:30:00", "2026-10-25T03:30:00+03:00"),  # first one
    ],
)
def test_localize(zone: str, naive: str, expected: str) -> None:
    assert localize(datetime.fromisoformat(naive), ZoneInfo(zone)).isoformat() == expected


def test_opening_time_inside_the_skipped_hour_opens_at_the_jump() -> None:
    desk = make_calendar(days=EVERY_DAY, hours="02:30-04:00", holidays=None, closed=[])
    sunday_early = at("2026-03-08T01:00:00-05:00")
    assert desk.next_opening(sunday_early).isoformat() == "2026-03-08T03:00:00-04:00"
    assert desk.is_open(at("2026-03-08T03:15:00-04:00"))
    # 03:00 to 04:00 EDT: one real hour that Sunday.
    assert desk.add_business_hours(sunday_early, 1).isoformat() == "2026-03-08T04:00:00-04:00"


def test_hours_entirely_inside_the_skipped_hour_do_not_open_that_day() -> None:
    desk = make_calendar(days=EVERY_DAY, hours="02:15-02:45", holidays=None, closed=[])
    sunday_early = at("2026-03-08T01:00:00-05:00")
    assert desk.next_opening(sunday_early).isoformat() == "2026-03-09T02:15:00-04:00"


# --- holidays are loaded once per calendar, per year, when needed --------------------------------


def test_holidays_load_lazily_once_per_calendar(monkeypatch: pytest.MonkeyPatch) -> None:
    tables: list[holidays.HolidayBase] = []
    real = holidays.country_holidays

    def recording(country: str, subdiv: str | None = None) -> holidays.HolidayBase:
        table = real(country, subdiv=subdiv)
        tables.append(table)
        return table

    monkeypatch.setattr(holidays, "country_holidays", recording)
    calendar = make_calendar()
    assert len(tables) == 1
    assert tables[0].years == set()
    calendar.add_business_days(at("2026-12-30T10:00:00-05:00"), 2)  # into January 2027
    calendar.is_open(at("2026-06-15T10:00:00-04:00"))
    assert len(tables) == 1
    assert tables[0].years == {2026, 2027}


# --- config validation: exact messages -----------------------------------------------------------


def config_error(**overrides: Any) -> tuple[tuple[int | str, ...], str]:
    fields: dict[str, Any] = {"timezone": "America/New_York", "hours": "09:00-17:00"}
    fields.update(overrides)
    with pytest.raises(ValidationError) as excinfo:
        BusinessCalendarConfig.model_validate(fields)
    errors = excinfo.value.errors()
    assert len(errors) == 1, errors
    return tuple(errors[0]["loc"]), errors[0]["msg"]


@pytest.mark.parametrize(
    ("overrides", "loc", "message"),
    [
        (
            {"timezone": "Mars/Olympus_Mons"},
            ("timezone",),
            "unknown time zone 'Mars/Olympus_Mons': use an IANA name such as 'America/New_York'",
        ),
        (
            {"timezone": "../../etc/passwd"},
            ("timezone",),
            "unknown time zone '../../etc/passwd': use an IANA name such as 'America/New_York'",
        ),
        (
            {"hours": "22:00-06:00"},
            ("hours",),
            "invalid hours '22:00-06:00': hours may not wrap past midnight; the closing time "
            "must be later than the opening time (use 24:00 for midnight)",
        ),
        (
            {"hours": "9-17"},
            ("hours",),
            "invalid hours '9-17': expected HH:MM-HH:MM in 24-hour time, e.g. '09:00-17:00'",
        ),
        (
            {"hours": "9:00-17:00"},
            ("hours",),
            "invalid hours '9:00-17:00': expected HH:MM-HH:MM in 24-hour time, e.g. '09:00-17:00'",
        ),
        (
            {"hours": "09:00-09:00"},
            ("hours",),
            "invalid hours '09:00-09:00': opening and closing time are the same",
        ),
        (
            {"hours": "24:00-24:00"},
            ("hours",),
            "invalid hours '24:00-24:00': 24:00 is not a time of day",
        ),
        (
            {"hours": "09:60-17:00"},
            ("hours",),
            "invalid hours '09:60-17:00': 09:60 is not a time of day",
        ),
        (
            {"hours": "09:00-24:30"},
            ("hours",),
            "invalid hours '09:00-24:30': 24:30 is not a time of day (24:00 is the latest)",
        ),
        ({"days": []}, ("days",), "a calendar needs at least one working day"),
        ({"days": ["mon", "tue", "mon"]}, ("days",), "days listed more than once: mon"),
        (
            {"days": ["monday"]},
            ("days", 0),
            "Input should be 'mon', 'tue', 'wed', 'thu', 'fri', 'sat' or 'sun'",
        ),
        (
            {"holidays": {"country": "XX"}},
            ("holidays",),
            "the holidays package does not know country 'XX': use an ISO 3166-1 alpha-2 code "
            "such as 'US', 'GR' or 'DE'",
        ),
        (
            {"holidays": {"country": "GR", "subdiv": "NY"}},
            ("holidays",),
            "the holidays package does not know subdivision 'NY' of GR; known subdivisions: none",
        ),
        ({"holidays": {"country": "US", "state": "NY"}}, ("holidays", "state"), None),
        ({"weekend": ["sat"]}, ("weekend",), None),
        ({"closed": ["2026-02-30"]}, ("closed", 0), None),
    ],
)
def test_calendar_config_errors(
    overrides: dict[str, Any], loc: tuple[int | str, ...], message: str | None
) -> None:
    got_loc, got_message = config_error(**overrides)
    assert got_loc == loc
    if message is not None:
        assert got_message.removeprefix("Value error, ") == message


def test_unknown_subdivision_lists_the_known_ones() -> None:
    _, message = config_error(holidays={"country": "US", "subdiv": "ZZ"})
    assert message.startswith(
        "Value error, the holidays package does not know subdivision 'ZZ' of US; "
        "known subdivisions: AK, AL, AR,"
    )


def test_calendar_config_defaults_and_dates() -> None:
    config = BusinessCalendarConfig.model_validate(
        {"timezone": "Europe/Athens", "hours": "00:00-24:00", "closed": [date(2026, 12, 24)]}
    )
    assert config.days == ("mon", "tue", "wed", "thu", "fri")
    assert config.holidays is None
    assert config.closed == (date(2026, 12, 24),)
    assert DailyHours.parse(config.hours) == DailyHours(0, 1440)


# --- properties ----------------------------------------------------------------------------------

# Minute-aligned instants over two years (holidays, closed dates, four DST changes).
minutes = st.integers(min_value=0, max_value=2 * 365 * 24 * 60)
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


def minute(n: int) -> datetime:
    return EPOCH + timedelta(minutes=n)


def lands_open_or_at_closing(calendar: BusinessCalendar, instant: datetime) -> bool:
    return calendar.is_open(instant) or calendar.is_open(instant - timedelta(microseconds=1))


@given(start=minutes, amount=st.integers(min_value=0, max_value=60 * 60))
def test_business_time_lands_inside_hours_or_exactly_at_closing(start: int, amount: int) -> None:
    due = US.add_business_time(minute(start), timedelta(minutes=amount))
    assert due >= minute(start)
    assert lands_open_or_at_closing(US, due)


@given(
    start=minutes,
    first=st.integers(min_value=0, max_value=30 * 60),
    second=st.integers(min_value=1, max_value=30 * 60),
)
def test_business_time_adds_up(start: int, first: int, second: int) -> None:
    # `second` is at least a minute: adding zero from a closing time moves to the next
    # opening, while a deadline that lands on closing time stays there.
    a, b = timedelta(minutes=first), timedelta(minutes=second)
    in_one_go = US.add_business_time(minute(start), a + b)
    in_two_steps = US.add_business_time(US.add_business_time(minute(start), a), b)
    assert in_one_go == in_two_steps


@given(
    earlier=minutes,
    gap=st.integers(min_value=0, max_value=10 * 24 * 60),
    hours=st.integers(min_value=0, max_value=80),
)
def test_business_hours_are_monotone_in_the_start(earlier: int, gap: int, hours: int) -> None:
    first = US.add_business_hours(minute(earlier), hours)
    second = US.add_business_hours(minute(earlier + gap), hours)
    assert first <= second


@settings(max_examples=40)
@given(start=minutes, amount=st.integers(min_value=1, max_value=4 * 60))
def test_business_time_matches_counting_open_minutes(start: int, amount: int) -> None:
    # An oracle that only asks is_open, minute by minute: the 09:00-17:00 boundaries fall
    # on whole minutes, so each minute is wholly open or wholly closed.
    counted, cursor = 0, minute(start)
    while counted < amount:
        if US.is_open(cursor):
            counted += 1
        cursor += timedelta(minutes=1)
    assert US.add_business_time(minute(start), timedelta(minutes=amount)) == cursor


@given(start=minutes, days=st.integers(min_value=1, max_value=10))
def test_business_days_keep_the_local_time_of_the_start(start: int, days: int) -> None:
    begin = US.next_opening(minute(start))
    due = US.add_business_days(minute(start), days)
    assert due.time() == begin.time()
    assert US.is_open(due)
    assert due > begin
    assert US.add_business_days(minute(start), days + 1) > due
