"""The web pages in a real browser (Debian's Chromium through Playwright) against a real
``mailwatch run``: a person logs in, watches a check turn critical on the overview without
reloading it, opens the ticket and acknowledges it with the form, and the response clock
stops. Screenshots of each step are kept (tests/helpers/browser.py says where)."""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime, timedelta

from playwright.sync_api import Page, expect

from helpers.browser import Screenshots, WebDaemon, log_in
from helpers.web import LINK_KEY
from mailwatch.domain.acklinks import AckLink, link_url, sign


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).rstrip(b"=").decode()


def test_a_person_logs_in_and_sees_the_overview(
    web_daemon: WebDaemon, browser_page: Page, screenshots: Screenshots
) -> None:
    page = browser_page
    page.goto(f"{web_daemon.base}/")
    expect(page).to_have_url(f"{web_daemon.base}/login?next=/")  # anonymous: the login form
    screenshots.take(page, "login")
    page.fill("#user", "alice")
    page.fill("#password", "not the password")
    page.click("button:has-text('Log in')")
    expect(page.get_by_role("alert")).to_have_text("Wrong user or password.")
    log_in(page, web_daemon.base)
    expect(page.locator(".who")).to_contain_text("alice")
    expect(page.locator(".card.check", has_text="canary")).to_contain_text("ok")
    screenshots.take(page, "overview")


def test_acknowledging_with_the_form_stops_the_response_clock(
    web_daemon: WebDaemon, browser_page: Page, screenshots: Screenshots
) -> None:
    page = browser_page
    log_in(page, web_daemon.base)
    web_daemon.services["canary"].down()
    try:
        ticket = web_daemon.wait_open_ticket("canary")["ticket"]
        page.goto(f"{web_daemon.base}/tickets/{ticket}")
        response = page.locator("dt:has-text('response due') + dd")
        expect(response).to_contain_text(re.compile(r"^in 3 h 5\d min"))  # 4 h from the opening
        screenshots.take(page, "ticket-unacknowledged")
        page.fill("#ack-note", "looking at the relay")
        page.click("form[action$='/ack'] button")
        expect(page.get_by_role("status")).to_have_text("Acknowledged.")
        expect(response).to_contain_text("met")
        expect(page.locator("dt:has-text('acknowledged') + dd")).to_contain_text("by alice")
        expect(page.locator(".timeline")).to_contain_text("looking at the relay")
        screenshots.take(page, "ticket-acknowledged")
        acked = web_daemon.open_ticket("canary")
        assert acked is not None and acked["ticket"] == ticket
        assert (acked["status"], acked["acknowledged_by"]) == ("acknowledged", "alice")
    finally:
        web_daemon.services["canary"].up()


def test_an_ack_link_confirms_on_get_and_acknowledges_on_post(
    web_daemon: WebDaemon, browser_page: Page, screenshots: Screenshots
) -> None:
    page = browser_page
    web_daemon.services["relay"].down()
    try:
        ticket = web_daemon.wait_open_ticket("relay")
        link = web_daemon.ack_link(ticket["ticket"])  # from the opened notice, as mailed

        # Opening the link (as a mail scanner or a person does) only asks.
        opened = page.goto(link)
        assert opened is not None and opened.status == 200
        expect(page.locator("h1")).to_have_text(f"Acknowledge {ticket['ticket']}?")
        expect(page.locator("form")).to_contain_text("on behalf of route oncall")
        screenshots.take(page, "ack-link-confirmation")
        assert web_daemon.open_ticket("relay")["acknowledged_at"] is None  # type: ignore[index]

        # A link past its expiry and a changed link are refused, on GET and on POST.
        number = ticket["number"]
        expired = link_url(
            web_daemon.base,
            sign(LINK_KEY.encode(), AckLink(number, "oncall", datetime.now(UTC) - timedelta(1))),
        )
        token = link.rpartition("/")[2]
        other_route = sign(b"x" * 32, AckLink(number, "oncall", datetime.now(UTC) + timedelta(1)))
        altered = {
            "another ticket": link.replace(f"/ack/{number}.", f"/ack/{number + 1}.", 1),
            "another route": link.replace(".b25jYWxs.", f".{_b64('boss')}.", 1),
            "another key": link.replace(token, other_route),
            "cut short": link[:-3],
        }
        nonce = page.locator("input[name=nonce]").input_value()
        for what, bad, status, title in [
            ("expired", expired, 410, "Link expired"),
            *((name, url, 403, "Link not valid") for name, url in altered.items()),
        ]:
            refused = page.goto(bad)
            assert refused is not None and refused.status == status, what
            expect(page.locator("h1")).to_have_text(title)
            expect(page.locator("button")).not_to_be_visible()
            posted = page.request.post(bad, form={"nonce": nonce})
            assert posted.status == status, what
        screenshots.take(page, "ack-link-refused")
        still = web_daemon.open_ticket("relay")
        assert still is not None and still["acknowledged_at"] is None

        # The button acknowledges, on behalf of the route the notice went to.
        page.goto(link)
        page.click(f"button:has-text('Acknowledge {ticket['ticket']}')")
        expect(page.locator("h1")).to_have_text(f"{ticket['ticket']} acknowledged")
        screenshots.take(page, "ack-link-acknowledged")
        acked = web_daemon.open_ticket("relay")
        assert acked is not None
        assert (acked["status"], acked["acknowledged_by"]) == ("acknowledged", "oncall (ack link)")
    finally:
        web_daemon.services["relay"].up()
