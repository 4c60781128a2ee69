"""The service check against real peers on loopback: aiosmtpd for SMTP, Debian's spamd, this
test's own processes; scripted responders for clamd (see ``test_clamd_*``) and for the
misbehaving servers no real daemon imitates on purpose."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import ssl
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import psutil
import pytest
from aiosmtpd.smtp import SMTP
from pydantic import ValidationError

from harness.certs import make_ca
from helpers.resolving import resolve_several
from helpers.tcp_responders import (
    Responder,
    answers,
    clamd_like,
    free_port,
    greets,
    sends_and_closes,
    tarpit,
)
from mailwatch.config.checks.service import ServiceCheckBase
from mailwatch.config.loader import format_validation_error
from mailwatch.config.model import MailwatchConfig
from mailwatch.domain.results import State
from mailwatch.runner import run_check, run_checks


def service_check(**data: Any) -> ServiceCheckBase:
    entry = {"name": "svc", **data}
    check = MailwatchConfig.model_validate({"checks": {"service": [entry]}}).checks.service[0]
    assert isinstance(check, ServiceCheckBase)
    return check


def cannot_run(reason: str) -> None:
    """Skip where a real daemon cannot start; in CI (``CI`` set) that is a failure."""
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


# --- banners -------------------------------------------------------------------------------


class QuitRecorder:
    """aiosmtpd handler that notes the client's QUIT."""

    def __init__(self) -> None:
        self.quit = asyncio.Event()

    async def handle_QUIT(self, server: Any, session: Any, envelope: Any) -> str:
        self.quit.set()
        return "221 Bye"


@asynccontextmanager
async def aiosmtpd_server() -> AsyncIterator[tuple[int, QuitRecorder]]:
    handler = QuitRecorder()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(handler, hostname="mx.mailwatch.test", loop=loop), "127.0.0.1", 0
    )
    try:
        yield server.sockets[0].getsockname()[1], handler
    finally:
        server.close()
        await server.wait_closed()


async def test_smtp_banner_of_a_real_smtp_server() -> None:
    async with aiosmtpd_server() as (port, handler):
        result = await run_check(service_check(protocol="smtp", host="127.0.0.1", port=port))
        # The check says goodbye, so the server logs a QUIT rather than a lost connection.
        await asyncio.wait_for(handler.quit.wait(), 5)
    assert result.state is State.OK, result.summary
    assert result.stage is None
    assert result.summary.startswith(f"SMTP server at 127.0.0.1:{port} greeted in ")
    assert ": '220 mx.mailwatch.test Python SMTP" in result.summary
    assert result.target == f"127.0.0.1:{port}"
    assert result.metrics["connect_s"] >= 0
    assert 0 <= result.metrics["banner_s"] < 5


async def test_imap_banner_and_logout() -> None:
    said: asyncio.Queue[bytes] = asyncio.Queue()
    async with Responder(greets(b"* OK [CAPABILITY IMAP4rev1] Dovecot ready.\r\n", said)) as r:
        result = await run_check(service_check(protocol="imap", host="127.0.0.1", port=r.port))
        assert await asyncio.wait_for(said.get(), 5) == b"a1 LOGOUT\r\n"
    assert result.state is State.OK, result.summary
    assert result.summary.endswith(": '* OK [CAPABILITY IMAP4rev1] Dovecot ready.'")


async def test_any_service_with_its_own_banner_regex() -> None:
    said: asyncio.Queue[bytes] = asyncio.Queue()
    async with Responder(greets(b"+OK POP3 ready\r\n", said)) as r:
        check = service_check(protocol="banner", host="127.0.0.1", port=r.port, banner=r"^\+OK")
        result = await run_check(check)
        assert await asyncio.wait_for(said.get(), 5) == b""  # no quit_command: says nothing
    assert result.state is State.OK, result.summary


async def test_wrong_banner_is_critical_with_what_was_said() -> None:
    async with Responder(greets(b"554 5.3.2 mx.example.org go away\r\n")) as r:
        result = await run_check(service_check(protocol="smtp", host="127.0.0.1", port=r.port))
    assert (result.state, result.stage) == (State.CRITICAL, "banner")
    assert result.summary == (
        f"SMTP server at 127.0.0.1:{r.port} sent an unexpected banner: "
        "'554 5.3.2 mx.example.org go away' (expected ^220)"
    )


