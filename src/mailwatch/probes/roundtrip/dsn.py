"""Delivery status notifications (RFC 3464): what a bounce says, and which canary it is about.

``parse_report`` reads one message with the standard library's ``email`` package (the lenient
``compat32`` policy) and never raises: mail in a mailbox is anyone's input, and a message that
is not a well-formed ``multipart/report; report-type=delivery-status`` is simply not a report.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email import message_from_bytes, message_from_string
from email.message import Message
from email.policy import compat32

from mailwatch.probes.roundtrip.canary import HEADER, Canary, parse_header

MAX_TEXT = 300
"""Longest diagnostic text kept: a remote server's reply may be long; a summary is one line."""

_REPLY_CODE = re.compile(r"^[245]\d\d(?:[ -]|$)")
_STATUS = re.compile(r"^[245]\.\d{1,3}\.\d{1,3}$")
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class RecipientReport:
    """One per-recipient block of a report."""

    recipient: str
    action: str
    """``failed``, ``delayed``, ``delivered``, ``relayed`` or ``expanded`` (lower case)."""
    status: str
    """The status code, ``5.1.1``; empty when the report gave none that reads as one."""
    remote_mta: str
    diagnostic: str
    """The Diagnostic-Code's text without its type (``smtp;``), one line, at most MAX_TEXT."""


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    """What a delivery status notification says about the message it returns."""

    reporting_mta: str
    envelope_id: str
    recipients: tuple[RecipientReport, ...]
    message_id: str
    """The returned message's Message-ID (from its returned headers), or empty."""
    canary_header: str
    """The returned message's ``X-Mailwatch-Canary`` header, or empty."""

    @property
    def failures(self) -> tuple[RecipientReport, ...]:
        return tuple(r for r in self.recipients if r.action == "failed")

    def is_about(self, canary: Canary, message_id: str) -> bool:
        """Whether this report is about ``canary`` (sent with ``message_id``): by the envelope
        id we sent (``ENVID``), by the returned Message-ID, or by our returned header."""
        if self.envelope_id == canary.id:
            return True
        if self.message_id and self.message_id == message_id:
            return True
        returned = parse_header(self.canary_header) if self.canary_header else None
        return returned is not None and returned.id == canary.id

    def returned_canary(self) -> Canary | None:
        """The canary the report returns, when its headers came back with ours in them."""
        return parse_header(self.canary_header) if self.canary_header else None


def parse_report(raw: bytes) -> DeliveryReport | None:
    """The delivery status notification in ``raw``, or None if ``raw`` is not one.

    Never raises: anything the parser or the report's shape throws up makes it "not a report".
    """
    try:
        return _parse(message_from_bytes(raw, policy=compat32))
    except Exception:  # hostile input must never break a probe: it is not a report
        return None


def is_report_content_type(headers: Message) -> bool:
    """Whether a message's top-level headers say it is a delivery status notification."""
    try:
        return headers.get_content_type() == "multipart/report" and (
            str(headers.get_param("report-type", "")).lower() == "delivery-status"
        )
    except Exception:  # a header that cannot be read is not a report's
        return False


def _parse(message: Message) -> DeliveryReport | None:
    if not is_report_content_type(message) or not message.is_multipart():
        return None
    status_part: Message | None = None
    returned: Message | None = None
    for part in message.walk():
        kind = part.get_content_type()
        if kind in ("message/delivery-status", "message/global-delivery-status"):
            status_part = status_part or part
        elif kind in ("text/rfc822-headers", "text/global-headers"):
            returned = returned or _headers_of_text(part)
        elif kind in ("message/rfc822", "message/global") and returned is None:
            inner = part.get_payload()
            if isinstance(inner, list) and inner and isinstance(inner[0], Message):
                returned = inner[0]
    if status_part is None:
        return None
    blocks = _field_blocks(status_part)
    if not blocks:
        return None
    per_message, *per_recipient = blocks
    recipients = tuple(_recipient(block) for block in per_recipient)
    return DeliveryReport(
        reporting_mta=_value_after_type(per_message.get("Reporting-MTA")),
        envelope_id=_one_line(per_message.get("Original-Envelope-Id")),
        recipients=recipients,
        message_id=_one_line(returned.get("Message-ID")) if returned is not None else "",
        canary_header=_one_line(returned.get(HEADER)) if returned is not None else "",
    )


def _field_blocks(part: Message) -> list[Message]:
    """The report's blocks of fields: compat32 parses ``message/delivery-status`` into a list
    of header blocks; a part it left as text is parsed here."""
    payload = part.get_payload()
    if isinstance(payload, list):
        return [block for block in payload if isinstance(block, Message)]
    if isinstance(payload, str):
        text = payload.replace("\r\n", "\n")
        return [
            message_from_string(chunk.strip("\n") + "\n", policy=compat32)
            for chunk in re.split(r"\n[ \t]*\n", text)
            if chunk.strip()
        ]
    return []


def _headers_of_text(part: Message) -> Message | None:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return None
    return message_from_bytes(payload, policy=compat32)


def _recipient(block: Message) -> RecipientReport:
    status = _one_line(block.get("Status")).split(" ", 1)[0]
    return RecipientReport(
        recipient=_value_after_type(
            block.get("Final-Recipient") or block.get("Original-Recipient")
        ),
        action=_one_line(block.get("Action")).lower(),
        status=status if _STATUS.match(status) else "",
        remote_mta=_value_after_type(block.get("Remote-MTA")),
        diagnostic=_diagnostic(_value_after_type(block.get("Diagnostic-Code")), status),
    )


def _diagnostic(text: str, status: str) -> str:
    """The reply text alone: ``550 5.1.1 <x>: User unknown`` -> ``<x>: User unknown`` (the
    status is told once, before it)."""
    if _REPLY_CODE.match(text):
        text = text[4:].lstrip()
    if status and text.startswith(status):
        text = text[len(status) :].lstrip()
    return text[:MAX_TEXT]


def _value_after_type(value: object) -> str:
    """``dns; mx.example.org`` -> ``mx.example.org`` (RFC 3464 typed fields)."""
    text = _one_line(value)
    kind, sep, rest = text.partition(";")
    return rest.strip() if sep and kind.strip().replace("-", "").isalnum() else text


def _one_line(value: object) -> str:
    """A header value as one line of text, whatever it was (None, a ``Header`` object, a value
    with folded lines or control characters)."""
    if value is None:
        return ""
    text = str(value)
    text = "".join(ch if ch.isprintable() else " " for ch in text)
    return _SPACES.sub(" ", text).strip()[: MAX_TEXT * 2]
