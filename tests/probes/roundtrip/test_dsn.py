"""Reading delivery status notifications: a real Postfix bounce (data/postfix-dsn.eml, written
by the test harness's Postfix for a canary relayed to an unknown user), its variants, and
hostile input, which must never make the parser raise."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailwatch.probes.roundtrip.canary import Canary
from mailwatch.probes.roundtrip.dsn import MAX_TEXT, DeliveryReport, parse_report

POSTFIX_DSN = (Path(__file__).parent / "data" / "postfix-dsn.eml").read_bytes()
CANARY = Canary(
    check="canary-main",
    id="2b0c0c3d1e6f4a59a8a0c8e3d2f1b7aa",
    sent_at=datetime(2026, 11, 22, 10, 0, 0, 123456, tzinfo=UTC),
)
MESSAGE_ID = CANARY.message_id("bounces@example.test")
OTHER = Canary.new("canary-main")


def parsed(raw: bytes) -> DeliveryReport:
    report = parse_report(raw)
    assert report is not None
    return report


def without_line(raw: bytes, start: bytes) -> bytes:
    return b"\n".join(line for line in raw.split(b"\n") if not line.startswith(start))


def test_a_postfix_bounce_says_who_refused_what_and_why() -> None:
    report = parsed(POSTFIX_DSN)
    assert report.reporting_mta == "mail.example.test"
    assert report.envelope_id == CANARY.id
    [failure] = report.failures
    assert failure.recipient == "nobody@bouncing.test"
    assert failure.status == "5.1.1"
    assert failure.remote_mta == "127.0.0.1"
    # The reply code and the status are told once, before the text; folded lines are joined.
    assert failure.diagnostic == (
        "<nobody@example.test>: Recipient address rejected: User unknown in virtual mailbox table"
    )
    assert report.is_about(CANARY, MESSAGE_ID)
    assert not report.is_about(OTHER, OTHER.message_id("bounces@example.test"))


def test_a_bounce_is_matched_without_the_envelope_id() -> None:
    """A server that does not echo ENVID: the returned Message-ID, or failing that our header
    in the returned headers, says which canary it was."""
    no_envid = without_line(POSTFIX_DSN, b"Original-Envelope-Id:")
    assert parsed(no_envid).envelope_id == ""
    assert parsed(no_envid).is_about(CANARY, MESSAGE_ID)
    header_only = without_line(no_envid, b"Message-ID:")
    assert parsed(header_only).message_id == ""
    assert parsed(header_only).is_about(CANARY, MESSAGE_ID)
    assert parsed(header_only).returned_canary() == CANARY
    nothing = without_line(header_only, b"X-Mailwatch-Canary:")
    assert not parsed(nothing).is_about(CANARY, MESSAGE_ID)


def test_a_bounce_returning_the_whole_message_is_read_too() -> None:
    full = POSTFIX_DSN.replace(
        b"Content-Type: text/rfc822-headers", b"Content-Type: message/rfc822"
    )
    report = parsed(without_line(full, b"Original-Envelope-Id:"))
    assert report.message_id == MESSAGE_ID
    assert report.is_about(CANARY, MESSAGE_ID)


def test_a_delay_notice_is_no_failure() -> None:
    delayed = POSTFIX_DSN.replace(b"Action: failed", b"Action: delayed").replace(
        b"Status: 5.1.1", b"Status: 4.4.1"
    )
    report = parsed(delayed)
    assert report.is_about(CANARY, MESSAGE_ID)
    assert report.failures == ()


def test_mail_that_is_no_delivery_report_is_none() -> None:
    assert parse_report(b"From: a@example.test\r\nSubject: hi\r\n\r\nhello\r\n") is None
    other_report = POSTFIX_DSN.replace(
        b"report-type=delivery-status", b"report-type=disposition-notification"
    )
    assert parse_report(other_report) is None
    no_status_part = POSTFIX_DSN.replace(b"message/delivery-status", b"text/plain")
    assert parse_report(no_status_part) is None


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=4000))
def test_any_bytes_never_raise(raw: bytes) -> None:
    report = parse_report(raw)
    assert report is None or isinstance(report, DeliveryReport)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(st.integers(0, len(POSTFIX_DSN)), st.integers(0, 40), st.binary(max_size=40)),
        min_size=1,
        max_size=8,
    )
)
def test_a_mangled_bounce_never_raises(edits: list[tuple[int, int, bytes]]) -> None:
    """Bytes cut out of a real bounce and others put in their place, anywhere (boundaries,
    header names, the status fields): a report, or None, never an exception."""
    raw = POSTFIX_DSN
    for at, cut, put in edits:
        raw = raw[:at] + put + raw[at + cut :]
    report = parse_report(raw)
    assert report is None or isinstance(report, DeliveryReport)


field_text = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"), max_size=2000
)


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(mta=field_text, status=field_text, diagnostic=field_text, action=field_text)
def test_whatever_the_status_fields_say_the_report_reads_as_one_line_each(
    mta: str, status: str, diagnostic: str, action: str
) -> None:
    """A report with any text in its fields (non-ASCII, control characters, huge) is still a
    report, and what reaches a summary is one line of bounded length."""
    raw = (
        POSTFIX_DSN.replace(b"dns; 127.0.0.1", b"dns; " + mta.encode())
        .replace(b"Status: 5.1.1", b"Status: " + status.encode())
        .replace(b"Action: failed", b"Action: " + action.encode())
        .replace(
            b"smtp; 550 5.1.1 <nobody@example.test>: Recipient address",
            b"smtp; " + diagnostic.encode(),
        )
    )
    report = parse_report(raw)
    assert report is not None
    for recipient in report.recipients:
        for text in (
            recipient.remote_mta,
            recipient.status,
            recipient.diagnostic,
            recipient.action,
        ):
            assert "\n" not in text and "\r" not in text
        assert len(recipient.diagnostic) <= MAX_TEXT
        assert recipient.status == "" or recipient.status[0] in "245"