async def test_a_tarpit_is_cut_off_by_the_checks_own_timeout() -> None:
    async with Responder(tarpit()) as r:
        check = service_check(protocol="smtp", host="127.0.0.1", port=r.port, timeout_s=1)
        started = time.monotonic()
        result = await run_check(check)
        elapsed = time.monotonic() - started
    assert (result.state, result.stage) == (State.CRITICAL, "banner")
    assert (
        result.summary
        == f"no answer from SMTP server at 127.0.0.1:{r.port} within 1 s during banner"
    )
    assert 0.9 <= elapsed < 1.5


async def test_closed_port_is_critical_connect() -> None:
    port = free_port()
    result = await run_check(service_check(protocol="smtp", host="127.0.0.1", port=port))
    assert (result.state, result.stage) == (State.CRITICAL, "connect")
    assert result.summary == f"connection refused by SMTP server at 127.0.0.1:{port}"


async def test_unknown_host_is_critical_connect() -> None:
    result = await run_check(service_check(protocol="smtp", host="no-such-host.invalid"))
    assert (result.state, result.stage) == (State.CRITICAL, "connect")
    assert result.summary.startswith(
        "cannot connect to SMTP server at no-such-host.invalid:25: host name lookup failed"
    )


@pytest.mark.parametrize(
    ("sent", "stage", "said"),
    [
        pytest.param(b"", "banner", "closed the connection without a banner", id="hang-up"),
        pytest.param(
            b"22",
            "protocol",
            "sent a truncated reply before closing: '22'",
            id="truncated",
        ),
        pytest.param(
            b"\x16\x03\x01\x02\x00\x01\xff\xfe",
            "protocol",
            "sent a truncated reply before closing: b'\\x16\\x03\\x01\\x02\\x00\\x01\\xff\\xfe'",
            id="binary garbage",
        ),
        pytest.param(
            b"\x1b[31m220 \xff\r\n",
            "banner",
            "sent an unexpected banner: b'\\x1b[31m220 \\xff' (expected ^220)",
            id="control characters are escaped",
        ),
        pytest.param(
            b"A" * 5000,
            "protocol",
            "sent 4096 bytes without a line end: '" + "A" * 80 + "'… (4096 characters)",
            id="endless line",
        ),
    ],
)
async def test_garbled_greetings(sent: bytes, stage: str, said: str) -> None:
    async with Responder(sends_and_closes(sent)) as r:
        result = await run_check(service_check(protocol="smtp", host="127.0.0.1", port=r.port))
    assert (result.state, result.stage) == (State.CRITICAL, stage)
    assert result.summary == f"SMTP server at 127.0.0.1:{r.port} {said}"


@pytest.fixture
def tls_server(tmp_path: Path) -> tuple[ssl.SSLContext, Path]:
    ca = make_ca(tmp_path, "Service CA")
    cert, key = ca.issue(tmp_path, "imap", hostnames=["localhost"], ips=["127.0.0.1"])
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context, ca.cert_path


async def test_implicit_tls_banner_with_trusted_ca(tls_server: tuple[ssl.SSLContext, Path]) -> None:
    context, ca_file = tls_server
    async with Responder(greets(b"* OK IMAPS ready\r\n"), tls=context) as r:
        check = service_check(
            protocol="imap", host="127.0.0.1", port=r.port, tls="tls", ca_file=str(ca_file)
        )
        result = await run_check(check)
    assert result.state is State.OK, result.summary
    assert result.summary.endswith(": '* OK IMAPS ready'")


async def test_untrusted_certificate_is_critical_tls(
    tls_server: tuple[ssl.SSLContext, Path],
) -> None:
    context, _ = tls_server
    async with Responder(greets(b"* OK IMAPS ready\r\n"), tls=context) as r:
        check = service_check(protocol="imap", host="127.0.0.1", port=r.port, tls="tls")
        result = await run_check(check)
    assert (result.state, result.stage) == (State.CRITICAL, "tls")
    assert result.summary == (
        f"certificate of IMAP server at 127.0.0.1:{r.port} not accepted: "
        "unable to get local issuer certificate"
    )


# --- clamd ---------------------------------------------------------------------------------
# clamd itself cannot run here: it refuses to start without a virus database, and getting one
# means a download (freshclam). Its PING exchange is tiny and documented (clamd(8): "zPING\0"
# is answered by "PONG\0"), so these tests talk to ``clamd_like``, a responder that speaks it.


