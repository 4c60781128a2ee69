"""A real browser and a real daemon for browser tests: Debian's Chromium driven by Playwright's
async API (never a downloaded browser), one per test session, on the session's event loop; and
``mailwatch run`` with its web pages on a loopback port, a user with a known password, checks
the test breaks and repairs, ack links delivered to a webhook, and an API token to read
tickets with.

Browser tests run on the session's loop, where the browser lives: a module says
``pytestmark = pytest.mark.asyncio(loop_scope="session")``. (Playwright's sync API would keep
its loop marked running in the main thread for as long as the browser lives, and every
pytest-asyncio test after it would fail.)

Fixtures (registered in tests/conftest.py):

- ``chromium``: the session's browser; skipped without ``/usr/bin/chromium``, failed under
  ``CI=true``.
- ``browser_page``: a fresh context (own cookies) and page per test, 1280 × 900;
  ``phone_page`` the same as a 390 px wide phone (``sideways_overflow`` says what sticks out).
- ``screenshots``: ``screenshots.take(page, "step")`` writes a PNG into the artifacts directory
  (``$MAILWATCH_TEST_ARTIFACTS``, default ``artifacts/screenshots/`` in the checkout); a failed
  test's last page is kept there too.
- ``web_daemon``: one daemon per test module with the greeter-backed service checks
  ``canary``, ``relay`` and ``gateway`` (``web_daemon.services["canary"].down()`` breaks
  one). A module that needs other checks or config calls ``running_web_daemon`` in its own
  module fixture (``before_start`` may fill the store first).
"""

from __future__ import annotations

import asyncio
import glob
import json
import os
import re
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import pytest_asyncio

from helpers.daemon import DaemonProcess, free_port, wait_for
from helpers.greeter import SmtpGreeter
from helpers.http_receiver import HttpReceiver

if TYPE_CHECKING:
    from playwright.async_api import Browser, Page

CHROMIUM = Path("/usr/bin/chromium")
"""Debian's package ``chromium``; Playwright's own browser download is never used."""
USER = "alice"
API_TOKEN = "tok-browser-7d1e0c5b9a2f4e6c8b0a1d3f5e7c9b2a"
INTERVAL_S = 1
"""Every check of the daemon runs this often: a break shows at the next run."""
REPO = Path(__file__).resolve().parents[2]
DEFAULT_ARTIFACTS = REPO / "artifacts" / "screenshots"


def artifacts_dir() -> Path:
    """Where screenshots go: ``$MAILWATCH_TEST_ARTIFACTS`` or ``artifacts/screenshots/``."""
    chosen = os.environ.get("MAILWATCH_TEST_ARTIFACTS")
    path = Path(chosen) if chosen else DEFAULT_ARTIFACTS
    path.mkdir(parents=True, exist_ok=True)
    return path


def _unavailable(why: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"browser tests need Debian's chromium under CI: {why}")
    pytest.skip(f"no browser: {why}")


def _require_chromium() -> None:
    if not CHROMIUM.exists():
        _unavailable(f"{CHROMIUM} is missing (apt-get install chromium; scripts/bootstrap)")


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def chromium() -> AsyncIterator[Browser]:
    """Chromium for the whole session (one process; each test gets its own context)."""
    _require_chromium()
    try:
        from playwright.async_api import Error, async_playwright
    except ImportError:
        _unavailable("the playwright package is missing (pip install -e '.[test]')")
        raise  # unreachable: _unavailable skips or fails
    manager = await async_playwright().start()
    try:
        try:
            # --no-sandbox: the tests run as root, where Chromium's sandbox refuses to start.
            browser = await manager.chromium.launch(
                executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"]
            )
        except Error as exc:
            _unavailable(f"{CHROMIUM} did not start: {str(exc).splitlines()[0]}")
            raise
        yield browser
        await browser.close()
    finally:
        await manager.stop()


@dataclass
class Screenshots:
    """PNGs of a test's steps, numbered in order: ``test_browser.test_x.01-login.png``."""

    prefix: str
    directory: Path = field(default_factory=artifacts_dir)
    taken: list[Path] = field(default_factory=list)

    async def take(self, page: Page, step: str, *, full_page: bool = True) -> Path:
        path = self.directory / f"{self.prefix}.{len(self.taken) + 1:02d}-{step}.png"
        await page.screenshot(path=str(path), full_page=full_page)
        self.taken.append(path)
        return path


