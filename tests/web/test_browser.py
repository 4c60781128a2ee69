"""The web pages in a real browser (Debian's Chromium through Playwright) against a real
``mailwatch run``: a person logs in, watches a check turn critical on the overview without
reloading it, opens the ticket and acknowledges it with the form, and the response clock
stops. Screenshots of each step are kept (tests/helpers/browser.py says where)."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from helpers.browser import Screenshots, WebDaemon, log_in


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
