"""The canary round trip against the real Postfix and Dovecot of the test harness."""

from __future__ import annotations

import asyncio
import imaplib
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from harness.mailservers import MailServers
from helpers.resolving import resolve_several
from helpers.roundtrip_config import roundtrip_toml
from helpers.tcp_responders import Responder, greets
from mailwatch.config.checks.roundtrip import RoundtripCheck
from mailwatch.domain.nodes import NodeIdentity
from mailwatch.domain.results import State
from mailwatch.probes.roundtrip.canary import Canary
from mailwatch.runner import run_check


def deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def route_dict(servers: MailServers, **extra: Any) -> dict[str, Any]:
    base = {
        "name": "rt",
        "mail_from": "mailwatch@example.test",
        "rcpt_to": servers.canary,
        "deadline_s": 10,
        "smtp": {
            "host": "localhost",
            "port": servers.smtp_port,
            "tls": "starttls",
            "ca_file": str(servers.ca_file),
        },
        "imap": {
            "host": "localhost",
            "port": servers.imap_port,
            "tls": "starttls",
            "ca_file": str(servers.ca_file),
            "username": servers.canary,
            "password": servers.password,
            "poll_interval_s": 0.5,
        },
    }
    return deep_merge(base, extra)


def route(servers: MailServers, **extra: Any) -> RoundtripCheck:
    return RoundtripCheck.model_validate(route_dict(servers, **extra))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def servers(mail_servers: MailServers) -> Iterator[MailServers]:
    """The harness, with empty mailboxes and nothing held, before and after each test."""
    _reset(mail_servers)
    yield mail_servers
    _reset(mail_servers)


def _reset(servers: MailServers) -> None:
    servers.release_delivery()
    for user in ("canary", "junk"):
        for folder in ("", "Junk"):
            for path in servers.maildir_files(user, folder):
                path.unlink(missing_ok=True)


def assert_mailbox_empty(servers: MailServers, user: str = "canary", folder: str = "") -> None:
    assert servers.maildir_files(user, folder) == []


async def test_healthy_round_trip_measures_latency_parses_hops_and_cleans_up(
    servers: MailServers,
) -> None:
    result = await run_check(route(servers))
    assert result.state is State.OK, result.summary
    assert result.stage is None
    assert 0 < result.metrics["latency_s"] < 5
    assert result.metrics["send_s"] > 0
    assert result.summary.startswith("canary delivered in ")
    assert result.details["wait"] == "idle"
    hops = result.details["hops"]
    assert hops and hops[-1]["by"] == "mail.example.test"
    assert hops[-1]["with"] in {"ESMTPS", "ESMTPSA"}
    assert hops[-1]["delay_s"] is not None
    # each hop's delay is a figure of its own too (mailwatch_roundtrip_hop_delay_seconds)
    for number, hop in enumerate(hops, start=1):
        assert result.metrics.get(f"hop_{number}_delay_s") == hop["delay_s"]
    assert_mailbox_empty(servers)


async def test_many_probes_do_not_grow_the_mailbox(servers: MailServers) -> None:
    for _ in range(3):
        result = await run_check(route(servers))
        assert result.state is State.OK, result.summary
    assert_mailbox_empty(servers)


@pytest.mark.parametrize(
    ("smtp", "imap"),
    [
        pytest.param(
            {"tls": "tls", "port": "smtps"}, {"tls": "tls", "port": "imaps"}, id="implicit"
        ),
        pytest.param({"tls": "starttls", "port": "submission"}, {"tls": "starttls"}, id="starttls"),
    ],
)
async def test_tls_modes_with_auth(
    servers: MailServers, smtp: dict[str, Any], imap: dict[str, Any]
) -> None:
    ports = {
        "smtps": servers.smtps_port,
        "submission": servers.submission_port,
        "imaps": servers.imaps_port,
    }
    smtp = {**smtp, "port": ports[smtp["port"]]}
    smtp |= {"username": servers.canary, "password": servers.password}
    if "port" in imap:
        imap = {**imap, "port": ports[imap["port"]]}
    result = await run_check(route(servers, smtp=smtp, imap=imap))
    assert result.state is State.OK, result.summary
    assert_mailbox_empty(servers)