async def test_clamd_over_its_unix_socket(tmp_path: Path) -> None:
    path = tmp_path / "clamd.ctl"
    requests: list[bytes] = []
    async with Responder(clamd_like(requests), path=path):
        result = await run_check(service_check(protocol="clamd", socket=str(path)))
    assert result.state is State.OK, result.summary
    assert requests == [b"zPING\0"]
    assert result.summary.startswith(f"clamd at {path} answered PONG in ")
    assert result.metrics["pong_s"] >= 0


async def test_clamd_over_tcp() -> None:
    async with Responder(clamd_like()) as r:
        result = await run_check(service_check(protocol="clamd", host="127.0.0.1", port=r.port))
    assert result.state is State.OK, result.summary
    assert result.target == f"127.0.0.1:{r.port}"


@pytest.mark.parametrize(
    ("reply", "said"),
    [
        pytest.param(b"UNKNOWN COMMAND\0", "did not answer PONG: got 'UNKNOWN COMMAND'"),
        pytest.param(
            b"\xde\xad\xbe\xef\0", "did not answer PONG: got b'\\xde\\xad\\xbe\\xef'", id="garbage"
        ),
        pytest.param(b"PO", "sent a truncated reply before closing: 'PO'", id="truncated"),
        pytest.param(b"", "closed the connection without answering PING", id="hang-up"),
    ],
)
async def test_clamd_wrong_answers_are_critical_protocol(
    tmp_path: Path, reply: bytes, said: str
) -> None:
    path = tmp_path / "clamd.ctl"
    async with Responder(answers(b"\0", reply), path=path):
        result = await run_check(service_check(protocol="clamd", socket=str(path)))
    assert (result.state, result.stage) == (State.CRITICAL, "protocol")
    assert result.summary == f"clamd at {path} {said}"


async def test_silent_clamd_is_cut_off_during_ping(tmp_path: Path) -> None:
    path = tmp_path / "clamd.ctl"
    async with Responder(answers(b"\0", b"", close=False), path=path):
        result = await run_check(service_check(protocol="clamd", socket=str(path), timeout_s=1))
    assert (result.state, result.stage) == (State.CRITICAL, "ping")
    assert result.summary == f"no answer from clamd at {path} within 1 s during ping"


async def test_missing_clamd_socket_is_critical_connect(tmp_path: Path) -> None:
    path = tmp_path / "clamd.ctl"
    result = await run_check(service_check(protocol="clamd", socket=str(path)))
    assert (result.state, result.stage) == (State.CRITICAL, "connect")
    assert result.summary == (
        f"cannot connect to clamd at {path}: "
        "the socket does not exist (daemon not running, or another path?)"
    )


# --- spamd ---------------------------------------------------------------------------------

SPAMD = shutil.which("spamd") or "/usr/sbin/spamd"


@contextmanager
def running_spamd(directory: Path, ready_within_s: float = 90.0) -> Iterator[int]:
    """Debian's spamd on a loopback port; yields the port once it answers a PING.

    ``--local`` keeps it off the network (no DNS blocklists), ``-u nobody`` is needed as root.
    """
    if not Path(SPAMD).exists():
        cannot_run(f"{SPAMD} is not installed (apt-get install spamd)")
    port = free_port()
    argv = [
        SPAMD,
        "--listen",
        f"127.0.0.1:{port}",
        "--pidfile",
        str(directory / "spamd.pid"),
        "--syslog=stderr",
        "--local",
        "--nouser-config",
        "--min-children=1",
        "--max-children=1",
    ]
    if os.geteuid() == 0:
        argv += ["-u", "nobody"]
    log = directory / "spamd.log"
    with log.open("wb") as out, subprocess.Popen(argv, stdout=out, stderr=out) as proc:
        try:
            _wait_for_pong(proc, port, log, ready_within_s)
            children = psutil.Process(proc.pid).children(recursive=True)
            yield port
        finally:
            proc.terminate()
            proc.wait(timeout=30)
        # The preforked children share the listening socket: stopped means they are gone too.
        _wait_gone(children, within_s=30)


