"""The demo's mail system: an SMTP server (aiosmtpd) delivering into a Maildir that an IMAP
server (pymap, with IDLE) serves, both on loopback in the demo's own event loop; and the local
channel its alerts go to, a receiver of apprise's ``json://`` POSTs.

Delivery can be broken on purpose: while held, the SMTP server still accepts mail with a 250
reply but keeps it instead of delivering it, like a relay whose queue has stalled; releasing
delivers everything held. pymap notices files dropped into the Maildir by rescanning it (about
once a second while a client IDLEs), so the SMTP side writes plain Maildir files, as an MTA's
local delivery would.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import mailbox
import secrets
import threading
import time
import weakref
from collections.abc import Callable, Coroutine
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session
from proxyprotocol.reader import ProxyProtocolReader
from pymap.backend.maildir import Config as MaildirConfig
from pymap.backend.maildir import Login as MaildirLogin
from pymap.backend.maildir.users import PasswordsFile, UsersFile
from pymap.concurrent import Subsystem
from pymap.imap import IMAPServer
from pysasl.hashing import Cleartext

HOST = "127.0.0.1"
DOMAIN = "demo.mailwatch.test"
SMTP_NAME = f"smtp.{DOMAIN}"

_CLOSE_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class DemoMailbox:
    """The one account of the demo: its address, IMAP login and Maildir."""

    address: str
    password: str
    maildir: Path


@dataclass(frozen=True)
class HeldMessage:
    recipient: str
    content: bytes


class MaildirDelivery:
    """aiosmtpd handler: accepts mail for known recipients and drops it into their Maildir,
    or keeps it while delivery is held."""

    def __init__(self, mailboxes: dict[str, Path]) -> None:
        self.mailboxes = mailboxes
        self.holding = False
        self.held: list[HeldMessage] = []
        self.delivered = 0

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if address.lower() not in self.mailboxes:
            return f"550 5.1.1 <{address}>: no such user here"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 Ok"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        queue_id = secrets.token_hex(5).upper()
        content = envelope.original_content or b""
        for recipient in envelope.rcpt_tos:
            message = _received(session, queue_id, recipient) + content
            if self.holding:
                self.held.append(HeldMessage(recipient, message))
            else:
                self._deliver(recipient, message)
        # The same reply either way: a relay with a stalled queue does not say so at DATA.
        return f"250 2.0.0 Ok: queued as {queue_id}"

    def hold(self) -> None:
        """From now on accept mail but do not deliver it."""
        self.holding = True

    def release(self) -> int:
        """Deliver everything held and stop holding; returns how many messages were held."""
        self.holding = False
        held, self.held = self.held, []
        for message in held:
            self._deliver(message.recipient, message.content)
        return len(held)

    def _deliver(self, recipient: str, content: bytes) -> None:
        # Maildir.add writes into tmp/ and renames into new/: the IMAP server never sees half a
        # message. A few kilobytes: not worth a thread.
        mailbox.Maildir(self.mailboxes[recipient.lower()], create=False).add(content)
        self.delivered += 1


def _received(session: Session, queue_id: str, recipient: str) -> bytes:
    peer = session.peer[0] if isinstance(session.peer, tuple) else str(session.peer)
    helo = session.host_name or "unknown"
    when = format_datetime(datetime.now(UTC))
    return (
        f"Received: from {helo} ([{peer}])\r\n"
        f"\tby {SMTP_NAME} (mailwatch demo, aiosmtpd) with ESMTP id {queue_id}\r\n"
        f"\tfor <{recipient}>; {when}\r\n"
    ).encode()


class _DemoImapConfig(MaildirConfig):
    @property
    def greeting(self) -> bytes:
        # pymap's own greeting looks up this host's FQDN on every connection, which can hang
        # on machines with a broken resolver; the demo has no use for it.
        return b"Server ready (mailwatch demo, pymap)"


class DemoServers:
    """SMTP and IMAP on loopback ports chosen by the kernel, one mailbox, in ``base_dir``.

    Use as ``async with DemoServers(base_dir) as servers:``; everything is served by the running
    event loop, and closed (connections included) on exit.
    """

    def __init__(self, base_dir: Path, user: str = "canary") -> None:
        self.base_dir = base_dir
        self.mailbox = DemoMailbox(
            address=f"{user}@{DOMAIN}",
            password=secrets.token_urlsafe(12),
            maildir=base_dir / "mail" / user,
        )
        self.delivery = MaildirDelivery({self.mailbox.address: self.mailbox.maildir})
        self.smtp_port = 0
        self.imap_port = 0
        self._stack = AsyncExitStack()
        self._smtp_sessions: weakref.WeakSet[SMTP] = weakref.WeakSet()
        self._imap_tasks: set[asyncio.Task[Any]] = set()

    async def __aenter__(self) -> DemoServers:
        try:
            await self._start()
        except BaseException:
            await self.aclose()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def hold(self) -> None:
        self.delivery.hold()

    def release(self) -> int:
        return self.delivery.release()

    @property
    def held_count(self) -> int:
        return len(self.delivery.held)

    async def _start(self) -> None:
        mail_root = self.mailbox.maildir.parent
        mail_root.mkdir(parents=True, exist_ok=True)
        mailbox.Maildir(self.mailbox.maildir, create=True)
        loop = asyncio.get_running_loop()

        def smtp_session() -> SMTP:
            session = SMTP(self.delivery, hostname=SMTP_NAME, ident="mailwatch demo (aiosmtpd)")
            self._smtp_sessions.add(session)
            return session

        smtp = await loop.create_server(smtp_session, HOST, 0)
        self._stack.push_async_callback(self._close_server, smtp)
        self._stack.callback(self._close_smtp_sessions)
        self.smtp_port = _port(smtp)

        await self._add_imap_user(str(mail_root))
        imap = await asyncio.start_server(
            self._imap_connection(str(mail_root)), HOST, 0, reuse_address=True
        )
        self._stack.push_async_callback(self._close_imap_connections)
        self._stack.push_async_callback(self._close_server, imap)
        self.imap_port = _port(imap)

    async def _add_imap_user(self, mail_root: str) -> None:
        name = self.mailbox.address
        async with UsersFile.with_write(mail_root) as users:
            users.set(users.build_record(name, self.mailbox.maildir.name))
        async with PasswordsFile.with_write(mail_root) as passwords:
            passwords.set(passwords.build_record(name, self.mailbox.password))

    def _imap_connection(
        self, mail_root: str
    ) -> Callable[[asyncio.StreamReader, asyncio.StreamWriter], Coroutine[Any, Any, None]]:
        # Built the way ``pymap maildir`` builds it, minus what a loopback demo does not need:
        # no TLS (so LOGIN works in clear text), passwords compared as stored, no DNSBL lookup
        # of the client, all work on this event loop rather than thread pools.
        args = argparse.Namespace(
            debug=False, inherited_sockets=None, proxy_protocol=None, passlib_cfg=None
        )
        config = _DemoImapConfig(
            args,
            base_dir=mail_root,
            layout="++",
            colon=None,
            host=HOST,
            port=0,
            tls_enabled=False,
            hash_context=Cleartext(),
            subsystem=Subsystem.for_asyncio(),
            cpu_subsystem=Subsystem.for_asyncio(),
            invalid_user_sleep=0.2,
            reject_dnsbl=False,
        )
        server = IMAPServer(MaildirLogin(config), config)
        accept: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Any]
        accept = ProxyProtocolReader(config.proxy_protocol).get_callback(server)

        async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            task = asyncio.current_task()
            assert task is not None
            self._imap_tasks.add(task)
            try:
                await accept(reader, writer)
            finally:
                self._imap_tasks.discard(task)

        return connection

    async def aclose(self) -> None:
        await self._stack.aclose()

    @staticmethod
    async def _close_server(server: asyncio.Server) -> None:
        server.close()
        await asyncio.wait_for(server.wait_closed(), _CLOSE_TIMEOUT_S)

    def _close_smtp_sessions(self) -> None:
        for session in list(self._smtp_sessions):
            transport = session.transport
            if transport is not None and not transport.is_closing():
                transport.close()
        self._smtp_sessions.clear()

    async def _close_imap_connections(self) -> None:
        tasks = [task for task in self._imap_tasks if not task.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=_CLOSE_TIMEOUT_S)


@dataclass(frozen=True)
class Alert:
    """One notice as apprise's ``json://`` plugin posts it."""

    route: str
    """The last part of the URL path: the demo gives each route its own path."""
    title: str
    body: str
    level: str
    """apprise's notify type: ``failure``, ``warning``, ``success`` or ``info``."""
    received_at: float
    """``time.monotonic()`` on arrival."""