async def test_smtp_certificate_from_unknown_ca_is_refused(servers: MailServers) -> None:
    smtp = {"tls": "tls", "port": servers.smtps_unknown_ca_port}
    result = await run_check(route(servers, smtp=smtp))
    assert (result.state, result.stage) == (State.CRITICAL, "smtp_tls")
    assert "certificate of localhost:10466 not accepted" in result.summary
    assert "unable to get local issuer certificate" in result.summary


async def test_imap_certificate_from_unknown_ca_is_refused(servers: MailServers) -> None:
    imap = {"tls": "tls", "port": servers.imaps_unknown_ca_port}
    result = await run_check(route(servers, imap=imap))
    assert (result.state, result.stage) == (State.CRITICAL, "imap_tls")
    assert "not accepted" in result.summary


async def test_certificate_check_can_be_turned_off_per_route(servers: MailServers) -> None:
    imap = {"tls": "tls", "port": servers.imaps_unknown_ca_port, "verify_cert": False}
    result = await run_check(route(servers, imap=imap))
    assert result.state is State.OK, result.summary


async def test_wrong_imap_password(servers: MailServers) -> None:
    result = await run_check(route(servers, imap={"password": "wrong-password"}))
    assert (result.state, result.stage) == (State.CRITICAL, "imap_auth")
    assert "refused the login of canary@example.test" in result.summary
    assert "wrong-password" not in result.summary


async def test_wrong_smtp_password(servers: MailServers) -> None:
    smtp = {
        "port": servers.submission_port,
        "username": servers.canary,
        "password": "wrong-password",
    }
    result = await run_check(route(servers, smtp=smtp))
    assert (result.state, result.stage) == (State.CRITICAL, "smtp_auth")
    assert "refused the login: 535" in result.summary


async def test_recipient_rejected_by_postfix(servers: MailServers) -> None:
    result = await run_check(route(servers, rcpt_to="nobody@example.test"))
    assert (result.state, result.stage) == (State.CRITICAL, "smtp_rejected")
    assert "refused nobody@example.test: 550" in result.summary
    # The server's own words, apart, for the evidence a ticket keeps.
    assert result.details["server_reply"].startswith("550 ")


async def test_smtp_port_closed(servers: MailServers) -> None:
    port = free_port()
    result = await run_check(route(servers, smtp={"port": port}))
    assert (result.state, result.stage) == (State.CRITICAL, "smtp_connect")
    assert result.summary == f"connection refused by localhost:{port}"


async def test_imap_port_closed(servers: MailServers) -> None:
    port = free_port()
    result = await run_check(route(servers, imap={"port": port, "tls": "none"}))
    assert (result.state, result.stage) == (State.CRITICAL, "imap_connect")
    assert result.summary == f"connection refused by localhost:{port}"


async def test_a_missing_spam_folder_is_a_warning_that_names_it(servers: MailServers) -> None:
    result = await run_check(route(servers, imap={"spam_folders": ["Junk", "Spam-Typo"]}))
    assert (result.state, result.stage) == (State.WARNING, "spam_folder_missing")
    assert result.summary.startswith("canary delivered in ")
    assert f"spam folder Spam-Typo not found on localhost:{servers.imap_port}" in result.summary
    assert result.details["missing_spam_folders"] == ["Spam-Typo"]
    assert_mailbox_empty(servers)


async def test_unknown_host(servers: MailServers) -> None:
    result = await run_check(route(servers, smtp={"host": "no-such-host.invalid"}))
    assert (result.state, result.stage) == (State.CRITICAL, "smtp_connect")
    assert "no-such-host.invalid" in result.summary


async def test_held_mail_is_not_delivered_then_reported_late_once(servers: MailServers) -> None:
    check = route(servers, deadline_s=2)
    servers.hold_delivery()
    held = await run_check(check)
    assert (held.state, held.stage) == (State.CRITICAL, "not_delivered")
    assert "not delivered within 2 s" in held.summary
    assert held.metrics["waited_s"] == 2
    assert servers.queue_ids("hold")

    servers.release_delivery()
    servers.wait_for_maildir("canary", 1, timeout_s=20)
    later = await run_check(check)
    # Reported, not counted again: the run that sent it already failed, and this run's own
    # canary went through, so mail flows and the run is ok.
    assert (later.state, later.stage) == (State.OK, None), later.summary
    assert later.metrics["late_canaries"] == 1
    assert "1 earlier canary(ies) arrived after their run gave up" in later.summary
    [late] = later.details["late"]
    assert late["canary"] == held.details["canary"]
    # INTERNALDATE has whole seconds, so the measured delay may fall up to 1 s short.
    assert late["delay_s"] >= 1
    # Where it waited: its Received hops, Postfix's last.
    assert late["hops"] and late["hops"][-1]["by"] == "mail.example.test"

    again = await run_check(check)
    assert again.state is State.OK, again.summary
    assert again.metrics["late_canaries"] == 0
    assert_mailbox_empty(servers)


