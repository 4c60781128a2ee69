"""The JSON API of a real ``mailwatch run``, as a chat bot or a ticket system calls it: bearer
tokens, tickets and people's actions on them, silences, and errors a program can read."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers.daemon import wait_for
from web.api_daemon import TOKEN, ApiDaemon, api_daemon


@pytest.fixture
def api(tmp_path: Path) -> Iterator[ApiDaemon]:
    with api_daemon(tmp_path) as daemon:
        yield daemon


def show(api: ApiDaemon, ticket: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "mailwatch", "show", ticket, "-c", str(api.process.config)],
        env=api.process.env,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_anonymous_and_wrong_tokens_are_refused_and_no_token_is_logged(api: ApiDaemon) -> None:
    anonymous = api.call("GET", "/api/v1/tickets", token=None)
    assert anonymous.status == 401
    assert anonymous.headers["WWW-Authenticate"] == 'Bearer realm="mailwatch"'
    assert "Authorization: Bearer" in anonymous.body["error"]
    wrong = api.call("POST", "/api/v1/tickets/MW-000001/ack", {}, token=TOKEN + "x")
    assert wrong.status == 401
    assert 'error="invalid_token"' in wrong.headers["WWW-Authenticate"]
    assert wrong.body == {"error": "the token is not one of [web.api_tokens]"}
    # Nothing was done by the refused requests.
    assert api.call("GET", "/api/v1/tickets/MW-000001").body["status"] == "triggered"
    # Only the API's description is open to anyone.
    assert api.call("GET", "/api/v1/openapi.json", token=None).status == 200
    assert api.call("GET", "/api/v1/status", token=None).status == 401
    # The right token works, and neither token ends up in the daemon's log (run with -v,
    # so every request line is in it).
    assert api.call("GET", "/api/v1/status").status == 200
    # The access line is written once the answer has gone out.
    log = wait_for(
        "the access log line",
        lambda: (text := api.process.stderr) and ("GET /api/v1/status 200" in text) and text,
    )
    assert "refused a wrong token from 127.0.0.1 for /api/v1/tickets/MW-000001/ack" in log
    assert TOKEN not in log and TOKEN[:12] not in log


def test_status_is_the_status_document(api: ApiDaemon) -> None:
    answer = api.call("GET", "/api/v1/status")
    assert answer.status == 200
    document = answer.body
    assert document["schema"] == "mailwatch.status/1"
    assert [(t["id"], t["check"]) for t in document["tickets"]] == [
        ("MW-000001", "imap"),
        ("MW-000002", "mx"),
    ]


def test_ack_through_the_api_stops_the_response_clock(api: ApiDaemon) -> None:
    before = api.call("GET", "/api/v1/tickets/MW-000001").body
    assert (before["status"], before["acknowledged_at"]) == ("triggered", None)
    assert before["response_due"] is not None
    # The clock runs: opened an hour ago, answer due within 2 h.
    assert re.search(r"response due: .* \(in \d+ min\)$", show(api, "MW-000001"), re.M)

    answer = api.call("POST", "/api/v1/tickets/MW-1/ack", {"note": "on it", "by": "alice"})
    assert answer.status == 200, answer.body
    assert answer.body["changed"] is True
    assert answer.body["acknowledged_by"] == "alice via chatbot"

    after = api.call("GET", "/api/v1/tickets/MW-000001").body
    assert after["status"] == "acknowledged"
    assert after["acknowledged_at"] is not None
    assert after["response_breached"] is False
    last = after["timeline"][-1]
    assert (last["type"], last["actor"], last["note"]) == (
        "acknowledged",
        "alice via chatbot",
        "on it",
    )
    shown = show(api, "MW-000001")
    (response,) = (line for line in shown.splitlines() if "response due:" in line)
    assert response.endswith("(met)"), response
    assert "by alice via chatbot" in shown
    # The overview's source knows too.
    (ticket,) = (
        t for t in api.call("GET", "/api/v1/status").body["tickets"] if t["id"] == "MW-000001"
    )
    assert ticket["acknowledged_by"] == "alice via chatbot"

    again = api.call("POST", "/api/v1/tickets/MW-000001/ack", {})
    assert (again.status, again.body["changed"]) == (200, False)  # a bot may repeat itself
    assert again.body["acknowledged_by"] == "alice via chatbot"


def test_ticket_actions_refuse_what_the_cli_refuses(api: ApiDaemon) -> None:
    resolved = api.call("POST", "/api/v1/tickets/MW-000003/ack", {})
    assert resolved.status == 409
    assert "MW-000003: it was resolved at" in resolved.body["error"]
    missing = api.call("POST", "/api/v1/tickets/MW-000099/ack", {})
    assert (missing.status, missing.body) == (404, {"error": "there is no ticket MW-000099"})
    huge = api.call("GET", f"/api/v1/tickets/MW-{2**40}")
    assert huge.status == 404 and "no ticket has a number that high" in huge.body["error"]
    foreign = api.call("GET", "/api/v1/tickets/XY-000001")
    assert foreign.status == 404 and "its prefix is 'MW-'" in foreign.body["error"]
    no_note = api.call("POST", "/api/v1/tickets/MW-000002/mitigate", {"by": "bob"})
    assert (no_note.status, no_note.body) == (400, {"error": "note is required"})
    blank = api.call("POST", "/api/v1/tickets/MW-000002/resolve", {"note": "  "})
    assert (blank.status, blank.body) == (400, {"error": "note must not be blank"})
    not_json = api.call("POST", "/api/v1/tickets/MW-000002/ack", raw=b"{note: 1")
    assert not_json.status == 400 and not_json.body["error"].startswith("the body is not JSON")
    typo = api.call("POST", "/api/v1/tickets/MW-000002/ack", {"notes": "x"})
    assert (typo.status, typo.body) == (400, {"error": "unknown field(s): notes"})
    flag = api.call("GET", "/api/v1/tickets?all=yes")
    assert flag.status == 400 and "all must be true or false" in flag.body["error"]
    unknown = api.call("GET", "/api/v1/nothing-here")
    assert unknown.status == 404
    assert unknown.body == {"error": "no such operation: GET /api/v1/nothing-here"}
    assert api.call("GET", "/api/v1/nothing-here", token=None).status == 401
    # None of those changed the ticket.
    assert api.call("GET", "/api/v1/tickets/MW-000002").body["status"] == "triggered"

    resolve = api.call("POST", "/api/v1/tickets/MW-000002/resolve", {"note": "fixed the MX"})
    assert resolve.status == 200 and resolve.body["resolved_by"] == "chatbot"
    open_now = api.call("GET", "/api/v1/tickets").body
    assert [t["ticket"] for t in open_now] == ["MW-000001"]
    every = api.call("GET", "/api/v1/tickets?all=true").body
    assert [t["ticket"] for t in every] == ["MW-000003", "MW-000002", "MW-000001"]


def test_silences_are_listed_created_and_expired(api: ApiDaemon) -> None:
    assert api.call("GET", "/api/v1/silences").body == []
    created = api.call(
        "POST", "/api/v1/silences", {"check": "imap", "duration_s": 7200, "reason": "upgrade"}
    )
    assert created.status == 201, created.body
    silence = created.body
    assert (silence["check"], silence["by"], silence["reason"]) == ("imap", "chatbot", "upgrade")
    assert silence["tickets"] == ["MW-000001"]  # its open ticket's timeline says so
    listed = api.call("GET", "/api/v1/silences").body
    assert [s["id"] for s in listed] == [silence["id"]]
    timeline = api.call("GET", "/api/v1/tickets/MW-000001").body["timeline"]
    assert timeline[-1]["type"] == "silenced"

    unknown = api.call(
        "POST", "/api/v1/silences", {"check": "pop3", "duration_s": 60, "reason": "x"}
    )
    assert unknown.status == 400
    assert unknown.body["error"] == "check: unknown check 'pop3': use \"all\" or one of: imap, mx"
    too_long = api.call(
        "POST", "/api/v1/silences", {"check": "all", "duration_s": 10**9, "reason": "x"}
    )
    assert too_long.body == {"error": "duration_s must be from 1 to 31622400"}

    expired = api.call("POST", f"/api/v1/silences/{silence['id']}/expire", {"by": "erin"})
    assert expired.status == 200
    assert (expired.body["changed"], expired.body["ended_by"]) == (True, "erin via chatbot")
    again = api.call("POST", f"/api/v1/silences/{silence['id']}/expire")
    assert (again.status, again.body["changed"]) == (200, False)
    assert api.call("GET", "/api/v1/silences").body == []
    missing = api.call("POST", "/api/v1/silences/999/expire")
    assert (missing.status, missing.body) == (404, {"error": "there is no silence 999"})
    # Past what the database's INTEGER column holds (32 bits on PostgreSQL): nothing, not an
    # error from the database.
    huge = api.call("POST", f"/api/v1/silences/{2**40}/expire")
    assert huge.status == 404
