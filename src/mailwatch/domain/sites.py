"""One site's view of a check that several sites run (``run_from``): its latest result and
its own streaks, which the vote (``mailwatch.incidents.vote``) counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from mailwatch.domain.results import CheckResult, State


@dataclass(frozen=True, slots=True)
class SiteState:
    """What one site last saw of one check, and for how many results in a row.

    ``bad_streak`` counts the site's failed results in a row (``good_streak`` its ok ones);
    ``failing_since`` is the time of the first of those failures; ``result_at`` the time its
    latest result was recorded; ``node`` the node of the site that ran it.
    """

    site: str
    state: State
    summary: str
    stage: str | None
    bad_streak: int
    good_streak: int
    failing_since: datetime | None
    result_at: datetime
    node: str | None = None

    @property
    def failing(self) -> bool:
        return self.state is not State.OK

    def after(self, result: CheckResult, now: datetime, node: str | None) -> SiteState:
        """This site's state once ``result`` (recorded at ``now``) is counted."""
        return site_after(self, self.site, result, now, node)


def site_after(
    previous: SiteState | None, site: str, result: CheckResult, now: datetime, node: str | None
) -> SiteState:
    """The state of ``site`` after ``result``; ``previous`` None for a site never seen."""
    bad = previous.bad_streak if previous is not None else 0
    good = previous.good_streak if previous is not None else 0
    since = previous.failing_since if previous is not None else None
    if result.state is State.OK:
        bad, good, since = 0, good + 1, None
    else:
        bad, good, since = bad + 1, 0, since or now
    return SiteState(
        site=site,
        state=result.state,
        summary=result.summary,
        stage=result.stage,
        bad_streak=bad,
        good_streak=good,
        failing_since=since,
        result_at=now,
        node=node,
    )