async def test_a_late_canary_within_the_warning_latency_raises_the_learned_deadline(
    servers: MailServers,
) -> None:
    # The route has learned 0.5 s latencies, so it gives up on a canary after 2.5 s; one that
    # then comes a few seconds late was slow, not lost, and the route learns that.
    check = route(servers, deadline_s=60, learned_deadline_min_s=1, latency_warning_s=30)
    memory: dict[str, Any] = {"healthy_latencies_s": [0.5] * 5}
    servers.hold_delivery()
    held = await run_check(check, memory)
    assert (held.state, held.stage) == (State.CRITICAL, "not_delivered")
    assert held.metrics["deadline_s"] == 2.5

    servers.release_delivery()
    servers.wait_for_maildir("canary", 1, timeout_s=20)
    # This run's own canary gets the full minute (Postfix may still be flushing the queue);
    # the late one is learned all the same, and the summary names the next wait.
    patient = check.model_copy(update={"learn_deadline": False})
    later = await run_check(patient, memory)
    assert later.state is State.OK, later.summary
    [late] = later.details["late"]
    assert late["delay_s"] is not None and late["delay_s"] < 30
    assert "next wait" in later.summary

    again = await run_check(check, memory)
    assert again.state is State.OK, again.summary
    # 5 x the slowest healthy latency, the late one now among them (its delay_s is rounded).
    slowest = max(0.5, late["delay_s"], later.metrics["latency_s"])
    assert again.metrics["deadline_s"] == pytest.approx(min(60.0, 5 * slowest), abs=0.3)
    assert again.metrics["deadline_s"] > held.metrics["deadline_s"]
    assert_mailbox_empty(servers)


def confirming_route(servers: MailServers) -> tuple[RoundtripCheck, dict[str, Any]]:
    """A route that has learned 0.2 s latencies: a lone run gives up after its 4 s floor, a
    confirmation whose earlier canary is still missing after 5 x 0.2 = 1 s."""
    check = route(servers, deadline_s=60, learned_deadline_min_s=4, confirmation_deadline_min_s=0.5)
    return check, {"healthy_latencies_s": [0.2] * 5}


async def test_a_confirmation_whose_earlier_canary_is_still_missing_waits_less(
    servers: MailServers,
) -> None:
    check, memory = confirming_route(servers)
    servers.hold_delivery()
    first = await run_check(check, memory)
    assert (first.state, first.stage) == (State.CRITICAL, "not_delivered")
    assert first.metrics["deadline_s"] == 4
    assert "learned: 5 x the slowest" in first.summary

    # The daemon's retry: the first canary is still held, so the second need not wait 4 s.
    confirmed = await run_check(check, memory, confirming=True)
    assert (confirmed.state, confirmed.stage) == (State.CRITICAL, "not_delivered")
    assert confirmed.metrics["deadline_s"] == pytest.approx(1.0)
    assert confirmed.metrics["waited_s"] == pytest.approx(1.0)
    assert (
        "not delivered within 1 s (confirming: the previous run's canary is still missing after"
        in (confirmed.summary)
    )
    assert confirmed.details["confirms"] == first.details["canary"]

    # A run that confirms nothing (the ticket is open) waits the whole learned deadline again.
    regular = await run_check(check, memory)
    assert (regular.state, regular.stage) == (State.CRITICAL, "not_delivered")
    assert regular.metrics["deadline_s"] == 4
    assert "confirms" not in regular.details

    # Each of the three canaries is reported late once, by the first run that finds it.
    servers.release_delivery()
    servers.wait_for_maildir("canary", 3, timeout_s=20)
    later = await run_check(check, memory, confirming=True)
    assert later.state is State.OK, later.summary
    reported = {entry["canary"] for entry in later.details["late"]}
    assert reported == {r.details["canary"] for r in (first, confirmed, regular)}
    again = await run_check(check, memory)
    assert again.state is State.OK, again.summary
    assert again.metrics["late_canaries"] == 0
    assert_mailbox_empty(servers)


