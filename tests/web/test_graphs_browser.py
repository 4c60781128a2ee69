"""A check's 30-day graph in a real browser (Debian's Chromium through Playwright) against a
real ``mailwatch run``: the month of history is recorded through the processor before the
daemon starts, and the graph draws with its warning and critical lines, its line and its
shaded ticket, on a desktop and on a 390 px phone without horizontal scrolling."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Page, expect

from helpers.browser import Screenshots, WebDaemon, log_in, running_web_daemon
from helpers.builders import result
from helpers.daemon import DaemonProcess
from mailwatch.config.loader import load_config
from mailwatch.config.secrets import SecretMode
from mailwatch.domain.results import State
from mailwatch.incidents.processor import process_result
from mailwatch.store.store import Store

QUEUE_CHECK = """
[[checks.queue]]
name = "backlog"
mta = "command"
command = ["/bin/echo", "7"]
interval_s = 1
timeout_s = 3
total_warning = 100
total_critical = 500
"""


async def _month_of_history(process: DaemonProcess) -> None:
    """A queue growing and draining every day for 30 days, one result an hour, with a day
    over its critical level (a ticket); through the processor, as the daemon records them."""
    config = load_config(process.config, SecretMode.LAZY)
    store = await Store.open(config.store.resolved_url(config.daemon.state_dir))
    now = datetime.now(UTC)
    try:
        for hour in range(30 * 24, 0, -1):
            at = now - timedelta(hours=hour)
            size = 20 + 15 * (hour % 24) + (500 if 240 <= hour < 264 else 0)
            state = State.CRITICAL if size >= 500 else State.OK
            ran = result(
                state, at, "backlog", kind="queue", stage=None, metrics={"total_messages": size}
            )
            await process_result(store, config, ran, at)
    finally:
        await store.close()


def _seed(process: DaemonProcess) -> None:
    # Playwright's sync API keeps an event loop running in this thread: seed in another.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, _month_of_history(process)).result(timeout=120)


@pytest.fixture(scope="module")
def graph_daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebDaemon]:
    with running_web_daemon(
        tmp_path_factory.mktemp("graph-daemon"),
        ("canary",),
        extra_config=QUEUE_CHECK,
        before_start=_seed,
    ) as daemon:
        yield daemon


def test_a_30_day_graph_draws_with_its_threshold_lines(
    graph_daemon: WebDaemon, browser_page: Page, screenshots: Screenshots
) -> None:
    page = browser_page
    log_in(page, graph_daemon.base)
    page.goto(f"{graph_daemon.base}/checks/backlog?range=30d")
    expect(page.locator("#graphs h2")).to_have_text("Graphs, last 30 days")
    graph = page.locator('figure[data-graph="size"] svg')
    expect(graph).to_be_visible()
    frame = graph.bounding_box()
    assert frame is not None and frame["width"] > 300

    lines = {}
    for level in ("warning", "critical"):
        threshold = graph.locator(f"g.threshold.{level}")
        expect(threshold).to_be_visible()
        expect(threshold.locator("text")).to_have_text(
            {"warning": "warning 100 messages", "critical": "critical 500 messages"}[level]
        )
        box = threshold.locator("line").bounding_box()
        assert box is not None
        assert box["width"] > frame["width"] * 0.7, f"the {level} line spans the plot"
        assert frame["y"] < box["y"] < frame["y"] + frame["height"]
        lines[level] = box["y"]
    assert lines["critical"] < lines["warning"], "500 is drawn above 100"
    expect(graph.locator("path.line").first).to_be_visible()
    expect(graph.locator("rect.shade.ticket")).to_have_count(1)
    screenshots.take(page, "30-day-graphs")

    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    expect(graph.locator("g.threshold.critical")).to_be_visible()
    widths = page.evaluate(
        "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert widths[0] <= widths[1], f"horizontal scrolling at 390 px: {widths}"
    phone = graph.bounding_box()
    assert phone is not None and phone["width"] <= 390
    screenshots.take(page, "30-day-graphs-phone")
