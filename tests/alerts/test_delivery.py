"""Delivery through apprise to a real HTTP receiver on loopback (apprise ``json://``), never a
mock: exact payloads, HTTP errors, a closed port and a receiver that never answers."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest

from helpers.delivery import any_ok
from helpers.http_receiver import HttpReceiver
from helpers.tcp_responders import free_port
from mailwatch.alerts.delivery import deliver
from mailwatch.alerts.masking import install_log_masking
from mailwatch.alerts.routes import Route
from mailwatch.config.routes import RouteConfig


def route(*urls: str, **settings: object) -> Route:
    return Route("test", RouteConfig(urls=list(urls), **settings))  # type: ignore[arg-type]


async def test_delivers_exact_title_and_body_once_per_url() -> None:
    with HttpReceiver() as first, HttpReceiver() as second:
        outcome = await deliver(
            route(first.url("/hooks/one"), second.url("/hooks/two")),
            "[MW-000123] SEV1 canary-main: not_delivered",
            "SEV1 ticket MW-000123 opened.\n\nAcknowledge: mailwatch ack MW-000123",
            10,
            level="failure",
        )
        assert outcome.ok and any_ok(outcome)
        assert [(u.masked_url, u.ok, u.error) for u in outcome.per_url] == [
            (f"json://127.0.0.1:{first.port}/hooks/one", True, None),
            (f"json://127.0.0.1:{second.port}/hooks/two", True, None),
        ]
        for receiver, path in ((first, "/hooks/one"), (second, "/hooks/two")):
            [request] = receiver.requests
            assert request.method == "POST"
            assert request.path == path
            assert request.json() == {
                "version": "1.0",
                "title": "[MW-000123] SEV1 canary-main: not_delivered",
                "message": "SEV1 ticket MW-000123 opened.\n\nAcknowledge: mailwatch ack MW-000123",
                "attachments": [],
                "type": "failure",
            }


async def test_http_errors_are_failures_with_the_status() -> None:
    with HttpReceiver(statuses=[500]) as broken, HttpReceiver(statuses=[404]) as missing:
        outcome = await deliver(route(broken.url("/a"), missing.url("/b")), "t", "b", 10)
        assert len(broken.requests) == len(missing.requests) == 1
    assert not outcome.ok and not any_ok(outcome)
    first, second = outcome.per_url
    assert not first.ok and first.error is not None and "error=500" in first.error
    assert not second.ok and second.error is not None and "error=404" in second.error


async def test_one_failure_of_two_is_not_ok_but_someone_heard() -> None:
    with HttpReceiver() as working, HttpReceiver(statuses=[500]) as broken:
        outcome = await deliver(route(working.url("/ok"), broken.url("/no")), "t", "b", 10)
    assert not outcome.ok
    assert any_ok(outcome)
    assert [u.ok for u in outcome.per_url] == [True, False]


async def test_a_closed_port_fails_within_the_timeout() -> None:
    port = free_port()
    started = time.monotonic()
    outcome = await deliver(route(f"json://127.0.0.1:{port}/hook"), "t", "b", 5)
    assert time.monotonic() - started < 5
    [result] = outcome.per_url
    assert not result.ok
    assert result.error == "A Connection error occurred sending JSON notification to 127.0.0.1."


async def test_a_receiver_that_never_answers_is_cut_off_by_our_timeout() -> None:
    with HttpReceiver(hang=True) as silent:
        started = time.monotonic()
        outcome = await deliver(route(silent.url("/slow")), "t", "b", 0.5)
        elapsed = time.monotonic() - started
        # Our timeout may end the wait before apprise's worker thread has sent the request.
        assert len(silent.wait_for(1)) == 1  # it was sent; the answer never came
    assert 0.5 <= elapsed < 2.5
    [result] = outcome.per_url
    assert (result.ok, result.error) == (False, "timed out: no answer within 0.5 s")


async def test_body_format_is_passed_to_apprise() -> None:
    with HttpReceiver() as receiver:
        passthrough = route(receiver.url("/md"), format="markdown")
        assert (await deliver(passthrough, "t", "**Stage:** late", 10)).ok
        # A service that takes text only (json:// told so) gets apprise's conversion.
        text_only = route(receiver.url("/text?format=text"), format="html")
        assert (await deliver(text_only, "t", "<p><b>Stage:</b> late</p>", 10)).ok
        messages = [request.json()["message"] for request in receiver.requests]
    assert messages == ["**Stage:** late", "Stage: late"]


async def test_apprise_config_file_services_selected_by_tag(tmp_path: Path) -> None:
    with HttpReceiver() as receiver:
        config = tmp_path / "apprise.txt"
        config.write_text(
            f"ops={receiver.url('/ops-channel-TOKEN123')}\n"
            f"sales={receiver.url('/sales')}\n"
            f"ops,sales={receiver.url('/both')}\n"
        )
        outcome = await deliver(route(config_file=config, config_tags=["ops"]), "title", "body", 10)
        assert outcome.ok
        assert sorted(r.path for r in receiver.requests) == ["/both", "/ops-channel-TOKEN123"]
    assert sorted(u.masked_url for u in outcome.per_url) == [
        f"json://127.0.0.1:{receiver.port}/****",
        f"json://127.0.0.1:{receiver.port}/both",
    ]


async def test_a_config_file_without_matching_services_is_a_failure(tmp_path: Path) -> None:
    config = tmp_path / "apprise.txt"
    config.write_text("sales=json://127.0.0.1:9/sales\n")
    outcome = await deliver(route(config_file=config, config_tags=["ops"]), "t", "b", 5)
    assert not outcome.ok
    assert outcome.per_url[0].masked_url == f"apprise config file {config}"
    assert outcome.per_url[0].error == "no service in it is tagged ops"


async def test_no_secret_reaches_logs_or_outcomes(caplog: pytest.LogCaptureFixture) -> None:
    password, token = "Hunter2-Passw0rd", "PATHTOKEN0123456789"
    install_log_masking(apprise_level=logging.DEBUG)  # apprise's debug lines hold request URLs
    try:
        with caplog.at_level(logging.DEBUG), HttpReceiver(statuses=[500]) as receiver:
            url = f"json://hook:{password}@127.0.0.1:{receiver.port}/hooks/{token}"
            outcome = await deliver(route(url), "t", "b", 10)
            assert receiver.requests[0].path == f"/hooks/{token}"  # it really was sent
    finally:
        install_log_masking(apprise_level=logging.WARNING)
    assert "JSON POST URL" in caplog.text  # apprise's debug line was there, masked
    assert not outcome.ok
    shown = repr(outcome) + caplog.text
    assert password not in shown
    assert token not in shown
    assert outcome.per_url[0].masked_url == f"json://hook:****@127.0.0.1:{receiver.port}/hooks/****"