async def test_a_confirmation_waits_the_whole_deadline_once_the_earlier_canary_arrives(
    servers: MailServers,
) -> None:
    """The earlier canary turning up says mail moves again, slowly: the confirmation's own
    canary then gets the full learned wait, as a lone run's would."""
    check, memory = confirming_route(servers)
    servers.hold_delivery()
    first = await run_check(check, memory)
    assert (first.state, first.stage) == (State.CRITICAL, "not_delivered")
    servers.release_delivery()
    servers.wait_for_maildir("canary", 1, timeout_s=20)
    servers.hold_delivery()

    confirmed = await run_check(check, memory, confirming=True)
    assert (confirmed.state, confirmed.stage) == (State.CRITICAL, "not_delivered")
    assert confirmed.metrics["deadline_s"] == 4
    assert "learned: 5 x the slowest" in confirmed.summary
    assert "confirms" not in confirmed.details
    [late] = confirmed.details["late"]
    assert late["canary"] == first.details["canary"]

    servers.release_delivery()
    servers.wait_for_maildir("canary", 1, timeout_s=20)
    later = await run_check(check, memory)
    assert later.state is State.OK, later.summary
    [late] = later.details["late"]
    assert late["canary"] == confirmed.details["canary"]
    assert_mailbox_empty(servers)


async def test_delivery_into_spam_folder(servers: MailServers) -> None:
    imap = {"username": servers.junk}
    result = await run_check(route(servers, rcpt_to=servers.junk, imap=imap))
    assert (result.state, result.stage) == (State.WARNING, "delivered_to_spam")
    assert "spam folder Junk" in result.summary
    assert result.metrics["latency_s"] < 5
    assert_mailbox_empty(servers, "junk", "Junk")


async def test_server_without_idle_is_polled(servers: MailServers) -> None:
    imap = {"port": servers.imap_noidle_port, "tls": "none"}
    result = await run_check(route(servers, imap=imap))
    assert result.state is State.OK, result.summary
    assert result.details["wait"] == "poll"
    assert_mailbox_empty(servers)


def _append(servers: MailServers, msg: bytes, when: datetime) -> None:
    with imaplib.IMAP4(servers.host, servers.imap_noidle_port) as client:
        client.login(servers.canary, servers.password)
        client.append("INBOX", "", imaplib.Time2Internaldate(when), msg)


def _canary_at(check_name: str, sent_at: datetime, *, header: str = "check") -> bytes:
    """A canary of ``check_name``; ``header="route"`` writes it the way canaries were written
    before the header said ``check=``."""
    canary = Canary(check=check_name, id=Canary.new(check_name).id, sent_at=sent_at)
    raw = canary.message("mailwatch@example.test", "canary@example.test")
    return raw.replace(b": check=", f": {header}=".encode(), 1)


async def test_orphan_sweep_removes_only_our_old_canaries(servers: MailServers) -> None:
    now = datetime.now(UTC)
    two_hours_ago = now - timedelta(hours=2)
    old_ours = _canary_at("rt", two_hours_ago)
    recent_ours = _canary_at("rt", now - timedelta(minutes=1))
    other_route = _canary_at("rt-other", two_hours_ago)
    lookalike = EmailMessage()
    lookalike["Subject"] = "[mailwatch canary] rt " + "0" * 32
    lookalike["From"] = "someone@example.test"
    lookalike.set_content("a person's mail that merely looks like a canary")
    # Each arrived a second after it was sent: none of them is late.
    _append(servers, old_ours, two_hours_ago + timedelta(seconds=1))
    _append(servers, recent_ours, now - timedelta(minutes=1) + timedelta(seconds=1))
    _append(servers, other_route, two_hours_ago + timedelta(seconds=1))
    _append(servers, lookalike.as_bytes(), two_hours_ago)

    result = await run_check(route(servers))
    assert result.state is State.OK, result.summary
    assert result.details["removed_orphans"] == 1
    left = {_subject(path) for path in servers.maildir_files("canary")}
    assert left == {_subject_of(recent_ours), _subject_of(other_route), lookalike["Subject"]}


