"""A check's graphs: results driven through the real processor into the history, then the
check's page draws its kind's figures over the chosen range as inline SVG with the check's
warning and critical lines, its tickets and maintenance windows shaded; the JSON form carries
the same buckets."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
import pytest_asyncio

from helpers.builders import result
from helpers.web import PagesHost, browser, log_in, serving, web_config
from mailwatch.domain.results import State
from mailwatch.store.store import Store

pytestmark = pytest.mark.asyncio(loop_scope="module")  # the store's loop, as the fixture's

SVG = "{http://www.w3.org/2000/svg}"
NOW = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(minutes=30)
"""Half past the last hour: every result below sits in an hour bucket of its own, in the
middle of it."""
OUTAGE = (NOW - timedelta(days=10), NOW - timedelta(days=10) + timedelta(hours=6))
"""Six hours of critical results: a ticket, opened and then resolved."""
WINDOW = (NOW - timedelta(days=20), NOW - timedelta(days=20) + timedelta(hours=4))


@dataclass
class Fed:
    latency: dict[datetime, float]
    """Each roundtrip result's latency, by the start of its hour."""
    host: PagesHost


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def fed(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Fed]:
    """A month of canary results, one every 3 hours as configured (latency and two Received
    hops), an outage, a maintenance window in the config; through the processor, as the daemon
    records them. Once for the module: the tests only read."""
    tmp_path = tmp_path_factory.mktemp("graphs")
    canary = {
        "name": "canary",
        "interval_s": 3 * 3600,  # it runs every 3 hours: the hours between are no gap
        "mail_from": "mw@example.org",
        "rcpt_to": "canary@example.org",
        "smtp": {"host": "127.0.0.1", "port": 2525, "tls": "none"},
        "imap": {"host": "127.0.0.1", "tls": "none", "username": "u", "password": "p"},
    }
    window = {
        "name": "relay upgrade",
        "checks": ["canary"],
        "start": WINDOW[0].isoformat(),
        "end": WINDOW[1].isoformat(),
    }
    extra = {"checks": {"roundtrip": [canary]}, "maintenance": [window]}
    config = web_config(tmp_path, extra=extra)
    store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'state' / 'mailwatch.db'}")
    host = PagesHost(config, store)
    latency: dict[datetime, float] = {}
    at = NOW - timedelta(days=31)
    step = 0
    while at <= NOW:
        if OUTAGE[0] <= at < OUTAGE[1]:
            ran = result(State.CRITICAL, at, summary="canary lost")
            for extra in range(1, 3):  # more failures inside the hour: open_after = 2
                await host.record(result(State.CRITICAL, at + timedelta(minutes=extra)))
        else:
            seconds = 2.0 + (step % 7) * 1.5
            hops = {"hop_1_delay_s": seconds * 0.25, "hop_2_delay_s": seconds * 0.75}
            ran = result(State.OK, at, metrics={"latency_s": seconds, **hops})
            latency[at.replace(minute=0)] = seconds
        await host.record(ran)
        at += timedelta(hours=3)
        step += 1
    try:
        yield Fed(latency, host)
    finally:
        await store.close()


def figures(page: str) -> dict[str, ET.Element]:
    """Each ``<figure data-graph=...>``'s SVG, parsed."""
    found = {}
    for ident, svg in re.findall(
        r'<figure class="graph" data-graph="([^"]+)">(.*?)</figure>', page
    ):
        found[ident] = ET.fromstring(svg)
    return found


