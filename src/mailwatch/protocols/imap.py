"""An IMAP session for the round trip, on aioimaplib, with failures named by their step.

Stages: ``imap_connect`` (TCP, greeting), ``imap_tls`` (implicit TLS or STARTTLS),
``imap_auth`` (LOGIN), ``imap_protocol`` (a command after login failed or was garbled).
aioimaplib has no STARTTLS; ``_starttls`` upgrades its transport with ``loop.start_tls``.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from email import message_from_bytes
from email.message import Message
from email.policy import compat32
from types import TracebackType
from typing import Any

import aioimaplib

from mailwatch.config.checks.roundtrip import ImapEndpoint
from mailwatch.domain.errors import ProbeFailure
from mailwatch.domain.probing import ProbeContext
from mailwatch.protocols.tlscontext import client_context
from mailwatch.protocols.tlserrors import describe_tls_error, is_tls_error

_INTERNALDATE = re.compile(rb'INTERNALDATE "([^"]+)"')
_UIDNEXT = re.compile(rb"UIDNEXT (\d+)")
_MESSAGES = re.compile(rb"MESSAGES (\d+)")
_CAPABILITY_CODE = re.compile(rb"\[CAPABILITY ([^\]]+)\]")


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


class ImapSession:
    """One logged-in IMAP connection. Use as ``async with ImapSession(endpoint, ctx) as s:``."""

    def __init__(self, endpoint: ImapEndpoint, ctx: ProbeContext) -> None:
        self.endpoint = endpoint
        self.ctx = ctx
        self.where = f"{endpoint.host}:{endpoint.effective_port}"
        self._client: Any = None
        self.selected: str | None = None

    async def __aenter__(self) -> ImapSession:
        try:
            await self._open()
        except BaseException:
            await self.close()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def capabilities(self) -> set[str]:
        if self._client is None:
            return set()
        return set(self._client.protocol.capabilities)

    @property
    def has_idle(self) -> bool:
        return "IDLE" in self.capabilities

    async def _open(self) -> None:
        endpoint = self.endpoint
        timeout = endpoint.command_timeout_s
        self.ctx.stage = "imap_tls" if endpoint.tls == "tls" else "imap_connect"
        with self._translate():
            if endpoint.tls == "tls":
                self._client = aioimaplib.IMAP4_SSL(
                    host=endpoint.host,
                    port=endpoint.effective_port,
                    timeout=timeout,
                    ssl_context=client_context(endpoint),
                )
            else:
                self._client = aioimaplib.IMAP4(
                    host=endpoint.host, port=endpoint.effective_port, timeout=timeout
                )
            await self._client.wait_hello_from_server()
        if endpoint.tls == "starttls":
            self.ctx.stage = "imap_tls"
            with self._translate():
                await self._starttls()
        self.ctx.stage = "imap_auth"
        with self._translate():
            response = await self._client.login(
                endpoint.username, endpoint.password.get_secret_value()
            )
        if response.result != "OK":
            raise ProbeFailure(
                "imap_auth",
                f"{self.where} refused the login of {endpoint.username}: {_text(response)}",
            )
        # Some servers announce more capabilities once logged in (IDLE, UIDPLUS). Most say
        # so in the login reply (RFC 3501 7.1): asking again would cost a round trip a probe.
        announced = _capability_code(response)
        if announced is not None:
            self._client.protocol.capabilities = announced
            return
        self.ctx.stage = "imap_protocol"
        with self._translate():
            await self._client.protocol.capability()

    async def _starttls(self) -> None:
        protocol = self._client.protocol
        if "STARTTLS" not in protocol.capabilities:
            raise ProbeFailure("imap_tls", f"{self.where} does not offer STARTTLS")
        command = aioimaplib.Command("STARTTLS", protocol.new_tag(), loop=protocol.loop)
        response = await asyncio.wait_for(
            protocol.execute(command), self.endpoint.command_timeout_s
        )
        if response.result != "OK":
            raise ProbeFailure("imap_tls", f"{self.where} refused STARTTLS: {_text(response)}")
        loop = asyncio.get_running_loop()
        transport = await loop.start_tls(
            protocol.transport,
            protocol,
            client_context(self.endpoint),
            server_hostname=self.endpoint.host,
            ssl_handshake_timeout=self.endpoint.command_timeout_s,
        )
        protocol.transport = transport
        await asyncio.wait_for(protocol.capability(), self.endpoint.command_timeout_s)

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is None:
            return
        try:
            if client.get_state() in {"AUTH", "SELECTED", "NONAUTH"}:
                await asyncio.wait_for(client.protocol.logout(), 2.0)
        except (aioimaplib.AioImapException, OSError, TimeoutError):
            pass
        finally:
            # A connection still being made (cut off by a timeout) must not open afterwards.
            if not client._client_task.done():
                client._client_task.cancel()
            transport = client.protocol.transport
            if transport is not None:
                transport.close()
            # The socket closes on the loop's next turn: give it that turn.
            await asyncio.sleep(0)

    async def select(self, folder: str) -> bool:
        """Select a folder; False when it does not exist (or may not be selected)."""
        with self._translate():
            response = await self._client.select(_quote(folder))
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
        with self._translate():
            response = await self._client.status(_quote(folder), "(UIDNEXT MESSAGES)")
        if response.result != "OK":
            return None
        for line in response.lines:
            if isinstance(line, bytes | bytearray) and (match := _UIDNEXT.search(line)):
                messages = _MESSAGES.search(line)
                return FolderStatus(int(match.group(1)), int(messages.group(1)) if messages else -1)
        return None

    async def noop(self) -> None:
        """Let the server look for new mail; a search alone may not make it look."""
        with self._translate():
            response = await self._client.noop()
        self._expect_ok(response, "NOOP")

    async def search_header(self, header: str, value: str) -> list[int]:
        with self._translate():
            response = await self._client.uid_search("HEADER", header, _quote(value), charset=None)
        self._expect_ok(response, "UID SEARCH")
        uids: list[int] = []
        for line in response.lines[:-1]:
            words = bytes(line).split()
            if words[:1] == [b"SEARCH"]:
                words = words[1:]
            uids.extend(int(word) for word in words if word.isdigit())
        return uids

    async def fetch_headers(self, uid: int) -> FetchedHeaders | None:
        with self._translate():
            response = await self._client.uid(
                "fetch", str(uid), "(UID INTERNALDATE BODY.PEEK[HEADER])"
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

    async def delete(self, uids: list[int]) -> None:
        """Delete exactly these messages: flag them, then expunge only them.

        Without UIDPLUS a plain EXPUNGE would also remove other messages someone flagged
        \\Deleted; then ours stay flagged until a later probe or the user expunges.
        """
        if not uids:
            return
        uid_set = ",".join(str(uid) for uid in uids)
        with self._translate():
            response = await self._client.uid("store", uid_set, "+FLAGS.SILENT", r"(\Deleted)")
            self._expect_ok(response, "UID STORE")
            if "UIDPLUS" in self.capabilities:
                response = await self._client.uid("expunge", uid_set)
                self._expect_ok(response, "UID EXPUNGE")
            elif not await self._others_flagged_deleted(set(uids)):
                response = await self._client.expunge()
                self._expect_ok(response, "EXPUNGE")

    async def _others_flagged_deleted(self, ours: set[int]) -> bool:
        response = await self._client.uid_search("DELETED", charset=None)
        self._expect_ok(response, "UID SEARCH DELETED")
        flagged = {
            int(word)
            for line in response.lines[:-1]
            for word in bytes(line).split()
            if word.isdigit()
        }
        return bool(flagged - ours)

    async def idle(self, timeout_s: float) -> float | None:
        """IDLE until the server announces a change or ``timeout_s`` passes.

        Returns ``time.monotonic()`` when the first announcement arrived, else None.
        """
        client = self._client
        with self._translate():
            idle_task = await client.idle_start(timeout=timeout_s + 60)
            seen: float | None = None
            try:
                while seen is None:
                    try:
                        push = await client.wait_server_push(timeout=timeout_s)
                    except TimeoutError:
                        break
                    stamp = time.monotonic()
                    if push == aioimaplib.STOP_WAIT_SERVER_PUSH:
                        break
                    lines = push if isinstance(push, list) else [push]
                    if any(b"EXISTS" in bytes(line) or b"RECENT" in bytes(line) for line in lines):
                        seen = stamp
            finally:
                client.idle_done()
                await asyncio.wait_for(idle_task, self.endpoint.command_timeout_s)
        return seen

    def _expect_ok(self, response: Any, what: str) -> None:
        if response.result != "OK":
            raise ProbeFailure(
                "imap_protocol",
                f"{self.where} answered {response.result} to {what}: {_text(response)}",
            )

    @contextmanager
    def _translate(self) -> Iterator[None]:
        stage = self.ctx.stage or "imap_connect"
        try:
            yield
        except ProbeFailure:
            raise
        except (TimeoutError, aioimaplib.CommandTimeout):
            raise ProbeFailure(
                stage, f"{self.where} did not answer in time during {stage}"
            ) from None
        except aioimaplib.AioImapException as exc:
            raise ProbeFailure(
                stage, f"{self.where} sent a reply we cannot use during {stage}: {exc}"
            ) from None
        except Exception as exc:
            if is_tls_error(exc):
                raise ProbeFailure("imap_tls", describe_tls_error(exc, self.where)) from None
            if isinstance(exc, OSError):
                why = exc.strerror or str(exc) or type(exc).__name__
                raise ProbeFailure(
                    "imap_connect", f"cannot connect to {self.where}: {why}"
                ) from None
            raise


def _capability_code(response: Any) -> set[str] | None:
    """The capabilities a reply announced in a ``[CAPABILITY ...]`` response code, if any."""
    for line in response.lines:
        if isinstance(line, bytes | bytearray) and (match := _CAPABILITY_CODE.search(line)):
            return set(match.group(1).decode("ascii", "replace").split())
    return None


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
