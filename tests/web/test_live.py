"""The pages' live channel (``/live``) on a real ``mailwatch run``: a result that turns a check
critical reaches a watching browser as a new version within the live-update bound, and
results that change nothing send nothing. The check is a ``banner`` service check against a
small TCP server of the test's whose greeting the test changes (a real peer: the check
connects and reads it, as it would a real daemon's)."""

from __future__ import annotations

import asyncio
import re
import socketserver
import threading
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest

from helpers.builders import result
from helpers.daemon import DaemonProcess, free_port, wait_for
from helpers.web import HASH, PagesHost, browser, log_in, serving, web_config
from mailwatch.domain.results import State
from mailwatch.store.store import Store
from mailwatch.web import live

LIVE_BOUND_S = 2.0
"""Issue 15: the overview updates within 2 s of a change."""
INTERVAL_S = 1.0
"""The check's interval: a changed greeting is seen by the next run, at most this later."""
TIMEOUT_S = 2.0
"""The check's timeout: the longest a run can take to become a result."""


class Greeter(socketserver.ThreadingTCPServer):
    """Says ``greeting`` to each connection and closes it."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        self.greeting = b"220 GOOD\r\n"
        self.greeted = 0
        """Connections greeted so far: one per run of the check."""
        super().__init__(("127.0.0.1", 0), _Greet)

    @property
    def port(self) -> int:
        return int(self.server_address[1])


class _Greet(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        assert isinstance(self.server, Greeter)
        self.request.sendall(self.server.greeting)
        self.server.greeted += 1


@dataclass
class Watched:
    process: DaemonProcess
    greeter: Greeter
    port: int

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def state(self) -> str | None:
        found = self.process.check_status("gate")
        return None if found is None else str(found["state"])

    def runs_after(self, count: int) -> Callable[[], bool]:
        """A probe: true once ``count`` more runs of ``gate`` have ended with a result (the
        status file is not rewritten for results that change nothing, so the greeter counts:
        a run's result is in once the next run connects)."""
        before = self.greeter.greeted
        return lambda: self.greeter.greeted > before + count

    def calm(self) -> bool:
        """``gate`` ok and no ticket open: nothing left to happen while it stays so."""
        document = self.process.status()
        return document is not None and not document["tickets"] and self.state() == "ok"


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as answer:
            return bool(answer.status == 200)
    except (urllib.error.URLError, ConnectionError):
        return False


@pytest.fixture(scope="module")
def watched(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Watched]:
    tmp_path = tmp_path_factory.mktemp("live")
    greeter = Greeter()
    threading.Thread(target=greeter.serve_forever, daemon=True).start()
    port = free_port()
    config = f"""
[daemon]
state_dir = "{tmp_path / "state"}"
status_interval_s = 30

[incidents]
# A ticket opens on the third failed run, seconds after the state turned: the state's
# change is the first thing the stream can say.
open_after = 3

[[checks.service]]
name = "gate"
protocol = "banner"
host = "127.0.0.1"
port = {greeter.port}
banner = "^220 GOOD"
interval_s = {INTERVAL_S}
timeout_s = {TIMEOUT_S}

[web]
listen = "127.0.0.1:{port}"
cookie_secure = false

[web.users.alice]
password_hash = "{HASH}"
"""
    # No systemd watchdog: its 1 s ping would rebuild the status every second, and the tests
    # must see that what moves the version is the change itself (status_interval_s is 30 s).
    process = DaemonProcess(tmp_path, config, {"WATCHDOG_USEC": ""}).start()
    try:
        wait_for("the web server", lambda: _healthy(f"http://127.0.0.1:{port}/healthz"))
        yield Watched(process, greeter, port)
    finally:
        process.stop()
        greeter.shutdown()
        greeter.server_close()


@dataclass
class Event:
    name: str
    data: str


class Stream:
    """An open ``/live`` stream, read event by event (comments skipped)."""

    def __init__(self, answer: aiohttp.ClientResponse) -> None:
        self.answer = answer

    async def next(self, within_s: float) -> Event:
        async with asyncio.timeout(within_s):
            name, data = "message", ""
            while True:
                raw = await self.answer.content.readline()
                assert raw, "the stream ended"
                line = raw.decode().rstrip("\n")
                if line == "":
                    if data:
                        return Event(name, data)
                    continue
                field, _, value = line.partition(": ")
                if field == "event":
                    name = value
                elif field == "data":
                    data = value


@pytest.fixture
async def client(watched: Watched) -> AsyncIterator[aiohttp.ClientSession]:
    async with browser() as session:
        await log_in(session, watched.base)
        yield session


async def open_stream(client: aiohttp.ClientSession, watched: Watched) -> Stream:
    answer = await client.get(f"{watched.base}/live")
    assert answer.status == 200
    assert answer.headers["Content-Type"] == "text/event-stream"
    return Stream(answer)


def calm(watched: Watched) -> None:
    watched.greeter.greeting = b"220 GOOD\r\n"
    wait_for("gate ok with no ticket open", watched.calm)


def page_version(text: str) -> int:
    return int(text.split('data-live-version="')[1].split('"')[0])


async def test_a_result_turning_a_check_critical_reaches_the_stream_in_time(
    watched: Watched, client: aiohttp.ClientSession
) -> None:
    calm(watched)
    stream = await open_stream(client, watched)
    first = await stream.next(5)
    assert first.name == "version"
    async with client.get(f"{watched.base}/") as page:
        assert f'data-live-version="{first.data}"' in await page.text()

    watched.greeter.greeting = b"554 GO AWAY\r\n"
    # The next run starts within the interval and ends within its timeout; from its result
    # on, the version must arrive within the live bound.
    moved = await stream.next(INTERVAL_S + TIMEOUT_S + LIVE_BOUND_S)
    assert moved.name == "version" and int(moved.data) > int(first.data)
    async with client.get(f"{watched.base}/") as page:
        text = await page.text()
    assert 'data-check="gate" data-state="critical"' in text
    assert page_version(text) >= int(moved.data)
    stream.answer.close()


async def test_results_that_change_nothing_send_nothing(
    watched: Watched, client: aiohttp.ClientSession
) -> None:
    """Also while the stream is open the daemon looks at the store once a second: with
    nothing changed elsewhere, those looks send nothing either."""
    calm(watched)
    stream = await open_stream(client, watched)
    first = await stream.next(5)
    # Three more results of the same state (each run is news to nobody)...
    wait_for("three more results of gate", watched.runs_after(3))
    # ...then a change: the next thing the stream says is the very next version.
    watched.greeter.greeting = b"554 GO AWAY\r\n"
    moved = await stream.next(INTERVAL_S + TIMEOUT_S + LIVE_BOUND_S)
    assert (moved.name, int(moved.data)) == ("version", int(first.data) + 1)
    # and that version is the critical state's: the quiet results moved nothing.
    async with client.get(f"{watched.base}/") as page:
        text = await page.text()
    assert 'data-check="gate" data-state="critical"' in text
    assert page_version(text) == int(moved.data)
    stream.answer.close()


def open_ticket(watched: Watched) -> str | None:
    """The number of ``gate``'s open ticket, once the status file shows one."""
    document = watched.process.status()
    tickets = [] if document is None else document["tickets"]
    return str(tickets[0]["id"]) if tickets else None


async def test_an_ack_from_the_cli_reaches_the_stream_in_time(
    watched: Watched, client: aiohttp.ClientSession
) -> None:
    """``mailwatch ack`` in another process tells the daemon nothing: while a browser watches,
    the daemon's look at the store (once a second) finds the ack and moves the version."""
    calm(watched)
    watched.greeter.greeting = b"554 GO AWAY\r\n"
    number = wait_for("a ticket open for gate", lambda: open_ticket(watched))
    stream = await open_stream(client, watched)
    first = await stream.next(5)
    async with client.get(f"{watched.base}/") as page:
        before = await page.text()
    assert number in before and "not acknowledged" in before
    # The page was rendered at the stream's version: nothing unseen is pending.
    assert page_version(before) == int(first.data)

    acked = await asyncio.to_thread(watched.process.mailwatch, "ack", number, "--note", "on it")
    assert acked.returncode == 0, acked.stderr
    # From the moment the other process committed: the live bound, and a second's slack for
    # the fresh snapshot on a busy test machine.
    moved = await stream.next(LIVE_BOUND_S + 1.0)
    assert moved.name == "version" and int(moved.data) > int(first.data)
    async with client.get(f"{watched.base}/") as page:
        after = await page.text()
    assert number in after and "not acknowledged" not in after
    assert "acknowledged by" in after
    stream.answer.close()
    calm(watched)


async def test_the_stream_needs_a_login_without_public_status(watched: Watched) -> None:
    async with (
        browser() as anonymous,
        anonymous.get(f"{watched.base}/live", allow_redirects=False) as answer,
    ):
        assert answer.status == 303
        assert answer.headers["Location"].startswith("/login")


async def test_pages_carry_the_script_and_keep_a_refresh_for_browsers_without_it(
    watched: Watched, client: aiohttp.ClientSession
) -> None:
    async with client.get(f"{watched.base}/") as overview:
        front = await overview.text()
    async with client.get(f"{watched.base}/checks/gate") as check:
        page = await check.text()
    async with client.get(f"{watched.base}/static/live.js") as script:
        assert script.status == 200
        assert script.headers["Content-Type"].startswith("text/javascript")
        assert "EventSource" in await script.text()
    assert '<script src="/static/live.js" defer></script>' in front
    assert '<noscript><meta http-equiv="refresh" content="30"></noscript>' in front
    assert '<div id="overview" data-live-region>' in front
    for region in ("now", "ticket", "recent"):
        assert f'<section id="{region}" class="check-section" data-live-region>' in page
    assert '<script src="/static/live.js" defer></script>' in page


async def test_streams_end_when_the_server_stops(tmp_path: Path) -> None:
    """In-process (``PagesHost`` over a real store): stopping the server ends an open stream,
    cleanly and with nothing more sent, so a watching browser never holds up a shutdown."""
    store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'state' / 'mailwatch.db'}")
    host = PagesHost(web_config(tmp_path, public_status=True), store)
    try:
        async with browser() as client:
            async with serving(host) as base:
                stream = Stream(await client.get(f"{base}/live"))
                first = await stream.next(5)
                assert (first.name, first.data) == ("version", "0")
            async with asyncio.timeout(5):
                rest = await stream.answer.content.read()
            assert rest == b""  # ended, with nothing more said
    finally:
        await store.close()


