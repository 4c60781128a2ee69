"""A check several sites run, in the status: the vote gives its state, a failing site below
quorum is marked in status.json and status.txt, and each site's latest result is listed."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import jsonschema

from mailwatch.config.model import MailwatchConfig
from mailwatch.domain.results import CheckResult, State
from mailwatch.domain.sites import SiteState, site_after
from mailwatch.status.build import count_site_votes
from mailwatch.status.document import from_document, to_document
from mailwatch.status.live import CheckStatus
from mailwatch.status.model import StatusSnapshot, StoredFacts, assemble
from mailwatch.status.text import render_text
from status.sample import INFO, NOW

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "docs" / "status-file.schema.json"
CONFIG = MailwatchConfig.model_validate(
    {
        "checks": {
            "service": [
                {
                    "name": "smtp-in",
                    "protocol": "smtp",
                    "host": "mx.example.org",
                    "port": 25,
                    "run_from": ["site-a", "site-b", "site-c"],
                }
            ]
        }
    }
)


def site(name: str, states: list[State], age_s: float = 5) -> SiteState:
    current: SiteState | None = None
    for n, state in enumerate(states):
        at = NOW - timedelta(seconds=age_s + 10 * (len(states) - 1 - n))
        summary = "220 ready" if state is State.OK else "connection refused"
        stage = None if state is State.OK else "connect"
        one = CheckResult("smtp-in", "service", "t", state, summary, at, at, stage)
        current = site_after(current, name, one, at, f"node-{name}")
    assert current is not None
    return current


def snapshot_with(sites: list[SiteState]) -> StatusSnapshot:
    stored = StoredFacts([], [], {}, sites={"smtp-in": sites})
    live = CheckStatus("smtp-in", "service", "mx.example.org:25")
    votes = count_site_votes(CONFIG, stored.sites, NOW)
    return assemble(NOW, INFO, [live], stored, {}, [], ticket_prefix="MW-", votes=votes)


BAD, GOOD = State.CRITICAL, State.OK


def test_one_failing_site_is_marked_below_quorum_and_the_check_stays_ok() -> None:
    snap = snapshot_with(
        [site("site-a", [BAD, BAD]), site("site-b", [GOOD]), site("site-c", [GOOD])]
    )
    (check,) = snap.checks
    assert check.state is State.OK
    assert check.below_quorum
    assert check.summary == (
        "below quorum: failing at 1 of 3 sites (site-a), quorum 2; site-a: connection refused"
    )
    document = to_document(snap)
    jsonschema.validate(document, json.loads(SCHEMA_FILE.read_text()))
    entry = document["checks"][0]
    assert entry["below_quorum"] is True
    assert entry["vote"]["sites_failing"] == 1
    assert entry["vote"]["quorum"] == 2
    assert [(s["site"], s["node"], s["state"]) for s in entry["vote"]["sites"]] == [
        ("site-a", "node-site-a", "critical"),
        ("site-b", "node-site-b", "ok"),
        ("site-c", "node-site-c", "ok"),
    ]
    assert from_document(json.loads(json.dumps(document))) == snap
    text = render_text(snap, None, NOW)
    assert "smtp-in [BELOW QUORUM: 1 site(s) failing, quorum 2]" in text
    assert "site site-a (node-site-a): critical" in text


def test_a_failing_quorum_makes_the_check_critical_without_the_mark() -> None:
    snap = snapshot_with(
        [site("site-a", [BAD, BAD]), site("site-b", [BAD]), site("site-c", [GOOD])]
    )
    (check,) = snap.checks
    assert check.state is State.CRITICAL
    assert check.stage == "connect"
    assert not check.below_quorum
    assert snap.overall is State.CRITICAL
    assert "BELOW QUORUM" not in render_text(snap, None, NOW)


def test_a_site_too_old_to_vote_is_shown_as_such() -> None:
    old = site("site-c", [GOOD], age_s=3600)
    snap = snapshot_with([site("site-a", [GOOD]), site("site-b", [GOOD]), old])
    (check,) = snap.checks
    assert check.state is State.OK
    assert check.summary == "ok at 2 of 3 sites; no current result from site-c"
    assert check.vote is not None
    assert [s.current for s in check.vote.sites] == [True, True, False]
    assert "site site-c (node-site-c): ok" in render_text(snap, None, NOW)
    assert "too old to vote" in render_text(snap, None, NOW)
