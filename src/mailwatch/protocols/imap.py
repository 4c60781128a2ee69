"""An IMAP session for the round trip: every exchange bounded by ``command_timeout_s``, every
failure named by its step.

Stages: ``imap_connect`` (TCP, greeting, the first CAPABILITY; a ``* BYE`` greeting),
``imap_tls`` (implicit TLS or STARTTLS), ``imap_auth`` (LOGIN), ``imap_protocol`` (a reply that
is not IMAP, before or after login, or a command after login that failed).

How: this module drives aioimaplib's protocol object (``IMAP4ClientProtocol``, for its parser
and command bookkeeping) and not its ``IMAP4`` client, which cannot be bounded from outside.
``IMAP4`` answers the greeting with a CAPABILITY of its own, sent from a task with no timeout
while it holds the protocol's state lock; ``wait_hello_from_server`` waits on that lock, and a
cancelled ``Condition.wait`` takes the lock back before it gives up, so a server that greets
and then stays silent (or answers garbage) held the run until the check's whole timeout, and a
``* BYE`` greeting died in that task ("Task exception was never retrieved"). Here
:class:`_Protocol` reads the greeting itself, and every command goes through
``ImapSession._exchange``: one ``command_timeout_s`` per exchange, raced against the
protocol's ``broken`` future, which a BYE, a line that is not IMAP or a lost connection sets at
once. No patch to aioimaplib is carried.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Coroutine, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime
from email import message_from_bytes
from email.message import Message
from email.policy import compat32
from types import TracebackType
from typing import Any, TypeVar

import aioimaplib
from aioimaplib.aioimaplib import tagged_status_response_re

from mailwatch.config.checks.roundtrip import ImapEndpoint
from mailwatch.domain.errors import ProbeFailure
from mailwatch.domain.probing import ProbeContext
from mailwatch.protocols.streams import CLOSE_GRACE_S, cannot_connect, no_answer, shown
from mailwatch.protocols.tlscontext import client_context
from mailwatch.protocols.tlserrors import describe_tls_error, is_tls_error

T = TypeVar("T")

_INTERNALDATE = re.compile(rb'INTERNALDATE "([^"]+)"')
_UIDNEXT = re.compile(rb"UIDNEXT (\d+)")
_MESSAGES = re.compile(rb"MESSAGES (\d+)")
_CAPABILITY_CODE = re.compile(rb"\[CAPABILITY ([^\]]+)\]", re.IGNORECASE)
_EXISTS = (b"EXISTS", b"RECENT")


@dataclass(frozen=True, slots=True)
class FetchedHeaders:
    uid: int
    internal_date: datetime | None
    headers: Message


@dataclass(frozen=True, slots=True)
class FolderStatus:
    uidnext: int
    messages: int
    """-1 when the server did not say."""


@dataclass(frozen=True, slots=True)
class _Break:
    """Why a session cannot go on: the server said goodbye (``bye``), sent something that is
    not IMAP (``unexpected``) or closed the connection (``closed``); ``line`` is its words."""

    how: str
    line: bytes = b""
    during_greeting: bool = False


class _Protocol(aioimaplib.IMAP4ClientProtocol):  # type: ignore[misc]
    """aioimaplib's parser, with the greeting read here and every fault made known at once
    through ``broken`` instead of leaving a command to wait for a reply that will not come."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(loop)
        self.greeting: asyncio.Future[bytes] = loop.create_future()
        self.broken: asyncio.Future[_Break] = loop.create_future()
        self._line = b""

    def data_received(self, d: bytes) -> None:
        if self.broken.done():
            return
        try:
            super().data_received(d)
        except Exception:
            # aioimaplib's parser choked (a tagged reply nobody asked for, bytes that are not
            # text): whatever the peer is, it does not speak IMAP to us.
            self._break(_Break("unexpected", self._line or d))

    def connection_lost(self, exc: Exception | None) -> None:
        self._break(_Break("closed", during_greeting=not self.greeting.done()))

    def _handle_line(self, line: bytes, current_cmd: Any) -> Any:
        self._line = line
        if not line or self.broken.done():
            return None
        if not self.greeting.done():
            self._greeted(line)
            return None
        if line[:5].upper() == b"* BYE" and not self._logging_out():
            self._break(_Break("bye", line))
            return None
        imap_like = line[:1] in (b"*", b"+") or tagged_status_response_re.match(line)
        if current_cmd is None and not imap_like:
            self._break(_Break("unexpected", line))
            return None
        return super()._handle_line(line, current_cmd)

    def _greeted(self, line: bytes) -> None:
        word = line[:10].upper()
        if word.startswith(b"* OK"):
            self.state = aioimaplib.NONAUTH
        elif word.startswith(b"* PREAUTH"):
            self.state = aioimaplib.AUTH
        elif word.startswith(b"* BYE"):
            self._break(_Break("bye", line, during_greeting=True))
            return
        else:
            self._break(_Break("unexpected", line, during_greeting=True))
            return
        announced = _capabilities_in(line)
        if announced is not None:
            self.capabilities = announced
        self.greeting.set_result(line)

    def _logging_out(self) -> bool:
        command = self.pending_sync_command
        return command is not None and command.name == "LOGOUT"

    def _break(self, why: _Break) -> None:
        if self.broken.done():
            return
        self.broken.set_result(why)
        if self.transport is not None:
            self.transport.abort()


