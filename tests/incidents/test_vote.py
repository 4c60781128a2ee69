"""How quorum decides (``incidents/vote.py``): plain values, no database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailwatch.domain.results import CheckResult, State
from mailwatch.domain.sites import SiteState, site_after
from mailwatch.incidents.policy import IncidentPolicy
from mailwatch.incidents.vote import Verdict, count_votes, default_quorum, voted_result

T0 = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
SITES = ("site-a", "site-b", "site-c")
POLICY = IncidentPolicy(open_after=2, resolve_after=2)
WINDOW = 150.0


def result(state: State, stage: str | None = None, at: datetime = T0) -> CheckResult:
    return CheckResult(
        check="canary",
        kind="roundtrip",
        target="canary",
        state=state,
        summary="fine" if state is State.OK else f"broken at {stage}",
        started_at=at,
        finished_at=at,
        stage=stage,
    )


def feed(site: str, states: list[State], at: datetime = T0) -> SiteState:
    """The state of ``site`` after results of ``states``, 10 s apart, the last at ``at``."""
    current: SiteState | None = None
    for n, state in enumerate(states):
        when = at - timedelta(seconds=10 * (len(states) - 1 - n))
        stage = None if state is State.OK else "smtp_connect"
        current = site_after(current, site, result(state, stage, when), when, f"node-{site}")
    assert current is not None
    return current


BAD, GOOD = State.CRITICAL, State.OK


def test_one_failing_site_of_three_is_below_quorum_and_opens_nothing() -> None:
    states = [feed("site-a", [BAD, BAD, BAD]), feed("site-b", [GOOD]), feed("site-c", [GOOD])]
    vote = count_votes(states, SITES, None, POLICY, WINDOW, T0)
    assert vote.quorum == 2
    assert vote.verdict is Verdict.UNDECIDED
    assert vote.below_quorum
    assert vote.failing == ("site-a",)
    assert vote.state is State.OK
    assert voted_result(vote, result(BAD, "smtp_connect")) is None


def test_two_confirmed_failing_sites_fail_the_check() -> None:
    states = [feed("site-a", [BAD, BAD]), feed("site-b", [BAD, BAD]), feed("site-c", [GOOD])]
    vote = count_votes(states, SITES, None, POLICY, WINDOW, T0)
    assert vote.verdict is Verdict.FAILING
    assert not vote.below_quorum
    told = voted_result(vote, result(GOOD))
    assert told is not None
    assert told.state is State.CRITICAL
    assert told.stage == "smtp_connect"
    assert told.summary.startswith("failing at 2 of 3 sites (site-a, site-b); site-a:")


def test_a_site_whose_own_streak_is_not_met_does_not_vote_failing() -> None:
    states = [feed("site-a", [BAD, BAD]), feed("site-b", [BAD]), feed("site-c", [GOOD])]
    vote = count_votes(states, SITES, None, POLICY, WINDOW, T0)
    assert vote.verdict is Verdict.UNDECIDED
    assert vote.failing == ("site-a", "site-b")
    assert vote.failing_confirmed == ("site-a",)
    assert not vote.below_quorum  # a quorum fails; it awaits confirmation, not a mark
    assert vote.state is State.CRITICAL


def test_a_failure_older_than_the_window_does_not_vote() -> None:
    old = T0 - timedelta(seconds=WINDOW + 1)
    states = [
        feed("site-a", [BAD, BAD], at=old),
        feed("site-b", [BAD, BAD]),
        feed("site-c", [GOOD]),
    ]
    vote = count_votes(states, SITES, None, POLICY, WINDOW, T0)
    assert vote.verdict is Verdict.UNDECIDED
    assert vote.silent == ("site-a",)
    assert vote.below_quorum


def test_recovery_needs_a_quorum_healthy_by_its_own_streaks() -> None:
    one = [feed("site-a", [BAD, GOOD, GOOD]), feed("site-b", [BAD, GOOD]), feed("site-c", [BAD])]
    assert count_votes(one, SITES, None, POLICY, WINDOW, T0).verdict is Verdict.UNDECIDED
    two = [feed("site-a", [BAD, GOOD, GOOD]), feed("site-b", [BAD, GOOD, GOOD]), one[2]]
    vote = count_votes(two, SITES, None, POLICY, WINDOW, T0)
    assert vote.verdict is Verdict.HEALTHY
    assert vote.below_quorum  # site-c still fails: shown, not paged
    told = voted_result(vote, result(GOOD))
    assert told is not None and told.state is State.OK


def test_quorum_one_stays_failing_while_any_site_fails() -> None:
    states = [feed("site-a", [BAD, BAD]), feed("site-b", [GOOD, GOOD]), feed("site-c", [GOOD] * 2)]
    vote = count_votes(states, SITES, 1, POLICY, WINDOW, T0)
    assert vote.verdict is Verdict.FAILING
    assert not vote.below_quorum


def test_all_counts_the_sites_with_a_current_result() -> None:
    states = [feed("x", [BAD, BAD]), feed("y", [BAD, BAD]), feed("z", [GOOD])]
    vote = count_votes(states, "all", None, POLICY, WINDOW, T0)
    assert vote.sites == ("x", "y", "z")
    assert vote.quorum == 2
    assert vote.verdict is Verdict.FAILING


def test_open_after_s_counts_each_site_failing_for_that_long() -> None:
    policy = IncidentPolicy(open_after_s=15.0, resolve_after=2)
    states = [feed("site-a", [BAD, BAD]), feed("site-b", [BAD, BAD]), feed("site-c", [GOOD])]
    assert count_votes(states, SITES, None, policy, WINDOW, T0).verdict is Verdict.UNDECIDED
    later = T0 + timedelta(seconds=5)
    assert count_votes(states, SITES, None, policy, WINDOW, later).verdict is Verdict.FAILING


@pytest.mark.parametrize(("voters", "quorum"), [(1, 1), (2, 2), (3, 2), (4, 3), (5, 3)])
def test_default_quorum_is_a_majority(voters: int, quorum: int) -> None:
    assert default_quorum(voters) == quorum


site_histories = st.lists(
    st.tuples(
        st.sampled_from((*SITES, "site-d", "site-e")),
        st.lists(
            st.sampled_from([GOOD, BAD, State.WARNING, State.UNKNOWN]), min_size=1, max_size=5
        ),
        st.integers(min_value=0, max_value=300),
    ),
    max_size=5,
    unique_by=lambda item: item[0],
)


def _states(histories: list[tuple[str, list[State], int]]) -> list[SiteState]:
    return [feed(site, states, T0 - timedelta(seconds=age)) for site, states, age in histories]


@given(site_histories, st.randoms(), st.one_of(st.none(), st.integers(1, 3)))
def test_the_order_results_arrive_in_changes_no_decision(
    histories: list[tuple[str, list[State], int]], shuffle: object, quorum: int | None
) -> None:
    states = _states(histories)
    shuffled = list(states)
    shuffle.shuffle(shuffled)  # type: ignore[attr-defined]
    for run_from in (SITES, "all"):
        one = count_votes(states, run_from, quorum, POLICY, WINDOW, T0)
        two = count_votes(shuffled, run_from, quorum, POLICY, WINDOW, T0)
        assert one == two
        told_one = voted_result(one, result(BAD, "x"))
        told_two = voted_result(two, result(BAD, "x"))
        assert told_one == told_two


@given(site_histories, st.one_of(st.none(), st.integers(1, 3)))
def test_fewer_failing_sites_than_quorum_never_fail_the_check(
    histories: list[tuple[str, list[State], int]], quorum: int | None
) -> None:
    vote = count_votes(_states(histories), SITES, quorum, POLICY, WINDOW, T0)
    if len(vote.failing) < vote.quorum:
        assert vote.verdict is not Verdict.FAILING
        assert vote.state in (State.OK, State.UNKNOWN)
    if vote.verdict is Verdict.FAILING:
        assert len(vote.failing_confirmed) >= vote.quorum
        assert not vote.below_quorum
    # Failing and healthy at once cannot be: a quorum of failures keeps the ticket open.
    assert not (vote.verdict is Verdict.HEALTHY and len(vote.failing) >= vote.quorum)