@pytest.fixture
def screenshots(request: pytest.FixtureRequest) -> Screenshots:
    module = request.node.module.__name__.rpartition(".")[2]
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
    shots = Screenshots(f"{module}.{name}")
    for stale in shots.directory.glob(f"{glob.escape(shots.prefix)}.*.png"):
        stale.unlink()  # an earlier run's, maybe with a "failed" one this run will not take
    return shots


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.when == "call":
        item.stash[_FAILED] = report.failed
    return report


_FAILED = pytest.StashKey[bool]()


@pytest_asyncio.fixture(loop_scope="session")
async def browser_page(
    chromium: Browser, screenshots: Screenshots, request: pytest.FixtureRequest
) -> AsyncIterator[Page]:
    """A page in a context of its own (no cookies shared with other tests)."""
    context = await chromium.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    try:
        yield page
        if request.node.stash.get(_FAILED, False):
            await screenshots.take(page, "failed")
    finally:
        await context.close()


PHONE = {"width": 390, "height": 844}
"""A phone's viewport in CSS pixels (an iPhone 12 to 15)."""


@pytest_asyncio.fixture(loop_scope="session")
async def phone_page(
    chromium: Browser, screenshots: Screenshots, request: pytest.FixtureRequest
) -> AsyncIterator[Page]:
    """A page as a phone shows it: 390 px wide, touch, the page's own viewport meta obeyed."""
    context = await chromium.new_context(
        viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True
    )
    page = await context.new_page()
    try:
        yield page
        if request.node.stash.get(_FAILED, False):
            await screenshots.take(page, "failed")
    finally:
        await context.close()


_OVERFLOW = """() => {
    const root = document.documentElement;
    if (root.scrollWidth <= root.clientWidth) return [];
    return [...document.querySelectorAll("body *")]
        .filter((e) => e.getBoundingClientRect().right > root.clientWidth + 0.5)
        .slice(0, 5)
        .map((e) => `${e.tagName.toLowerCase()}.${[...e.classList].join(".")}: ` +
                    `${Math.round(e.getBoundingClientRect().right)} px: ` +
                    (e.textContent || "").trim().slice(0, 60));
}"""


async def sideways_overflow(page: Page) -> list[str]:
    """Why the page scrolls sideways (``scrollWidth > clientWidth``): the elements reaching past
    the viewport's right edge, with where they end; empty when it fits."""
    found: list[str] = await page.evaluate(_OVERFLOW)
    width: dict[str, int] = await page.evaluate(
        "({scroll: document.documentElement.scrollWidth,"
        " client: document.documentElement.clientWidth})"
    )
    if width["scroll"] > width["client"] and not found:
        found = [f"scrollWidth {width['scroll']} > clientWidth {width['client']}"]
    return found


async def log_in(page: Page, base: str, user: str = USER, password: str | None = None) -> None:
    """Log in through the form, as a person does (``helpers.web.PASSWORD`` unless told);
    ends on the overview."""
    if password is None:
        from helpers.web import PASSWORD as password
    await page.goto(f"{base}/login")
    await page.fill("#user", user)
    await page.fill("#password", password)
    await page.click("button:has-text('Log in')")
    await page.wait_for_url(f"{base}/")


def _config_text(
    state_dir: Path, port: int, hook: str, services: dict[str, SmtpGreeter], extra: str
) -> str:
    checks = "".join(
        f"""
[[checks.service]]
name = "{name}"
protocol = "smtp"
host = "127.0.0.1"
port = {greeter.port}
interval_s = {INTERVAL_S}
timeout_s = 3
"""
        for name, greeter in services.items()
    )
    return f"""
[daemon]
state_dir = "{state_dir}"
status_interval_s = 1
start_spread_s = 0

[incidents]
open_after = 1
resolve_after = 1
default_plan = "gold"

[calendars.always]
timezone = "UTC"
days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
hours = "00:00-24:00"

[plans.gold]
calendar = "always"
sev1 = {{ response = "4h", resolution = "1d" }}
sev2 = {{ response = "4h", resolution = "1d" }}
sev3 = {{ response = "4h", resolution = "1d" }}
sev4 = {{ response = "4h", resolution = "1d" }}
{checks}
[routes.oncall]
urls = ["{hook}"]

[outbox]
group_wait_s = 0

[web]
listen = "127.0.0.1:{port}"
public_url = "http://127.0.0.1:{port}"
link_key = "env:MW_LINK_KEY"
cookie_secure = false

[web.users.{USER}]
password_hash = "env:MW_USER_HASH"

[web.api_tokens]
tests = "env:MW_API_TOKEN"
{extra}
"""