def _wait_gone(procs: list[psutil.Process], within_s: float) -> None:
    deadline = time.monotonic() + within_s
    for child in procs:
        while True:
            try:
                if child.status() == psutil.STATUS_ZOMBIE:
                    break  # exited; only its parent's (init's) bookkeeping is left
                child.wait(timeout=0.1)
                break
            except psutil.NoSuchProcess:
                break
            except psutil.TimeoutExpired:
                if time.monotonic() > deadline:
                    raise AssertionError(f"spamd child {child.pid} outlived spamd") from None


def _wait_for_pong(proc: subprocess.Popen[bytes], port: int, log: Path, within_s: float) -> None:
    # spamd binds its port before it has compiled its rules; only a PONG says it is ready.
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                sock.settimeout(max(0.1, deadline - time.monotonic()))
                sock.sendall(b"PING SPAMC/1.5\r\n\r\n")
                if b"PONG" in sock.recv(100):
                    return
        except OSError:
            pass  # not listening yet
        try:
            proc.wait(timeout=0.1)  # the bounded pause between attempts, and an exit check
        except subprocess.TimeoutExpired:
            continue
        cannot_run(f"spamd exited with {proc.returncode}: {log.read_text()[-2000:]}")
    cannot_run(f"spamd gave no PONG within {within_s:g} s: {log.read_text()[-2000:]}")


async def test_spamd_answers_pong(tmp_path: Path) -> None:
    with running_spamd(tmp_path) as port:
        result = await run_check(service_check(protocol="spamd", port=port))
    assert result.state is State.OK, result.summary
    assert result.summary.startswith(f"spamd at 127.0.0.1:{port} answered PONG in ")


async def test_stopped_spamd_is_critical_connect(tmp_path: Path) -> None:
    with running_spamd(tmp_path) as port:
        assert (await run_check(service_check(protocol="spamd", port=port))).state is State.OK
    result = await run_check(service_check(protocol="spamd", port=port))
    assert (result.state, result.stage) == (State.CRITICAL, "connect")
    assert result.summary == f"connection refused by spamd at 127.0.0.1:{port}"


async def test_spamd_error_reply_is_critical_protocol() -> None:
    requests: list[bytes] = []
    reply = b"SPAMD/1.0 76 Bad header line: PING\r\n"
    async with Responder(answers(b"\r\n\r\n", reply, requests)) as r:
        result = await run_check(service_check(protocol="spamd", port=r.port))
    assert requests == [b"PING SPAMC/1.5\r\n\r\n"]
    assert (result.state, result.stage) == (State.CRITICAL, "protocol")
    assert result.summary == (
        f"spamd at 127.0.0.1:{r.port} did not answer PONG: got 'SPAMD/1.0 76 Bad header line: PING'"
    )


# --- processes -----------------------------------------------------------------------------


async def test_this_test_process_is_found() -> None:
    name = psutil.Process().name()
    result = await run_check(service_check(protocol="process", process_name=name))
    assert result.state is State.OK, result.summary
    assert os.getpid() in result.details["pids"]
    assert result.metrics["process_count"] >= 1


@pytest.fixture
def sleeper() -> Iterator[str]:
    """A ``sleep`` with an argument no other process has; yields that argument."""
    marker = f"{86400 + os.getpid() % 10000}.25"
    with subprocess.Popen(["sleep", marker]) as proc:
        try:
            yield marker
        finally:
            proc.kill()


async def test_process_by_name_and_command_line(sleeper: str) -> None:
    check = service_check(protocol="process", process_name="sleep", cmdline_contains=sleeper)
    result = await run_check(check)
    assert result.state is State.OK, result.summary
    assert result.summary == f"1 process named 'sleep' with '{sleeper}' in the command line running"


async def test_too_few_processes_is_critical(sleeper: str) -> None:
    check = service_check(
        protocol="process", process_name="sleep", cmdline_contains=sleeper, min_count=2
    )
    result = await run_check(check)
    assert (result.state, result.stage) == (State.CRITICAL, "process_count")
    assert result.summary == (
        f"1 process named 'sleep' with '{sleeper}' in the command line running, expected at least 2"
    )


async def test_missing_process_is_critical() -> None:
    result = await run_check(service_check(protocol="process", process_name="mw-no-such-proc"))
    assert (result.state, result.stage) == (State.CRITICAL, "process_missing")
    assert result.summary == "no running process named 'mw-no-such-proc'"
    assert result.metrics["process_count"] == 0


