"""Generic webhooks carry an idempotency key, the outbox row's id, as the ``Idempotency-Key``
header and the ``idempotency_key`` body field, the same on every attempt at that row, so a
receiver can drop a repeat. Sent through apprise to a real HTTP receiver on loopback."""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET
from urllib.parse import parse_qs

import pytest

from helpers.http_receiver import HttpReceiver, ReceivedRequest
from helpers.outbox_support import T0, alert_config, fail, open_store, rows, seconds, sender
from mailwatch.alerts.apprise_setup import load_apprise
from mailwatch.alerts.delivery import deliver
from mailwatch.alerts.idempotency import with_idempotency_key
from mailwatch.alerts.masking import install_log_masking
from mailwatch.alerts.routes import Route
from mailwatch.config.routes import RouteConfig


def body_key(request: ReceivedRequest, scheme: str) -> str:
    """The ``idempotency_key`` field of a json://, form:// or xml:// body."""
    if scheme == "json":
        return str(request.json()["idempotency_key"])
    if scheme == "form":
        [value] = parse_qs(request.body.decode())["idempotency_key"]
        return value
    found = ET.fromstring(request.body).find(".//idempotency_key")
    assert found is not None, request.body
    return str(found.text)


@pytest.mark.parametrize("scheme", ["json", "form", "xml"])
async def test_every_attempt_at_a_row_carries_its_id_as_header_and_field(
    store_url: str, scheme: str
) -> None:
    """The first attempt fails (HTTP 500), the retry is delivered: both carry the row's id."""
    with HttpReceiver(statuses=[500]) as receiver:
        cfg = alert_config({"team": {"urls": [receiver.url("/hook", scheme=scheme)]}})
        async with open_store(store_url) as store:
            opened = await fail(store, cfg, T0)
            [row_id] = opened.outbox_ids
            out = sender(store, cfg)
            assert (await out.run_once(T0 + seconds(1))).failed == [row_id]
            assert (await out.run_once(T0 + seconds(60))).delivered == [row_id]
            [row] = await rows(store)
    assert (row.status, row.attempts) == ("delivered", 2)
    assert len(receiver.requests) == 2
    for request in receiver.requests:
        assert request.headers["Idempotency-Key"] == str(row_id)
        assert body_key(request, scheme) == str(row_id)
    # The message itself is still all there beside the key.
    first = receiver.requests[0]
    assert b"MW-000001" in first.body


async def test_rows_of_one_ticket_have_keys_of_their_own(store_url: str) -> None:
    with HttpReceiver() as receiver:
        cfg = alert_config(
            {"team": {"urls": [receiver.url("/t")]}, "ops": {"urls": [receiver.url("/o")]}}
        )
        async with open_store(store_url) as store:
            opened = await fail(store, cfg, T0)
            assert sorted((await sender(store, cfg).run_once(T0)).delivered) == [1, 2]
    assert opened.outbox_ids == [1, 2]
    keys = {
        r.path: (r.headers["Idempotency-Key"], r.json()["idempotency_key"])
        for r in receiver.requests
    }
    assert keys == {"/t": ("1", "1"), "/o": ("2", "2")}


@pytest.mark.parametrize("scheme", ["json", "jsons", "form", "forms", "xml", "xmls"])
def test_apprise_reads_the_key_from_every_generic_webhook_url(scheme: str) -> None:
    """The TLS forms cannot be sent to the plain loopback receiver; apprise's own parse of the
    URL shows it takes the header and the field for them as for the plain ones."""
    url = with_idempotency_key(f"{scheme}://user:secret@hooks.example.org/in?+X-Team=ops", "42")
    service = load_apprise().Apprise.instantiate(url)
    assert service.headers == {"X-Team": "ops", "Idempotency-Key": "42"}
    assert service.payload_extras == {"idempotency_key": "42"}


@pytest.mark.parametrize(
    "url",
    [
        "mailtos://user:secret@mail.example.org?to=ops@example.org",
        "pover://USERKEY@APPTOKEN",
        "ntfy://ntfy.example.org/topic",
    ],
)
def test_other_services_are_sent_the_message_as_it_is(url: str) -> None:
    assert with_idempotency_key(url, "42") == url


async def test_the_key_reveals_no_url(caplog: pytest.LogCaptureFixture) -> None:
    password, token = "Hunter2-Passw0rd", "PATHTOKEN0123456789"
    install_log_masking(apprise_level=logging.DEBUG)  # apprise's debug lines hold request URLs
    try:
        with caplog.at_level(logging.DEBUG), HttpReceiver() as receiver:
            url = f"json://hook:{password}@127.0.0.1:{receiver.port}/hooks/{token}"
            route = Route("test", RouteConfig(urls=[url]))  # type: ignore[list-item]
            outcome = await deliver(route, "t", "b", 10, idempotency_key="7")
            [request] = receiver.requests
    finally:
        install_log_masking(apprise_level=logging.WARNING)
    assert outcome.ok
    assert request.headers["Idempotency-Key"] == "7"
    assert request.path == f"/hooks/{token}"  # the key went in headers and body, not the path
    shown = repr(outcome) + caplog.text
    assert password not in shown
    assert token not in shown
    assert outcome.per_url[0].masked_url == f"json://hook:****@127.0.0.1:{receiver.port}/hooks/****"