@dataclass
class WebDaemon:
    """A running ``mailwatch run`` with its web pages at ``base``."""

    process: DaemonProcess
    port: int
    services: dict[str, SmtpGreeter]
    """Each check's peer: ``down()`` breaks the check (connect refused), ``up()`` repairs it."""
    receiver: HttpReceiver
    """The webhook of route ``oncall``: every notice arrives here."""

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def api(self, path: str) -> Any:
        """GET ``/api/v1/PATH`` with the test's token."""
        request = urllib.request.Request(
            f"{self.base}/api/v1/{path}", headers={"Authorization": f"Bearer {API_TOKEN}"}
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            return json.loads(answer.read())

    def open_ticket(self, check: str) -> dict[str, Any] | None:
        """The check's open ticket, as ``/api/v1/tickets`` gives it; None when none is open."""
        tickets: list[dict[str, Any]] = self.api("tickets")
        return next((t for t in tickets if t["check"] == check), None)

    def wait_open_ticket(self, check: str, timeout_s: float = 20.0) -> dict[str, Any]:
        return wait_for(f"a ticket for {check}", lambda: self.open_ticket(check), timeout_s)

    async def open_ticket_now(self, check: str) -> dict[str, Any] | None:
        """``open_ticket`` off the event loop (the browser's messages keep flowing)."""
        return await asyncio.to_thread(self.open_ticket, check)

    async def ticket_opened(self, check: str, timeout_s: float = 20.0) -> dict[str, Any]:
        """``wait_open_ticket`` off the event loop."""
        return await asyncio.to_thread(self.wait_open_ticket, check, timeout_s)

    async def link_sent(self, ticket_id: str, timeout_s: float = 20.0) -> str:
        """``ack_link`` off the event loop."""
        return await asyncio.to_thread(self.ack_link, ticket_id, timeout_s)

    def ack_link(self, ticket_id: str, timeout_s: float = 20.0) -> str:
        """The ack link of the opened notice about ``ticket_id``, as the webhook received it."""
        pattern = re.compile(rf"{re.escape(self.base)}/ack/[A-Za-z0-9._-]+")

        def found() -> str | None:
            for request in list(self.receiver.requests):
                text = request.body.decode(errors="replace")
                if ticket_id in text and (link := pattern.search(text)):
                    return link.group(0)
            return None

        return wait_for(f"an ack link for {ticket_id}", found, timeout_s)


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as answer:
            return bool(answer.status == 200)
    except (urllib.error.URLError, ConnectionError):
        return False


@contextmanager
def running_web_daemon(
    tmp: Path,
    checks: Sequence[str] = ("canary", "relay", "gateway"),
    *,
    extra_config: str = "",
    before_start: Callable[[DaemonProcess], None] | None = None,
) -> Iterator[WebDaemon]:
    """``mailwatch run -v`` over a fresh state dir in ``tmp``, serving its pages; every check
    in ``checks`` is a service check of its own greeter, up at the start. ``extra_config`` is
    appended to the config (new sections only); ``before_start`` may fill the store first."""
    with ExitStack() as stack:
        receiver = stack.enter_context(HttpReceiver())
        services = {name: stack.enter_context(SmtpGreeter()) for name in checks}
        port = free_port()
        text = _config_text(tmp / "state", port, receiver.url("/hook"), services, extra_config)
        # Imported here: helpers.web hashes its password with argon2 when imported, which every
        # test session would pay for, this module being a plugin.
        from helpers.web import HASH, LINK_KEY

        env = {"MW_LINK_KEY": LINK_KEY, "MW_USER_HASH": HASH, "MW_API_TOKEN": API_TOKEN}
        process = DaemonProcess(tmp, text, env)
        if before_start is not None:
            before_start(process)
        process.start("-v")
        stack.callback(process.stop)
        wait_for("the web server", lambda: _healthy(f"http://127.0.0.1:{port}/healthz"), 30)
        daemon = WebDaemon(process, port, services, receiver)
        wait_for(
            "every check ok",
            lambda: all(
                (status := process.check_status(name)) and status["state"] == "ok"
                for name in checks
            ),
            30,
        )
        yield daemon


@pytest.fixture(scope="module")
def web_daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebDaemon]:
    """One daemon for the module: checks ``canary``, ``relay`` and ``gateway``, up at the start
    (a test breaks one of its own, so that the module's tests do not depend on their order)."""
    with running_web_daemon(tmp_path_factory.mktemp("web-daemon")) as daemon:
        yield daemon