async def test_orphan_sweep_removes_old_canaries_with_the_older_route_header(
    servers: MailServers,
) -> None:
    now = datetime.now(UTC)
    two_hours_ago = now - timedelta(hours=2)
    old_ours = _canary_at("rt", two_hours_ago, header="route")
    recent_ours = _canary_at("rt", now - timedelta(minutes=1), header="route")
    other_check = _canary_at("rt-other", two_hours_ago, header="route")
    assert b"X-Mailwatch-Canary: route=rt; id=" in old_ours
    _append(servers, old_ours, two_hours_ago + timedelta(seconds=1))
    _append(servers, recent_ours, now - timedelta(minutes=1) + timedelta(seconds=1))
    _append(servers, other_check, two_hours_ago + timedelta(seconds=1))

    result = await run_check(route(servers))
    assert result.state is State.OK, result.summary
    assert result.details["removed_orphans"] == 1
    left = {_subject(path) for path in servers.maildir_files("canary")}
    assert left == {_subject_of(recent_ours), _subject_of(other_check)}


async def test_a_site_sweeps_only_its_own_canaries(servers: MailServers) -> None:
    """Three sites run one check into one mailbox: a site's sweep leaves the others' old
    canaries alone (theirs may still be on the way), and its canary names its site and node."""
    now = datetime.now(UTC)
    two_hours_ago = now - timedelta(hours=2)

    def at_site(site: str) -> bytes:
        canary = Canary("rt", Canary.new("rt").id, two_hours_ago, site, f"node-{site}")
        return canary.message("mailwatch@example.test", "canary@example.test")

    mine, theirs = at_site("site-a"), at_site("site-b")
    for raw in (mine, theirs):
        _append(servers, raw, two_hours_ago + timedelta(seconds=1))
    check = route(servers, run_from=["site-a", "site-b", "site-c"])
    result = await run_check(check, node=NodeIdentity(name="node-a", site="site-a"))
    assert result.state is State.OK, result.summary
    assert result.details["removed_orphans"] == 1
    assert {_subject(path) for path in servers.maildir_files("canary")} == {_subject_of(theirs)}
    # The same check without run_from is one check wherever it runs: it sweeps them all.
    result = await run_check(route(servers), node=NodeIdentity(name="node-a", site="site-a"))
    assert result.details["removed_orphans"] == 1
    assert_mailbox_empty(servers)


async def test_a_site_canary_carries_site_and_node(servers: MailServers) -> None:
    servers.hold_delivery()
    check = route(servers, run_from=["site-a", "site-b"], deadline_s=1, timeout_s=10)
    result = await run_check(check, node=NodeIdentity(name="node-b", site="site-b"))
    assert result.stage == "not_delivered", result.summary
    servers.release_delivery()
    servers.wait_for_maildir("canary", 1, timeout_s=20)
    [path] = servers.maildir_files("canary")
    assert "X-Mailwatch-Canary: check=rt; site=site-b; node=node-b; id=" in path.read_text()


def _subject_of(raw: bytes) -> str:
    from email import message_from_bytes

    return str(message_from_bytes(raw)["Subject"])


def _subject(path: Path) -> str:
    return _subject_of(path.read_bytes())


class Tarpit:
    """A TCP server that accepts and never speaks, or speaks garbage: a broken peer that a
    real Postfix or Dovecot cannot be made to imitate."""

    def __init__(self, greeting: bytes | None) -> None:
        self.greeting = greeting
        self.server: asyncio.Server | None = None
        self.writers: list[asyncio.StreamWriter] = []

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.append(writer)
        if self.greeting is not None:
            writer.write(self.greeting)
            await writer.drain()

    async def __aenter__(self) -> int:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port: int = self.server.sockets[0].getsockname()[1]
        return port

    async def __aexit__(self, *exc: object) -> None:
        for writer in self.writers:
            writer.close()
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()


@pytest.fixture
async def tarpit() -> AsyncIterator[int]:
    async with Tarpit(None) as port:
        yield port


async def test_silent_smtp_server_times_out_at_smtp_connect(
    servers: MailServers, tarpit: int
) -> None:
    check = route(servers, smtp={"port": tarpit, "command_timeout_s": 1})
    started = time.monotonic()
    result = await run_check(check)
    assert time.monotonic() - started < 5
    assert (result.state, result.stage) == (State.CRITICAL, "smtp_connect")
    assert result.summary == f"no answer from localhost:{tarpit} within 1 s during smtp_connect"