class ImapSession:
    """One logged-in IMAP connection. Use as ``async with ImapSession(endpoint, ctx) as s:``."""

    def __init__(self, endpoint: ImapEndpoint, ctx: ProbeContext) -> None:
        self.endpoint = endpoint
        self.ctx = ctx
        self.where = f"{endpoint.host}:{endpoint.effective_port}"
        self._protocol: _Protocol | None = None
        self._usable = False
        self.selected: str | None = None

    async def __aenter__(self) -> ImapSession:
        try:
            await self._open()
        except BaseException:
            await self.close(polite=False)
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # Cut off (a timeout, a shutdown) or a bug: drop the connection, wait for nothing.
        await self.close(polite=exc is None or isinstance(exc, ProbeFailure))

    @property
    def capabilities(self) -> set[str]:
        return set() if self._protocol is None else set(self._protocol.capabilities)

    @property
    def has_idle(self) -> bool:
        return "IDLE" in self.capabilities

    @property
    def protocol(self) -> _Protocol:
        if self._protocol is None:
            raise RuntimeError("the IMAP session is closed")
        return self._protocol

    def _step(self, stage: str) -> None:
        self.ctx.stage = stage
        self.ctx.peer = self.where

    async def _open(self) -> None:
        endpoint = self.endpoint
        loop = asyncio.get_running_loop()
        self._protocol = _Protocol(loop)
        self._step("imap_connect")
        await self._exchange(
            loop.create_connection(lambda: self.protocol, endpoint.host, endpoint.effective_port)
        )
        if endpoint.tls == "tls":
            self._step("imap_tls")
            await self._start_tls()
        self._step("imap_connect")
        await self._exchange(_settled(self.protocol.greeting))
        self._usable = True
        if not self.protocol.capabilities:
            await self._capability()
        if endpoint.tls == "starttls":
            self._step("imap_tls")
            await self._starttls()
        self._step("imap_auth")
        response = await self._exchange(
            self.protocol.login(endpoint.username, endpoint.password.get_secret_value())
        )
        if response.result != "OK":
            raise ProbeFailure(
                "imap_auth",
                f"{self.where} refused the login of {endpoint.username}: {_text(response)}",
            )
        # Some servers announce more capabilities once logged in (IDLE, UIDPLUS). Most say
        # so in the login reply (RFC 3501 7.1): asking again would cost a round trip a probe.
        announced = _capability_code(response)
        self._step("imap_protocol")
        if announced is not None:
            self.protocol.capabilities = announced
        else:
            await self._capability()

    async def _capability(self) -> None:
        protocol = self.protocol
        command = aioimaplib.Command("CAPABILITY", protocol.new_tag(), loop=protocol.loop)
        response = await self._exchange(protocol.execute(command))
        self._expect_ok(response, "CAPABILITY")
        words = b" ".join(bytes(line) for line in response.lines[:-1]).split()
        protocol.capabilities = {word.decode("ascii", "replace") for word in words}

    async def _starttls(self) -> None:
        protocol = self.protocol
        if "STARTTLS" not in protocol.capabilities:
            raise ProbeFailure("imap_tls", f"{self.where} does not offer STARTTLS")
        command = aioimaplib.Command("STARTTLS", protocol.new_tag(), loop=protocol.loop)
        response = await self._exchange(protocol.execute(command))
        if response.result != "OK":
            raise ProbeFailure("imap_tls", f"{self.where} refused STARTTLS: {_text(response)}")
        await self._start_tls()
        # RFC 3501 6.2.1: what the server offered before TLS is to be forgotten.
        protocol.capabilities = set()
        await self._capability()

    async def _start_tls(self) -> None:
        protocol = self.protocol
        protocol.transport = await self._exchange(
            asyncio.get_running_loop().start_tls(
                protocol.transport,
                protocol,
                client_context(self.endpoint),
                server_hostname=self.endpoint.host,
                ssl_handshake_timeout=self.endpoint.command_timeout_s,
            )
        )

    async def close(self, *, polite: bool = True) -> None:
        """Log out (within ``CLOSE_GRACE_S``) when the session is sound and ``polite``; then
        drop the connection."""
        protocol, self._protocol = self._protocol, None
        if protocol is None:
            return
        try:
            if polite and self._usable and not protocol.broken.done():
                with suppress(aioimaplib.AioImapException, OSError, TimeoutError, _Broken):
                    await _race(protocol, protocol.logout(), CLOSE_GRACE_S)
        finally:
            if protocol.transport is not None:
                protocol.transport.abort()
            # The socket closes on the loop's next turn: give it that turn.
            await asyncio.sleep(0)

    async def select(self, folder: str) -> bool:
        """Select a folder; False when it does not exist (or may not be selected)."""
        response = await self._exchange(self.protocol.select(_quote(folder)))
        if response.result != "OK":
            return False
        self.selected = folder
        return True

    async def uidnext(self, folder: str) -> int | None:
        """The folder's UIDNEXT (grows when mail arrives); None when it does not exist."""
        status = await self.status(folder)
        return None if status is None else status.uidnext

    async def status(self, folder: str) -> FolderStatus | None:
        """The folder's UIDNEXT and message count; None when it does not exist."""
        response = await self._exchange(
            self.protocol.simple_command("STATUS", _quote(folder), "(UIDNEXT MESSAGES)")
        )
        if response.result != "OK":
            return None
        for line in response.lines:
            if isinstance(line, bytes | bytearray) and (match := _UIDNEXT.search(line)):
                messages = _MESSAGES.search(line)
                return FolderStatus(int(match.group(1)), int(messages.group(1)) if messages else -1)
        return None

    async def noop(self) -> None:
        """Let the server look for new mail; a search alone may not make it look."""
        response = await self._exchange(self.protocol.simple_command("NOOP"))
        self._expect_ok(response, "NOOP")

    async def search_header(self, header: str, value: str) -> list[int]:
        response = await self._exchange(
            self.protocol.search("HEADER", header, _quote(value), charset=None, by_uid=True)
        )
        self._expect_ok(response, "UID SEARCH")
        return _uids(response)

    async def fetch_headers(self, uid: int) -> FetchedHeaders | None:
        response = await self._exchange(
            self.protocol.fetch(str(uid), "(UID INTERNALDATE BODY.PEEK[HEADER])", by_uid=True)
        )
        self._expect_ok(response, "UID FETCH")
        internal_date: datetime | None = None
        header_bytes: bytes | None = None
        for line in response.lines:
            if isinstance(line, bytearray):
                header_bytes = bytes(line)
            elif isinstance(line, bytes) and (match := _INTERNALDATE.search(line)):
                internal_date = _parse_internaldate(match.group(1).decode("ascii", "replace"))
        if header_bytes is None:
            return None
        return FetchedHeaders(uid, internal_date, message_from_bytes(header_bytes, policy=compat32))

    async def fetch_message(self, uid: int, max_bytes: int) -> bytes | None:
        """The first ``max_bytes`` of one message, unread flag left alone; None if it is gone."""
        response = await self._exchange(
            self.protocol.fetch(str(uid), f"(UID BODY.PEEK[]<0.{max_bytes}>)", by_uid=True)
        )
        self._expect_ok(response, "UID FETCH")
        for line in response.lines:
            if isinstance(line, bytearray):
                return bytes(line)
        return None

    async def delete(self, uids: list[int]) -> None:
        """Delete exactly these messages: flag them, then expunge only them.

        Without UIDPLUS a plain EXPUNGE would also remove other messages someone flagged
        \\Deleted; then ours stay flagged until a later probe or the user expunges.
        """
        if not uids:
            return
        protocol = self.protocol
        uid_set = ",".join(str(uid) for uid in uids)
        response = await self._exchange(
            protocol.store(uid_set, "+FLAGS.SILENT", r"(\Deleted)", by_uid=True)
        )
        self._expect_ok(response, "UID STORE")
        if "UIDPLUS" in self.capabilities:
            response = await self._exchange(protocol.expunge(uid_set, by_uid=True))
            self._expect_ok(response, "UID EXPUNGE")
        elif not await self._others_flagged_deleted(set(uids)):
            response = await self._exchange(protocol.expunge())
            self._expect_ok(response, "EXPUNGE")

    async def _others_flagged_deleted(self, ours: set[int]) -> bool:
        response = await self._exchange(self.protocol.search("DELETED", charset=None, by_uid=True))
        self._expect_ok(response, "UID SEARCH DELETED")
        return bool(set(_uids(response)) - ours)

    async def idle(self, timeout_s: float) -> float | None:
        """IDLE until the server announces a change or ``timeout_s`` passes.

        Returns ``time.monotonic()`` when the first announcement arrived, else None. Starting
        and ending IDLE are exchanges like any other (``command_timeout_s`` each).
        """
        protocol = self.protocol
        loop = asyncio.get_running_loop()
        idling = asyncio.ensure_future(protocol.idle())
        try:
            await self._exchange(_first_of(idling, protocol.wait_for_idle_response()))
            if idling.done():
                # Answered before it began: refused (or garbled, which _exchange raised).
                self._expect_ok(idling.result(), "IDLE")
                return None
            seen: float | None = None
            ends_at = loop.time() + timeout_s
            while seen is None and (left_s := ends_at - loop.time()) > 0:
                try:
                    push = await self._race(protocol.idle_queue.get(), left_s)
                except TimeoutError:
                    break
                stamp = time.monotonic()
                lines = push if isinstance(push, list) else [push]
                if any(word in bytes(line) for line in lines for word in _EXISTS):
                    seen = stamp
            protocol.idle_done()
            response = await self._exchange(idling)
            self._expect_ok(response, "IDLE")
            return seen
        finally:
            _drop(idling)

    async def _exchange(self, step: Awaitable[T]) -> T:
        """One exchange with the server, within ``command_timeout_s``: its result, or a
        ``ProbeFailure`` that says what went wrong and where."""
        timeout_s = self.endpoint.command_timeout_s
        stage = self.ctx.stage or "imap_connect"
        self.ctx.peer = self.where  # the SMTP step may have named its server meanwhile
        try:
            with self._translate():
                return await self._race(step, timeout_s)
        except TimeoutError:
            self._usable = False
            raise ProbeFailure(stage, no_answer(self.where, timeout_s, stage)) from None
        except ProbeFailure:
            self._usable = False
            raise

    async def _race(self, step: Awaitable[T], timeout_s: float) -> T:
        """``step``, unless the server breaks the session first (then a ``ProbeFailure``) or
        ``timeout_s`` passes (``TimeoutError``)."""
        protocol = self.protocol
        try:
            return await _race(protocol, step, timeout_s)
        except _Broken as broken:
            raise self._failure(broken.why) from None

    def _failure(self, why: _Break) -> ProbeFailure:
        stage = self.ctx.stage or "imap_connect"
        if why.how == "unexpected":
            return ProbeFailure(
                "imap_protocol", f"unexpected reply from {self.where}: {shown(why.line)}"
            )
        if why.how == "bye" and why.during_greeting:
            return ProbeFailure(
                "imap_connect", f"{self.where} refused the session: {shown(why.line)}"
            )
        if why.how == "bye":
            return ProbeFailure(
                stage, f"{self.where} ended the session during {stage}: {shown(why.line)}"
            )
        return ProbeFailure(stage, f"{self.where} closed the connection during {stage}")

    def _expect_ok(self, response: Any, what: str) -> None:
        if response.result != "OK":
            raise ProbeFailure(
                "imap_protocol",
                f"{self.where} answered {response.result} to {what}: {_text(response)}",
            )

    @contextmanager
    def _translate(self) -> Iterator[None]:
        """aioimaplib's, ssl's and the socket's errors as a stage and words; a timeout passes."""
        stage = self.ctx.stage or "imap_connect"
        try:
            yield
        except (ProbeFailure, TimeoutError):
            raise
        except (aioimaplib.AioImapException, UnicodeDecodeError) as exc:
            raise ProbeFailure(
                "imap_protocol", f"unexpected reply from {self.where} during {stage}: {exc}"
            ) from None
        except Exception as exc:
            if is_tls_error(exc):
                raise ProbeFailure("imap_tls", describe_tls_error(exc, self.where)) from None
            if isinstance(exc, OSError):
                if stage == "imap_connect":
                    raise ProbeFailure(stage, cannot_connect(self.where, exc)) from None
                raise ProbeFailure(
                    stage, f"{self.where} broke the connection during {stage}: {exc}"
                ) from None
            raise