async def test_a_month_of_latency_with_levels_tickets_and_maintenance(fed: Fed) -> None:
    async with serving(fed.host) as base, browser() as client:
        await log_in(client, base)
        async with client.get(f"{base}/checks/canary?range=30d") as answer:
            page = await answer.text()
        async with client.get(f"{base}/checks/canary/graphs.json?range=30d") as data:
            body = await data.json()
        async with client.get(f"{base}/checks/canary") as default:
            day_page = await default.text()
    assert answer.status == 200 and data.status == 200
    assert "Graphs, last 30 days" in page
    assert '<a href="/checks/canary?range=30d#graphs" aria-current="page">30d</a>' in page
    graphs = figures(page)
    assert list(graphs) == ["latency", "hops", "availability"]

    latency = graphs["latency"]
    levels = {
        g.attrib["class"]: float(g.attrib["data-value"])
        for g in latency.iter(f"{SVG}g")
        if g.attrib.get("class", "").startswith("threshold")
    }
    assert levels == {"threshold warning": 30.0, "threshold critical": 90.0}  # the defaults
    in_range = [v for hour, v in fed.latency.items() if hour >= NOW - timedelta(days=30)]
    desc = latency.findtext(f"{SVG}desc") or ""
    assert f"highest {max(in_range):g} s" in desc and f"lowest {min(in_range):g} s" in desc
    assert "1 ticket shaded. 1 maintenance window shaded." in desc
    tickets = latency.findall(f".//{SVG}rect[@class='shade ticket']")
    assert [t.findtext(f"{SVG}title") for t in tickets] == ["MW-000001 severity 1: canary lost"]
    windows = latency.findall(f".//{SVG}rect[@class='shade maintenance']")
    assert [w.findtext(f"{SVG}title") for w in windows] == ["maintenance relay upgrade"]
    # The outage broke the line: no latency in those hours.
    assert len(latency.findall(f".//{SVG}path[@class='line']")) == 2

    hop_labels = [
        g.attrib["data-label"]
        for g in graphs["hops"].iter(f"{SVG}g")
        if g.attrib.get("class") == "series"
    ]
    assert hop_labels == ["hop 1", "hop 2"]

    # The JSON: one hourly point per result, with the latency it had.
    (latency_json,) = [g for g in body["graphs"] if g["graph"] == "latency"]
    assert latency_json["width_s"] == 3600
    assert latency_json["thresholds"] == {"warning": 30.0, "critical": 90.0}
    points = {
        datetime.fromisoformat(at) - timedelta(minutes=30): value
        for at, value, _low, _high in latency_json["series"][0]["points"]
    }
    assert set(points) <= set(fed.latency), "no point where no result was"
    assert points == {hour: fed.latency[hour] for hour in points}
    start = datetime.fromisoformat(latency_json["start"])
    assert set(points) >= {h for h in fed.latency if h >= start}
    (availability,) = [g for g in body["graphs"] if g["graph"] == "availability"]
    outage_hours = {
        datetime.fromisoformat(at) - timedelta(minutes=30)
        for at, value, _l, _h in availability["series"][0]["points"]
        if value == 0.0
    }
    assert outage_hours == {OUTAGE[0].replace(minute=0) + timedelta(hours=h) for h in (0, 3)}

    # Without ?range the page shows the last 24 hours, from 5-minute buckets.
    assert "Graphs, last 24 hours" in day_page
    assert '<a href="/checks/canary?range=24h#graphs" aria-current="page">24h</a>' in day_page


async def test_graphs_need_a_login_a_known_check_and_no_live_refetch(fed: Fed) -> None:
    async with serving(fed.host) as base, browser() as client:
        async with client.get(
            f"{base}/checks/canary/graphs.json", allow_redirects=False
        ) as anonymous:
            assert anonymous.status in (302, 303, 401)
            assert "latency" not in await anonymous.text()
        await log_in(client, base)
        async with client.get(f"{base}/checks/nosuch/graphs.json") as missing:
            assert missing.status == 404
        # The page's live script fetching it again gets the live regions, not the graphs.
        headers = {"Sec-Fetch-Mode": "cors"}
        async with client.get(f"{base}/checks/canary?range=30d", headers=headers) as refetch:
            again = await refetch.text()
    assert refetch.status == 200
    assert 'id="graphs"' in again and "<svg" not in again
    assert 'data-check="canary"' in again
