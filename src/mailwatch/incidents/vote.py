"""How quorum decides: the sites that run one check (``run_from``) vote, and the engine hears
the vote, not the single result. Pure: no clock, no store.

A site's vote counts while its latest result is current (recorded within ``window_s`` of now).
A site votes **failing** once its own ``open_after`` streak is met (or it has been failing for
``open_after_s``) and **healthy** once its own ``resolve_after`` streak of ok results is met;
a site whose streak is not met yet, or whose result is not current, does not vote. The check
**fails** when at least ``quorum`` sites vote failing, and is **healthy** again when at least
``quorum`` sites vote healthy and fewer than ``quorum`` sites' current results fail. Otherwise
the vote is undecided and nothing changes. A failing site that is not part of a failing quorum
is the check's **below quorum** mark: shown, never paged. docs/cluster.md, "How quorum decides".
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from mailwatch.domain.results import CheckResult, State, worst
from mailwatch.domain.sites import SiteState
from mailwatch.incidents.policy import IncidentPolicy


class Verdict(enum.StrEnum):
    FAILING = "failing"
    HEALTHY = "healthy"
    UNDECIDED = "undecided"


def window_s(interval_s: float, timeout_s: float) -> float:
    """How long a site's latest result stays current: two intervals plus the timeout, so a
    site whose one run was late or missed still votes, and a site that stopped running does
    not vote for ever."""
    return 2 * interval_s + timeout_s


def default_quorum(voters: int) -> int:
    """A majority of ``voters`` (at least 1)."""
    return voters // 2 + 1


@dataclass(frozen=True, slots=True)
class Vote:
    """The count for one check at one instant.

    ``sites`` are the voters (``run_from``'s sites; for ``"all"``, every site with a current
    result), in name order; ``failing`` the voters whose current result fails, confirmed or
    not; ``silent`` the listed sites with no current result.
    """

    verdict: Verdict
    quorum: int
    sites: tuple[str, ...]
    failing: tuple[str, ...]
    failing_confirmed: tuple[str, ...]
    healthy_confirmed: tuple[str, ...]
    silent: tuple[str, ...]
    current: tuple[SiteState, ...]
    """The voters' current states, in site name order."""

    @property
    def below_quorum(self) -> bool:
        """Some sites fail, but fewer than ``quorum``: shown on the check, no ticket."""
        return 0 < len(self.failing) < self.quorum

    @property
    def state(self) -> State:
        """The check's state by the vote: the worst of the failing sites' once a quorum of
        them fails (confirmed or not yet), ok while any voter is ok, else unknown."""
        if len(self.failing) >= self.quorum:
            return worst(s.state for s in self.current if s.failing)
        if any(not s.failing for s in self.current):
            return State.OK
        return State.UNKNOWN


def count_votes(
    states: Iterable[SiteState],
    run_from: Sequence[str] | str,
    quorum: int | None,
    policy: IncidentPolicy,
    window: float,
    now: datetime,
) -> Vote:
    """The vote of ``states`` (one per site, any order) at ``now``.

    ``run_from`` is the configured list of sites, or ``"all"``; ``quorum`` the configured
    quorum, None for a majority of the voters.
    """
    current = {
        s.site: s
        for s in states
        if (now - s.result_at).total_seconds() <= window
        and (isinstance(run_from, str) or s.site in run_from)
    }
    sites = tuple(sorted(current if isinstance(run_from, str) else run_from))
    needed = quorum if quorum is not None else default_quorum(len(sites))
    voters = tuple(current[site] for site in sites if site in current)
    failing = tuple(s.site for s in voters if s.failing)
    failing_confirmed = tuple(s.site for s in voters if _confirmed_failing(s, policy, now))
    healthy_confirmed = tuple(
        s.site for s in voters if not s.failing and s.good_streak >= policy.resolve_after
    )
    if len(failing_confirmed) >= needed:
        verdict = Verdict.FAILING
    elif len(healthy_confirmed) >= needed and len(failing) < needed:
        verdict = Verdict.HEALTHY
    else:
        verdict = Verdict.UNDECIDED
    return Vote(
        verdict=verdict,
        quorum=needed,
        sites=sites,
        failing=failing,
        failing_confirmed=failing_confirmed,
        healthy_confirmed=healthy_confirmed,
        silent=tuple(site for site in sites if site not in current),
        current=voters,
    )


def _confirmed_failing(site: SiteState, policy: IncidentPolicy, now: datetime) -> bool:
    if not site.failing:
        return False
    if policy.open_after_s is not None:
        since = site.failing_since
        return since is not None and (now - since).total_seconds() >= policy.open_after_s
    return site.bad_streak >= policy.open_after


def voted_policy(policy: IncidentPolicy) -> IncidentPolicy:
    """The policy the engine applies to the vote's results: each site's streak already
    confirmed the failure (or the recovery), so one decided vote is enough."""
    return replace(policy, open_after=1, open_after_s=None, resolve_after=1)


def voted_result(vote: Vote, result: CheckResult) -> CheckResult | None:
    """What the engine is told about the check after ``result`` (one site's) was counted: a
    failure on behalf of the failing quorum, a recovery on behalf of the healthy one, or
    nothing (None) while the vote is undecided.

    The stage and state are those of the failing sites, first by name among the worst, so
    the order in which the sites' results arrive changes neither.
    """
    if vote.verdict is Verdict.UNDECIDED:
        return None
    count = f"{len(vote.sites)} site{'' if len(vote.sites) == 1 else 's'}"
    if vote.verdict is Verdict.HEALTHY:
        healthy = ", ".join(vote.healthy_confirmed)
        return replace(
            result,
            state=State.OK,
            stage=None,
            summary=f"ok at {len(vote.healthy_confirmed)} of {count} ({healthy})",
            metrics=result.metrics if result.state is State.OK else {},
            details={**result.details, "sites_healthy": list(vote.healthy_confirmed)},
        )
    failing = [s for s in vote.current if s.site in vote.failing_confirmed]
    state = worst(s.state for s in failing)
    first = next(s for s in failing if s.state is state)
    names = ", ".join(vote.failing_confirmed)
    return replace(
        result,
        state=state,
        stage=first.stage,
        summary=(
            f"failing at {len(vote.failing_confirmed)} of {count} ({names}); "
            f"{first.site}: {first.summary}"
        ),
        metrics=result.metrics if result.state is not State.OK else {},
        details={**result.details, "sites_failing": list(vote.failing_confirmed)},
    )
