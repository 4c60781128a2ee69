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
from playwright.async_api import Page, expect

from helpers.browser import Screenshots, WebDaemon, log_in, running_web_daemon, sideways_overflow
from helpers.builders import result
from helpers.daemon import DaemonProcess
from mailwatch.config.loader import load_config
from mailwatch.config.secrets import SecretMode
from mailwatch.domain.results import State
from mailwatch.incidents.processor import process_result
from mailwatch.store.store import Store

pytestmark = pytest.mark.asyncio(loop_scope="session")  # the browser's loop

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
    # Seeded on a loop of its own, in a thread: the session's loop may be running here.
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


async def _graph_draws_with_its_lines(page: Page) -> None:
    graph = page.locator('figure[data-graph="size"] svg')
    await expect(graph).to_be_visible()
    frame = await graph.bounding_box()
    assert frame is not None and frame["width"] > 300
    lines = {}
    for level, label in (
        ("warning", "warning 100 messages"),
        ("critical", "critical 500 messages"),
    ):
        threshold = graph.locator(f"g.threshold.{level}")
        await expect(threshold).to_be_visible()
        await expect(threshold.locator("text")).to_have_text(label)
        box = await threshold.locator("line").bounding_box()
        assert box is not None
        assert box["width"] > frame["width"] * 0.7, f"the {level} line spans the plot"
        assert frame["y"] < box["y"] < frame["y"] + frame["height"]
        lines[level] = box["y"]
    assert lines["critical"] < lines["warning"], "500 is drawn above 100"
    await expect(graph.locator("path.line").first).to_be_visible()
    await expect(graph.locator("rect.shade.ticket")).to_have_count(1)


async def test_a_30_day_graph_draws_with_its_threshold_lines(
    graph_daemon: WebDaemon, browser_page: Page, phone_page: Page, screenshots: Screenshots
) -> None:
    url = f"{graph_daemon.base}/checks/backlog?range=30d"
    for page, name in ((browser_page, "30-day-graphs"), (phone_page, "30-day-graphs-phone")):
        await log_in(page, graph_daemon.base)
        await page.goto(url)
        await expect(page.locator("#graphs h2")).to_have_text("Graphs, last 30 days")
        await _graph_draws_with_its_lines(page)
        await screenshots.take(page, name)
    assert await sideways_overflow(phone_page) == []
    phone = await phone_page.locator('figure[data-graph="size"] svg').bounding_box()
    assert phone is not None and phone["width"] <= 390
