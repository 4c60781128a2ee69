"""The pure incident engine: a table per transition, and hypothesis properties over arbitrary
result sequences of several checks (some depending on others) with people acting on tickets."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers.builders import PLANS, T0, config, minutes, result
from helpers.oracles import replay, replayable
from mailwatch.domain.checkstate import CheckState
from mailwatch.domain.errors import AlreadyDoneError, TicketActionError
from mailwatch.domain.quiet import Quiet
from mailwatch.domain.results import State
from mailwatch.domain.tickets import Ticket, TicketStatus, dedup_key
from mailwatch.domain.timeline import EventType, TicketEvent
from mailwatch.incidents.engine import (
    Decision,
    EngineContext,
    acknowledge,
    evaluate,
    mitigate,
    on_tick,
    resolve,
)
from mailwatch.incidents.policy import IncidentPolicy, policy_for
from mailwatch.incidents.severity import default_severity

OK, WARN, CRIT, UNKN = State.OK, State.WARNING, State.CRITICAL, State.UNKNOWN
ONE_MINUTE = timedelta(minutes=1)
MAINTENANCE = Quiet("maintenance", "maintenance window 'patching'", T0 + timedelta(hours=2))


def fresh(check: str = "canary") -> CheckState:
    return CheckState(dedup_key(check, check), check, check)


def feed(
    states: Sequence[State],
    policy: IncidentPolicy | None = None,
    *,
    state: CheckState | None = None,
    context: EngineContext | None = None,
    start: datetime = T0,
    step: timedelta = ONE_MINUTE,
    **result_args: object,
) -> tuple[CheckState, list[Decision]]:
    """Run results through the engine, numbering tickets as the store would."""
    policy = policy or IncidentPolicy()
    state = state or fresh()
    context = context or EngineContext()
    decisions = []
    for i, s in enumerate(states):
        now = start + i * step
        decision = evaluate(state, result(s, now, **result_args), policy, now, context)  # type: ignore[arg-type]
        if decision.opened is not None:
            context = replace(context, next_ticket_number=context.next_ticket_number + 1)
        decisions.append(decision)
        state = decision.state
    return state, decisions


def types(decisions: Sequence[Decision]) -> list[list[str]]:
    return [[e.type.value for e in d.events] for d in decisions]


# --------------------------------------------------------------------------------------------
# Opening and resolving
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("states", "open_after", "expected"),
    [
        ([CRIT], 2, [[]]),
        ([CRIT, CRIT], 2, [[], ["ticket_opened"]]),
        ([CRIT], 1, [["ticket_opened"]]),
        ([CRIT, OK, CRIT], 2, [[], [], []]),
        # Warnings and unknowns are not ok: they count towards opening too.
        ([WARN, UNKN, CRIT], 3, [[], [], ["ticket_opened"]]),
        ([CRIT, CRIT, CRIT, CRIT], 2, [[], ["ticket_opened"], [], []]),
    ],
)
def test_opens_after_n_consecutive_failures(
    states: list[State], open_after: int, expected: list[list[str]]
) -> None:
    _, decisions = feed(states, IncidentPolicy(open_after=open_after))
    assert types(decisions) == expected


def test_open_after_s_opens_once_failing_for_that_long() -> None:
    policy = IncidentPolicy(open_after=99, open_after_s=120)
    _, decisions = feed([CRIT, CRIT, CRIT, CRIT], policy, step=minutes(1))
    # Failing since T0: at T0+2min it has failed for 120 s.
    assert types(decisions) == [[], [], ["ticket_opened"], []]
    assert decisions[2].events[0].payload["failing_since"] == T0.isoformat()


def test_opened_ticket_fields() -> None:
    state, decisions = feed(
        [CRIT, CRIT], context=EngineContext(next_ticket_number=41), summary="canary not delivered"
    )
    ticket = state.ticket
    assert ticket is not None
    assert ticket.number == 41
    assert ticket.status is TicketStatus.TRIGGERED
    assert ticket.severity == 1  # roundtrip not_delivered
    assert ticket.opened_at == T0 + minutes(1)
    assert ticket.last_stage == "not_delivered"
    assert ticket.last_summary == "canary not delivered"
    event = decisions[1].events[0]
    assert event.notify is True
    assert event.actor == "mailwatch"
    assert event.payload["consecutive_failures"] == 2
    assert event.payload["summary"] == "canary not delivered"


@pytest.mark.parametrize(
    ("tail", "resolve_after", "resolved_at"),
    [
        ([OK], 2, None),
        ([OK, OK], 2, 1),
        ([OK, CRIT, OK, OK], 2, 3),
        ([OK, OK, OK], 3, 2),
        ([OK], 1, 0),
    ],
)
def test_resolves_after_m_consecutive_ok(
    tail: list[State], resolve_after: int, resolved_at: int | None
) -> None:
    policy = IncidentPolicy(open_after=1, resolve_after=resolve_after)
    state, decisions = feed([CRIT, *tail], policy)
    after = decisions[1:]
    resolved = [i for i, d in enumerate(after) if "ticket_resolved" in types([d])[0]]
    assert resolved == ([] if resolved_at is None else [resolved_at])
    if resolved_at is not None:
        event = next(e for e in after[resolved_at].events if e.type is EventType.TICKET_RESOLVED)
        assert event.actor == "mailwatch"
        assert event.notify is True
        plural = "" if resolve_after == 1 else "s"
        assert event.note == f"recovered: {resolve_after} consecutive ok result{plural}"
        assert state.ticket is None or resolved_at != len(after) - 1


def test_failure_after_resolution_opens_a_new_linked_ticket() -> None:
    policy = IncidentPolicy(open_after=1, resolve_after=1)
    state, decisions = feed([CRIT, OK, CRIT], policy, context=EngineContext(next_ticket_number=7))
    assert state.ticket is not None
    assert state.ticket.number == 8
    assert state.ticket.previous_ticket == 7
    assert decisions[2].events[0].payload["previous_ticket"] == 7


def test_stage_change_is_on_the_timeline() -> None:
    policy = IncidentPolicy(open_after=1)
    state, _ = feed([CRIT], policy)
    decision = evaluate(
        state,
        result(CRIT, T0 + minutes(1), stage="smtp_connect"),
        policy,
        T0 + minutes(1),
        EngineContext(next_ticket_number=2),
    )
    assert types([decision]) == [["stage_changed"]]
    assert decision.state.ticket is not None
    assert decision.state.ticket.last_stage == "smtp_connect"
    assert decision.events[0].notify is False


# --------------------------------------------------------------------------------------------
# Severity
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "stage", "state", "severity"),
    [
        ("roundtrip", "not_delivered", CRIT, 1),
        ("roundtrip", "smtp_connect", CRIT, 1),
        ("roundtrip", "imap_auth", CRIT, 1),
        ("roundtrip", "slow", CRIT, 2),
        ("roundtrip", "slow", WARN, 3),
        ("roundtrip", "delivered_to_spam", WARN, 2),
        ("roundtrip", "cleanup", WARN, 3),
        ("mx", "mx_connect", CRIT, 1),
        ("mx", "mx_connect", WARN, 3),  # some MX hosts down, not all
        ("mx", "mx_missing", CRIT, 1),
        ("dnsbl", "dnsbl_listed", CRIT, 1),
        ("dnsbl", "dnsbl_refused", UNKN, 3),
        ("resources", "disk", CRIT, 2),
        ("resources", "disk", WARN, 3),
        ("queue", "queue_size", CRIT, 2),
        ("tls", "cert_expiring", WARN, 3),
        ("service", "connect", CRIT, 2),
        ("roundtrip", None, OK, 4),
    ],
)
def test_severity_table(kind: str, stage: str | None, state: State, severity: int) -> None:
    assert default_severity(kind, stage, state) == severity


def test_severity_rises_while_open_and_never_falls() -> None:
    policy = IncidentPolicy(open_after=1)
    state, _ = feed([WARN], policy, stage="slow")
    assert state.ticket is not None and state.ticket.severity == 3
    state, more = feed(
        [CRIT, WARN], policy, state=state, start=T0 + minutes(1), stage="not_delivered"
    )
    raised = [e for e in more[0].events if e.type is EventType.SEVERITY_RAISED]
    assert len(raised) == 1
    assert raised[0].payload["severity"] == 1
    assert raised[0].payload["previous_severity"] == 3
    assert raised[0].notify is True
    assert state.ticket is not None and state.ticket.severity == 1
    assert all(e.type is not EventType.SEVERITY_RAISED for e in more[1].events)


def test_configured_severity_overrides_the_table() -> None:
    state, _ = feed([CRIT], IncidentPolicy(open_after=1, severity=4))
    assert state.ticket is not None and state.ticket.severity == 4


# --------------------------------------------------------------------------------------------
# Flapping
# --------------------------------------------------------------------------------------------


def test_flapping_holds_the_ticket_open_and_notifications_back() -> None:
    policy = IncidentPolicy(open_after=1, resolve_after=1)
    # Alternating results: the ticket opens, resolves, reopens... until flapping starts.
    state, decisions = feed([CRIT, OK] * 12, policy)
    started = [i for i, d in enumerate(decisions) if "flapping_started" in types([d])[0]]
    assert len(started) == 1
    assert state.flapping
    after_start = decisions[started[0] + 1 :]
    # While flapping nothing resolves, so the ticket stays open ...
    assert all("ticket_resolved" not in t for t in types(after_start))
    assert state.ticket is not None
    # ... and settles: ok results bring the percentage down; flapping stops and, with
    # enough ok results, the ticket resolves.
    state, calm = feed([OK] * 25, policy, state=state, start=T0 + minutes(30))
    kinds = [t for ts in types(calm) for t in ts]
    assert "flapping_stopped" in kinds
    assert kinds.index("ticket_resolved") >= kinds.index("flapping_stopped")
    assert state.ticket is None


def test_ticket_opened_while_flapping_is_not_notified() -> None:
    policy = IncidentPolicy(open_after=1, resolve_after=1, flap_high_percent=5, flap_low_percent=1)
    _, decisions = feed([OK, OK, CRIT], policy)
    opened = decisions[2]
    kinds = {e.type: e for e in opened.events}
    assert EventType.FLAPPING_STARTED in kinds  # 6.25 % >= 5 %
    assert kinds[EventType.TICKET_OPENED].notify is False
    assert opened.state.held is True


# --------------------------------------------------------------------------------------------
# Dependencies
# --------------------------------------------------------------------------------------------


def test_dependent_failures_go_on_the_parent_timeline_once() -> None:
    context = EngineContext(next_ticket_number=5, parent_ticket=3, parent_check="imap")
    state, decisions = feed([CRIT, CRIT, CRIT, CRIT], IncidentPolicy(open_after=2), context=context)
    assert state.ticket is None
    assert types(decisions) == [["dependent_failure"], [], [], []]
    event = decisions[0].events[0]
    assert event.ticket == 3
    assert event.check == "canary"
    assert event.payload["dependent_check"] == "canary"
    assert event.notify is False
    state, recovered = feed([OK], state=state, context=context, start=T0 + minutes(5))
    assert types(recovered) == [["dependent_recovered"]]
    assert recovered[0].events[0].ticket == 3


def test_dependent_opens_its_own_ticket_once_the_parent_is_resolved() -> None:
    parent_open = EngineContext(next_ticket_number=5, parent_ticket=3, parent_check="imap")
    state, _ = feed([CRIT, CRIT, CRIT], IncidentPolicy(open_after=2), context=parent_open)
    state, decisions = feed([CRIT], state=state, context=EngineContext(next_ticket_number=5))
    assert types(decisions) == [["ticket_opened"]]


# --------------------------------------------------------------------------------------------
# Maintenance and silences
# --------------------------------------------------------------------------------------------


def test_maintenance_records_and_opens_but_notifies_nothing_then_reannounces() -> None:
    quiet = EngineContext(next_ticket_number=1, quiet=MAINTENANCE)
    state, decisions = feed([CRIT, CRIT, CRIT], IncidentPolicy(open_after=2), context=quiet)
    assert state.ticket is not None
    assert all(not e.notify for d in decisions for e in d.events)
    assert state.held is True
    # The window ends: the next tick re-announces the open ticket once.
    later = T0 + timedelta(hours=3)
    decision = on_tick(state, IncidentPolicy(), later, EngineContext(next_ticket_number=2))
    assert [(e.type, e.notify) for e in decision.events] == [
        (EventType.NOTIFICATIONS_RESUMED, True)
    ]
    assert decision.state.held is False
    again = on_tick(decision.state, IncidentPolicy(), later, EngineContext(next_ticket_number=2))
    assert again.events == []


def test_ticket_resolved_inside_the_window_is_not_reannounced() -> None:
    quiet = EngineContext(quiet=MAINTENANCE)
    policy = IncidentPolicy(open_after=1, resolve_after=1)
    state, decisions = feed([CRIT, OK], policy, context=quiet)
    assert state.ticket is None
    assert state.held is False
    assert all(not e.notify for d in decisions for e in d.events)


# --------------------------------------------------------------------------------------------
# SLA clocks
# --------------------------------------------------------------------------------------------


def sla_policy(**changes: object) -> IncidentPolicy:
    cfg = config(**PLANS, incidents={"default_plan": "premium"})
    return replace(policy_for(cfg, "canary"), **changes)  # type: ignore[arg-type]


def test_new_ticket_gets_deadlines_and_breaches_are_events_once() -> None:
    policy = sla_policy(open_after=1)
    state, _ = feed([CRIT], policy)  # severity 1 at T0: response 1h, resolution 4h after that
    ticket = state.ticket
    assert ticket is not None
    assert ticket.plan == "premium"
    assert ticket.response_due == T0 + timedelta(hours=1)
    assert ticket.resolution_due == T0 + timedelta(hours=5)
    early = on_tick(state, policy, T0 + minutes(59), EngineContext())
    assert early.events == []
    late = on_tick(state, policy, T0 + minutes(61), EngineContext())
    assert [e.type for e in late.events] == [EventType.SLA_BREACHED_RESPONSE]
    assert late.events[0].notify is True
    assert late.state.ticket is not None and late.state.ticket.response_breached
    assert on_tick(late.state, policy, T0 + minutes(62), EngineContext()).events == []


def test_acknowledging_restarts_the_resolution_clock() -> None:
    policy = sla_policy(open_after=1)
    state, _ = feed([CRIT], policy)
    assert state.ticket is not None
    at = T0 + minutes(10)
    decision = acknowledge(state, state.ticket, "alice", "on it", policy, at, EngineContext())
    ticket = decision.state.ticket
    assert ticket is not None
    assert ticket.status is TicketStatus.ACKNOWLEDGED
    assert (ticket.acknowledged_at, ticket.acknowledged_by) == (at, "alice")
    assert ticket.resolution_due == at + timedelta(hours=4)
    event = decision.events[-1]
    assert (event.type, event.actor, event.note, event.notify) == (
        EventType.ACKNOWLEDGED,
        "alice",
        "on it",
        True,
    )
    # No response breach any more: the response was given.
    assert on_tick(decision.state, policy, T0 + minutes(90), EngineContext()).events == []


def test_late_acknowledgement_records_the_breach_first() -> None:
    policy = sla_policy(open_after=1)
    state, _ = feed([CRIT], policy)
    assert state.ticket is not None
    decision = acknowledge(
        state, state.ticket, "bob", None, policy, T0 + minutes(75), EngineContext()
    )
    assert [e.type for e in decision.events] == [
        EventType.SLA_BREACHED_RESPONSE,
        EventType.ACKNOWLEDGED,
    ]


# --------------------------------------------------------------------------------------------
# People
# --------------------------------------------------------------------------------------------


def opened_state() -> CheckState:
    state, _ = feed([CRIT], IncidentPolicy(open_after=1))
    return state


def test_ack_twice_and_ack_after_mitigation_are_refused() -> None:
    state = opened_state()
    assert state.ticket is not None
    acked = acknowledge(state, state.ticket, "a", None, IncidentPolicy(), T0, EngineContext())
    assert acked.state.ticket is not None
    with pytest.raises(TicketActionError, match="already acknowledged"):
        acknowledge(
            acked.state, acked.state.ticket, "b", None, IncidentPolicy(), T0, EngineContext()
        )
    mitigated = mitigate(state, state.ticket, "c", "rerouted", T0, EngineContext())
    assert mitigated.state.ticket is not None
    assert mitigated.state.ticket.acknowledged_by == "c"  # a workaround is a response
    with pytest.raises(TicketActionError, match="already mitigated"):
        acknowledge(
            mitigated.state,
            mitigated.state.ticket,
            "d",
            None,
            IncidentPolicy(),
            T0,
            EngineContext(),
        )


def test_resolved_ticket_refuses_every_action_but_a_repeated_resolve() -> None:
    state = opened_state()
    assert state.ticket is not None
    done = resolve(state, state.ticket, "alice", "fixed the relay", T0, EngineContext())
    ticket = done.tickets[0]
    assert ticket.status is TicketStatus.RESOLVED
    assert (ticket.resolved_by, ticket.resolution_note) == ("alice", "fixed the relay")
    for action in (
        lambda: acknowledge(done.state, ticket, "x", None, IncidentPolicy(), T0, EngineContext()),
        lambda: mitigate(done.state, ticket, "x", "n", T0, EngineContext()),
    ):
        with pytest.raises(TicketActionError, match="was resolved") as refused:
            action()
        assert not isinstance(refused.value, AlreadyDoneError)
    # Resolving again asks for what is already so: a no-op the CLI reports with exit 0.
    with pytest.raises(AlreadyDoneError, match="already resolved") as repeated:
        resolve(done.state, ticket, "x", "n", T0, EngineContext())
    assert (repeated.value.done, repeated.value.by, repeated.value.at) == ("resolved", "alice", T0)


def test_resolving_by_hand_restarts_the_failure_streak() -> None:
    policy = IncidentPolicy(open_after=2)
    state, _ = feed([CRIT, CRIT], policy)
    assert state.ticket is not None
    done = resolve(state, state.ticket, "alice", "known issue", T0 + minutes(2), EngineContext())
    assert done.state.ticket is None and done.state.bad_streak == 0
    state, decisions = feed(
        [CRIT, CRIT],
        policy,
        state=done.state,
        context=EngineContext(next_ticket_number=2),
        start=T0 + minutes(3),
    )
    assert types(decisions) == [[], ["ticket_opened"]]
    assert state.ticket is not None and state.ticket.previous_ticket == 1


# --------------------------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------------------------

CHECKS = ("imap", "route-a", "route-b", "mx")
PARENTS = {"route-a": ("imap",), "route-b": ("imap",)}


@dataclass
class World:
    """An in-memory store doing what the processor does, for property tests."""

    policy: IncidentPolicy
    states: dict[str, CheckState] = field(default_factory=dict)
    tickets: dict[int, Ticket] = field(default_factory=dict)
    events: list[TicketEvent] = field(default_factory=list)
    results: dict[str, list[State]] = field(default_factory=dict)
    last_number: int = 0
    numbers_handed_out: list[int] = field(default_factory=list)

    def state(self, check: str) -> CheckState:
        key = dedup_key(check, check)
        state = self.states.get(key, CheckState(key, check, check))
        open_ticket = next(
            (t for t in self.tickets.values() if t.dedup_key == key and t.is_open), None
        )
        return replace(state, ticket=open_ticket)

    def context(self, check: str, quiet: bool, now: datetime) -> EngineContext:
        parent = next(
            (
                (t.number, t.check)
                for name in PARENTS.get(check, ())
                for t in self.tickets.values()
                if t.check == name and t.is_open
            ),
            (None, None),
        )
        return EngineContext(
            next_ticket_number=self.last_number + 1,
            parent_ticket=parent[0],
            parent_check=parent[1],
            quiet=Quiet("silence", "test", now + timedelta(hours=1)) if quiet else None,
        )

    def store(self, decision: Decision) -> None:
        opened = decision.opened
        if opened is not None:
            assert opened.number == self.last_number + 1
            self.last_number = opened.number
            self.numbers_handed_out.append(opened.number)
        for ticket in decision.tickets:
            self.tickets[ticket.number] = ticket
        self.states[decision.state.dedup_key] = replace(decision.state, ticket=None)
        self.events += decision.events

    def check_invariants(self) -> None:
        keys = [t.dedup_key for t in self.tickets.values() if t.is_open]
        assert len(keys) == len(set(keys)), "two open tickets for one dedup key"
        assert len(self.numbers_handed_out) == len(set(self.numbers_handed_out))
        assert self.numbers_handed_out == sorted(self.numbers_handed_out)
        for number, ticket in self.tickets.items():
            timeline = [e for e in self.events if e.ticket == number]
            assert replayable(replay(timeline)) == replayable(ticket)


step = st.one_of(
    st.tuples(
        st.just("result"),
        st.sampled_from(CHECKS),
        st.sampled_from([OK, OK, WARN, CRIT, UNKN]),
        st.booleans(),
    ),
    st.tuples(st.sampled_from(["ack", "mitigate", "resolve", "tick"]), st.sampled_from(CHECKS)),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    steps=st.lists(step, max_size=80),
    open_after=st.integers(1, 3),
    resolve_after=st.integers(1, 3),
)
def test_arbitrary_sequences_keep_every_promise(
    steps: list[tuple[object, ...]], open_after: int, resolve_after: int
) -> None:
    """Never two open tickets per key, never a recovery without M ok results in a row, never
    a number handed out twice, and every ticket equals the replay of its timeline."""
    policy = sla_policy(open_after=open_after, resolve_after=resolve_after)
    world = World(policy)
    now = T0
    for item in steps:
        now += minutes(7)
        verb, check = str(item[0]), str(item[1])
        state = world.state(check)
        if verb == "result":
            result_state, quiet = item[2], bool(item[3])
            assert isinstance(result_state, State)
            world.results.setdefault(check, []).append(result_state)
            decision = evaluate(
                state,
                result(result_state, now, check),
                policy,
                now,
                world.context(check, quiet, now),
            )
            for event in decision.events:
                if event.type is EventType.TICKET_RESOLVED:
                    recent = world.results[check][-resolve_after:]
                    assert len(recent) == resolve_after and all(s is OK for s in recent)
        elif verb == "tick":
            decision = on_tick(state, policy, now, world.context(check, False, now))
        else:
            if state.ticket is None:
                continue
            ctx = world.context(check, False, now)
            try:
                if verb == "ack":
                    decision = acknowledge(state, state.ticket, "op", None, policy, now, ctx)
                elif verb == "mitigate":
                    decision = mitigate(state, state.ticket, "op", "workaround", now, ctx)
                else:
                    decision = resolve(state, state.ticket, "op", "by hand", now, ctx)
            except TicketActionError:
                continue
        world.store(decision)
        world.check_invariants()


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from([OK, WARN, CRIT, UNKN]), min_size=1, max_size=60))
def test_state_survives_its_json_form(states: list[State]) -> None:
    state, _ = feed(states, IncidentPolicy(open_after=1))
    restored = CheckState.from_json(
        state.dedup_key, state.check, state.target, state.to_json(), state.ticket
    )
    assert restored == state