class _AlertServer(ThreadingHTTPServer):
    daemon_threads = False  # server_close() joins the handler threads
    receiver: AlertReceiver


class _AlertHandler(BaseHTTPRequestHandler):
    server: _AlertServer

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        try:
            payload = json.loads(self.rfile.read(length))
            alert = Alert(
                route=self.path.strip("/").rsplit("/", 1)[-1],
                title=str(payload.get("title", "")),
                body=str(payload.get("message", "")),
                level=str(payload.get("type", "")),
                received_at=time.monotonic(),
            )
        except (ValueError, AttributeError):
            self.send_error(400, "expected apprise's JSON payload")
            return
        self.server.receiver._record(alert)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, format: str, *args: object) -> None:
        pass  # the demo prints the alerts themselves


class AlertReceiver:
    """The local channel of the demo's alerts: a stdlib HTTP server in a thread on loopback,
    taking what apprise's ``json://URL`` plugin posts. ``with AlertReceiver() as receiver:``;
    ``receiver.url("team")`` is the apprise URL of a route, ``receiver.alerts`` what arrived."""

    def __init__(self) -> None:
        self.alerts: list[Alert] = []
        self._lock = threading.Lock()
        self._server = _AlertServer((HOST, 0), _AlertHandler)
        self._server.receiver = self
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            name="demo-alert-receiver",
            kwargs={"poll_interval": 0.1},
        )

    def url(self, route: str) -> str:
        return f"json://{HOST}:{self.port}/alerts/{route}"

    def received(self) -> list[Alert]:
        with self._lock:
            return list(self.alerts)

    def _record(self, alert: Alert) -> None:
        with self._lock:
            self.alerts.append(alert)

    def __enter__(self) -> AlertReceiver:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


def _port(server: asyncio.Server) -> int:
    sockname = server.sockets[0].getsockname()
    port: int = sockname[1]
    return port


__all__ = [
    "DOMAIN",
    "HOST",
    "Alert",
    "AlertReceiver",
    "DemoMailbox",
    "DemoServers",
    "HeldMessage",
    "MaildirDelivery",
]