class _Broken(Exception):
    def __init__(self, why: _Break) -> None:
        super().__init__(why.how)
        self.why = why


async def _race(protocol: _Protocol, step: Awaitable[T], timeout_s: float) -> T:
    """``step`` raced against ``protocol.broken`` (``_Broken``) within ``timeout_s``
    (``TimeoutError``). A step still running when the race ends is cancelled."""
    task = asyncio.ensure_future(step)
    try:
        async with asyncio.timeout(timeout_s):
            racers: set[asyncio.Future[Any]] = {task, protocol.broken}
            await asyncio.wait(racers, return_when=asyncio.FIRST_COMPLETED)
    finally:
        _drop(task)
    if task.done():
        return task.result()
    raise _Broken(protocol.broken.result())


def _drop(task: asyncio.Future[Any]) -> None:
    """Cancel ``task`` if it still runs; whatever it ends with is retrieved, never logged as
    'exception was never retrieved'."""
    if not task.done():
        task.cancel()
    task.add_done_callback(_retrieve)


def _retrieve(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()


async def _settled(future: asyncio.Future[T]) -> T:
    """Wait for a future the protocol owns without cancelling it when the wait ends."""
    return await asyncio.shield(future)


def _first_of(task: asyncio.Future[Any], other: Coroutine[Any, Any, Any]) -> Awaitable[Any]:
    """Whichever ends first of ``task`` (left running) and ``other`` (cancelled then)."""

    async def first() -> None:
        waiter = asyncio.ensure_future(other)
        try:
            await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            _drop(waiter)
        if task.done():
            task.result()  # a reply the parser could not take is raised here

    return first()


def _capabilities_in(line: bytes) -> set[str] | None:
    match = _CAPABILITY_CODE.search(line)
    if match is None:
        return None
    return set(match.group(1).decode("ascii", "replace").split())


def _capability_code(response: Any) -> set[str] | None:
    """The capabilities a reply announced in a ``[CAPABILITY ...]`` response code, if any."""
    for line in response.lines:
        if isinstance(line, bytes | bytearray) and (found := _capabilities_in(bytes(line))):
            return found
    return None


def _uids(response: Any) -> list[int]:
    uids: list[int] = []
    for line in response.lines[:-1]:
        words = bytes(line).split()
        if words[:1] == [b"SEARCH"]:
            words = words[1:]
        uids.extend(int(word) for word in words if word.isdigit())
    return uids


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _text(response: Any) -> str:
    lines = [bytes(line).decode("utf-8", "replace") for line in response.lines if line]
    return " ".join(" ".join(lines).split())[:200] or "(no text)"


def _parse_internaldate(text: str) -> datetime | None:
    try:
        return datetime.strptime(text.strip(), "%d-%b-%Y %H:%M:%S %z")
    except ValueError:
        return None