async def test_a_tickets_page_is_live_but_never_reloads_its_forms(tmp_path: Path) -> None:
    """In-process: the clocks, timeline and notices are live regions; the forms are not, and
    there is no meta refresh even without JavaScript (a note being typed would be lost)."""
    store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'state' / 'mailwatch.db'}")
    host = PagesHost(web_config(tmp_path), store)
    try:
        now = datetime.now(UTC)
        for _ in range(2):
            await host.record(result(State.CRITICAL, now))
        async with serving(host) as base, browser() as client:
            await log_in(client, base)
            async with client.get(f"{base}/tickets/MW-000001") as answer:
                text = await answer.text()
    finally:
        await store.close()
    assert '<script src="/static/live.js" defer></script>' in text
    assert 'data-live-refresh-s="30"' in text
    for region in ("clocks", "timeline", "notices"):
        assert re.search(rf'id="{region}"[^>]*data-live-region', text), region
    assert 'http-equiv="refresh"' not in text
    forms = text[text.index("<h2>Act</h2>") : text.index("<h2>Timeline</h2>")]
    assert "<form" in forms and "data-live-region" not in forms


async def test_streams_past_the_cap_are_refused_until_one_ends(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With ``public_status`` anyone may open a stream; past ``MAX_STREAMS`` open at once the
    next is refused with 503 and Retry-After (here the cap is 2), and once one ends another
    may open."""
    monkeypatch.setattr(live, "MAX_STREAMS", 2)
    monkeypatch.setattr(live, "KEEPALIVE_S", 0.1)
    store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'state' / 'mailwatch.db'}")
    host = PagesHost(web_config(tmp_path, public_status=True), store)
    try:
        async with serving(host) as base, browser() as client:
            first = Stream(await client.get(f"{base}/live"))
            second = Stream(await client.get(f"{base}/live"))
            for stream in (first, second):
                assert (await stream.next(5)).name == "version"
            async with client.get(f"{base}/live") as refused:
                assert refused.status == 503
                assert refused.headers["Retry-After"] == "60"
            first.answer.close()
            # The server notices a closed stream at its next write (a keepalive, made
            # frequent here); then a third may open.
            await asyncio.to_thread(
                wait_for, "the closed stream to end", lambda: host.status_version.watchers <= 1, 10
            )
            third = Stream(await client.get(f"{base}/live"))
            assert third.answer.status == 200
            assert (await third.next(5)).name == "version"
            third.answer.close()
            second.answer.close()
    finally:
        await store.close()
