"""The snapshot: checks worst first, tickets most severe and oldest first, the latest end of
the silences and windows covering each check, and whole seconds throughout."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta, timezone

import pytest

from mailwatch.domain.quiet import Silence
from mailwatch.domain.results import State
from mailwatch.domain.tickets import TicketStatus
from mailwatch.status.live import CheckStatus
from mailwatch.status.model import StoredFacts, assemble
from status.sample import INFO, NOW, checks, snapshot, stored, windows


def test_checks_worst_first_then_by_name() -> None:
    shown = snapshot()
    assert [(c.state, c.name) for c in shown.checks] == [
        (State.CRITICAL, "mx-main"),
        (State.UNKNOWN, "tls-main"),
        (State.WARNING, "disk"),
        (State.OK, "canary-main"),
        (State.OK, "smtp-banner"),
    ]
    assert shown.overall is State.CRITICAL


def test_tickets_most_severe_then_oldest_first_with_their_escalation_step() -> None:
    shown = snapshot()
    assert [(t.id, t.severity, t.state, t.escalation_step) for t in shown.tickets] == [
        ("MW-000123", 1, TicketStatus.TRIGGERED, 2),
        ("MW-000007", 3, TicketStatus.ACKNOWLEDGED, None),
        ("MW-000009", 3, TicketStatus.MITIGATED, 1),
    ]


def test_silenced_until_is_the_latest_end_of_what_covers_the_check() -> None:
    until = {c.name: c.silenced_until for c in snapshot().checks}
    assert until == {
        "mx-main": NOW.replace(microsecond=0) + timedelta(hours=2),  # its window, not "all"
        "tls-main": NOW.replace(microsecond=0) + timedelta(minutes=30),  # the silence of all
        "disk": NOW.replace(microsecond=0) + timedelta(hours=1, seconds=1),  # its own silence
        "canary-main": NOW.replace(microsecond=0) + timedelta(minutes=30),  # window not begun
        "smtp-banner": NOW.replace(microsecond=0) + timedelta(minutes=30),
    }


def test_of_two_equal_ends_the_silence_is_shown_with_its_offset() -> None:
    plus_one = timezone(timedelta(hours=1))
    end = NOW + timedelta(hours=2)
    silence = Silence(3, "mx-main", NOW, end.astimezone(plus_one), "move", "dave")
    facts = StoredFacts([], [silence], {})
    shown = assemble(NOW, INFO, checks(), facts, {}, windows(), ticket_prefix="MW-")
    mx = next(c for c in shown.checks if c.name == "mx-main")
    assert mx.silenced_until is not None
    assert mx.silenced_until.utcoffset() == timedelta(hours=1)


def test_instants_are_whole_seconds() -> None:
    shown = snapshot()
    instants = [shown.generated_at, shown.daemon.started_at]
    for c in shown.checks:
        instants += [c.since, c.last_run_at, c.last_ok_at, c.silenced_until]
    for t in shown.tickets:
        instants += [t.opened_at, t.acknowledged_at, t.response_due, t.resolution_due]
    assert all(i is None or i.microsecond == 0 for i in instants)
    assert shown.generated_at == datetime(2026, 11, 22, 10, 0, tzinfo=UTC) == shown.heartbeat_at


def test_no_checks_is_ok_and_a_check_not_run_yet_is_unknown() -> None:
    empty = StoredFacts([], [], {})
    assert assemble(NOW, INFO, [], empty, {}, [], ticket_prefix="MW-").overall is State.OK
    fresh = assemble(
        NOW, INFO, [CheckStatus("tls", "tls", "host:465")], empty, {}, [], ticket_prefix="X-"
    )
    (check,) = fresh.checks
    assert (check.state, check.summary, check.since, check.flapping) == (
        State.UNKNOWN,
        "not run yet",
        None,
        False,
    )


def test_the_snapshot_is_frozen_and_does_not_follow_the_live_record() -> None:
    live = checks()
    shown = assemble(NOW, INFO, live, stored(), {}, windows(), ticket_prefix="MW-")
    canary = next(c for c in live if c.name == "canary-main")
    canary.metrics["send_s"] = 9.0
    canary.state = State.CRITICAL
    shown_canary = next(c for c in shown.checks if c.name == "canary-main")
    assert (shown_canary.state, shown_canary.metrics["send_s"]) == (State.OK, 0.05)
    with pytest.raises(dataclasses.FrozenInstanceError):
        shown.overall = State.OK  # type: ignore[misc]