async def test_smtp_server_silent_after_mail_from_is_a_timeout_of_the_envelope(
    servers: MailServers,
) -> None:
    async def silent_after_mail_from(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        writer.write(b"220 mx.test ESMTP\r\n")
        await writer.drain()
        await reader.readline()  # EHLO
        writer.write(b"250 mx.test\r\n")
        await writer.drain()
        await reader.read()  # MAIL FROM, then nothing more is said

    async with Responder(silent_after_mail_from) as peer:
        check = route(servers, smtp={"port": peer.port, "tls": "none", "command_timeout_s": 1})
        started = time.monotonic()
        result = await run_check(check)
    assert time.monotonic() - started < 1 + 1.5
    assert (result.state, result.stage) == (State.CRITICAL, "smtp_envelope")
    assert result.summary == (
        f"no answer from localhost:{peer.port} within 1 s during smtp_envelope"
    )


async def test_whole_check_timeout_names_the_stage(servers: MailServers, tarpit: int) -> None:
    check = route(servers, deadline_s=1, timeout_s=2, imap={"port": tarpit, "tls": "none"})
    started = time.monotonic()
    # The per-command timeout (30 s) is longer than the check's: the caller's timeout wins.
    result = await run_check(check)
    assert time.monotonic() - started < 4
    assert (result.state, result.stage) == (State.CRITICAL, "imap_connect")
    assert result.summary == f"no answer from localhost:{tarpit} within 2 s during imap_connect"


async def test_imap_server_silent_after_its_greeting_is_cut_off_at_the_command_timeout(
    servers: MailServers,
) -> None:
    async with Responder(greets(b"* OK ready\r\n")) as peer:
        imap = {"port": peer.port, "tls": "none", "command_timeout_s": 1}
        started = time.monotonic()
        result = await run_check(route(servers, imap=imap))
    assert time.monotonic() - started < 1 + 1.5
    assert (result.state, result.stage) == (State.CRITICAL, "imap_connect")
    assert result.summary == f"no answer from localhost:{peer.port} within 1 s during imap_connect"


async def test_a_run_cut_off_by_its_timeout_stops_at_its_bound(servers: MailServers) -> None:
    """The check's timeout (2 s) comes before the command's (30 s): the run ends there, not
    after a LOGOUT to a server that stopped answering."""
    async with Responder(greets(b"* OK ready\r\n")) as peer:
        check = route(servers, deadline_s=1, timeout_s=2, imap={"port": peer.port, "tls": "none"})
        started = time.monotonic()
        result = await run_check(check)
    assert time.monotonic() - started < 2 + 1.5
    assert (result.state, result.stage) == (State.CRITICAL, "imap_connect")
    assert result.summary == f"no answer from localhost:{peer.port} within 2 s during imap_connect"


async def test_imap_bye_greeting_is_reported_at_once(servers: MailServers) -> None:
    async with Responder(greets(b"* BYE Too many connections\r\n")) as peer:
        started = time.monotonic()
        result = await run_check(route(servers, imap={"port": peer.port, "tls": "none"}))
    assert time.monotonic() - started < 1.5
    assert (result.state, result.stage) == (State.CRITICAL, "imap_connect")
    assert result.summary == (
        f"localhost:{peer.port} refused the session: '* BYE Too many connections'"
    )


@pytest.mark.parametrize(
    "greeting",
    [b"garbage\r\n", b"554 go away\r\n", b"220 trunc"],
    ids=["garbage", "554", "truncated"],
)
async def test_broken_smtp_greetings(servers: MailServers, greeting: bytes) -> None:
    async with Tarpit(greeting) as port:
        check = route(servers, smtp={"port": port, "command_timeout_s": 1})
        result = await run_check(check)
    assert (result.state, result.stage) == (State.CRITICAL, "smtp_connect")
    assert "localhost:" in result.summary


async def test_garbage_imap_greeting(servers: MailServers) -> None:
    async with Tarpit(b"HTTP/1.1 400 Bad Request\r\n") as port:
        check = route(servers, imap={"port": port, "tls": "none", "command_timeout_s": 1})
        result = await run_check(check)
    assert (result.state, result.stage) == (State.CRITICAL, "imap_protocol")
    assert result.summary == f"unexpected reply from localhost:{port}: 'HTTP/1.1 400 Bad Request'"


def _write_config(tmp_path: Path, servers: MailServers) -> Path:
    path = tmp_path / "mailwatch.toml"
    path.write_text(roundtrip_toml(servers, "local", password_env="MW_TEST_IMAP_PASSWORD"))
    return path


def _mailwatch(*args: str, password: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mailwatch", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        env={
            "MW_TEST_IMAP_PASSWORD": password,
            "PATH": "/usr/bin:/bin",
            # This checkout's mailwatch, also where another one is installed in the venv.
            "PYTHONPATH": os.environ.get("PYTHONPATH", ""),
        },
    )