# --- concurrency ---------------------------------------------------------------------------


async def test_a_tarpit_does_not_delay_other_checks() -> None:
    async with Responder(tarpit()) as r:
        slow = service_check(
            name="tarpit", protocol="smtp", host="127.0.0.1", port=r.port, timeout_s=2
        )
        resources = MailwatchConfig.model_validate(
            {"checks": {"resources": [{"name": "host", "cpu_sample_s": 0.3}]}}
        ).checks.resources[0]
        started = time.monotonic()
        tarpit_result, resources_result = await run_checks([slow, resources])
        elapsed = time.monotonic() - started
    assert (tarpit_result.state, tarpit_result.stage) == (State.CRITICAL, "banner")
    assert 1.9 <= tarpit_result.duration_s < 2.5
    assert resources_result.check == "host"
    assert resources_result.stage != "internal"
    assert resources_result.duration_s < 1.5
    assert elapsed < 2.5


# --- config --------------------------------------------------------------------------------


def _problems(entry: dict[str, Any]) -> list[str]:
    with pytest.raises(ValidationError) as raised:
        MailwatchConfig.model_validate({"checks": {"service": [entry]}})
    return format_validation_error(raised.value)


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        (
            {"host": "mx"},
            "checks.service[0]: protocol must be one of: smtp, imap, banner, clamd, spamd, process",
        ),
        (
            {"protocol": "ftp", "host": "mx"},
            "checks.service[0]: protocol must be one of: smtp, imap, banner, clamd, spamd, process",
        ),
        ({"protocol": "smtp"}, "checks.service[0].host: required key is missing"),
        (
            {"protocol": "imap", "host": "mx", "tls": "starttls"},
            "checks.service[0].tls: Input should be 'none' or 'tls'",
        ),
        (
            {"protocol": "banner", "host": "mx", "port": 110},
            'checks.service[0]: protocol "banner" needs both port and banner',
        ),
        (
            {"protocol": "smtp", "host": "mx", "banner": "(220"},
            "checks.service[0].banner: not a valid regular expression: "
            "missing ), unterminated subpattern at position 0",
        ),
        (
            {"protocol": "clamd", "socket": "/run/clamav/clamd.ctl", "host": "av"},
            "checks.service[0]: give either socket or host/port, not both",
        ),
        (
            {"protocol": "clamd", "port": 3310},
            "checks.service[0]: port needs host (without either, the default unix socket is used)",
        ),
        (
            {"protocol": "process", "process_name": "master", "port": 25},
            "checks.service[0].port: unknown key",
        ),
        (
            {"protocol": "process", "process_name": "master", "min_count": 0},
            "checks.service[0].min_count: Input should be greater than or equal to 1",
        ),
    ],
)
def test_invalid_service_config(entry: dict[str, Any], problem: str) -> None:
    assert _problems({"name": "svc", **entry}) == [problem]


@pytest.mark.parametrize(
    ("entry", "target", "timeout_s"),
    [
        ({"protocol": "smtp", "host": "mx"}, "mx:25", 10),
        ({"protocol": "smtp", "host": "mx", "tls": "tls"}, "mx:465", 10),
        ({"protocol": "imap", "host": "mx"}, "mx:143", 10),
        ({"protocol": "imap", "host": "mx", "tls": "tls", "timeout_s": 3}, "mx:993", 3),
        ({"protocol": "clamd"}, "/run/clamav/clamd.ctl", 10),
        ({"protocol": "clamd", "host": "av"}, "av:3310", 10),
        ({"protocol": "spamd"}, "127.0.0.1:783", 10),
        ({"protocol": "spamd", "socket": "/run/spamd.sock"}, "/run/spamd.sock", 10),
        ({"protocol": "process", "process_name": "master"}, "process master", 10),
    ],
)
def test_service_defaults(entry: dict[str, Any], target: str, timeout_s: float) -> None:
    check = service_check(**entry)
    assert (check.target, check.timeout_s) == (target, timeout_s)


async def test_a_name_whose_every_address_refuses_is_connection_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    host = resolve_several(monkeypatch)
    port = free_port()
    result = await run_check(service_check(protocol="smtp", host=host, port=port))
    assert (result.state, result.stage) == (State.CRITICAL, "connect")
    assert result.summary == f"connection refused by SMTP server at {host}:{port}"