def test_cli_check_json_reports_latency_and_hops(servers: MailServers, tmp_path: Path) -> None:
    proc = _mailwatch(
        "check", "-c", str(_write_config(tmp_path, servers)), "--json", password=servers.password
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    [result] = json.loads(proc.stdout)
    assert result["check"] == "local"
    assert result["kind"] == "roundtrip"
    assert result["state"] == "ok"
    assert result["metrics"]["latency_s"] > 0
    assert result["details"]["hops"][-1]["by"] == "mail.example.test"
    assert servers.password not in proc.stdout + proc.stderr


def test_cli_check_nagios_line_and_exit_code(servers: MailServers, tmp_path: Path) -> None:
    config = str(_write_config(tmp_path, servers))
    proc = _mailwatch("check", "-c", config, "--nagios", password=servers.password)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.startswith("MAILWATCH OK - 1 ok: local: canary delivered in ")
    assert "'local.latency_s'=" in proc.stdout

    proc = _mailwatch("check", "-c", config, password="wrong-password")
    assert proc.returncode == 2
    assert proc.stdout.splitlines()[0].split() == ["STATE", "CHECK", "KIND", "STAGE", "SUMMARY"]
    assert proc.stdout.splitlines()[1].split()[:4] == [
        "CRITICAL",
        "local",
        "roundtrip",
        "imap_auth",
    ]
    assert "wrong-password" not in proc.stdout + proc.stderr


def test_cli_unknown_check_name_exits_3(servers: MailServers, tmp_path: Path) -> None:
    proc = _mailwatch(
        "check", "-c", str(_write_config(tmp_path, servers)), "nope", password=servers.password
    )
    assert proc.returncode == 3
    assert "no such check: nope" in proc.stderr


@pytest.mark.parametrize("server", ["smtp", "imap"])
async def test_a_name_whose_every_address_refuses_is_connection_refused(
    servers: MailServers, monkeypatch: pytest.MonkeyPatch, server: str
) -> None:
    host = resolve_several(monkeypatch)
    port = free_port()
    endpoint: dict[str, Any] = {"host": host, "port": port}
    if server == "imap":
        endpoint["tls"] = "none"
    result = await run_check(route(servers, **{server: endpoint}))
    assert (result.state, result.stage) == (State.CRITICAL, f"{server}_connect")
    assert result.summary == f"connection refused by {host}:{port}"


async def test_canary_with_subject_variants_is_found_and_deleted(servers: MailServers) -> None:
    """A canary whose subject comes from ``subject_variants`` (no id in it) is still found by
    its header, timed and deleted: the subject is never what mailwatch matches on."""
    variants = ["Quarterly figures", "Notes from today"]
    check = route(servers, canary={"subject_variants": variants, "sent_by": "the NOC"})
    for _ in range(2):
        result = await run_check(check)
        assert result.state is State.OK, result.summary
        assert result.metrics["latency_s"] > 0
    assert_mailbox_empty(servers)


async def test_memory_the_probe_cannot_use_is_forgotten_after_one_unknown_run(
    servers: MailServers,
) -> None:
    """What a route remembers comes from the database, where another mailwatch version or
    damage may have left something the probe cannot use: one run fails on it (UNKNOWN, the
    reason in the summary), the memory is forgotten, and the next run works, instead of every
    run failing the same way."""
    check = route(servers)
    memory: dict[str, Any] = {"healthy_latencies_s": "not a list of seconds"}
    broken = await run_check(check, memory)
    assert broken.state is State.UNKNOWN
    assert broken.summary.startswith("internal error in the roundtrip probe: TypeError")
    assert memory == {}
    healed = await run_check(check, memory)
    assert healed.state is State.OK, healed.summary
