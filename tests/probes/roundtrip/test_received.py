"""Received headers into hops: real Postfix shapes parse exactly; garbage never raises."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from mailwatch.probes.roundtrip.received import hops_from_headers, parse_received

POSTFIX_LOCAL = (
    "from mail.example.test (localhost [127.0.0.1])\r\n\tby mx.example.test (Postfix) "
    "with ESMTPS id 4F3A2C0123\r\n\tfor <canary@example.test>; "
    "Sun, 22 Nov 2026 10:00:01 +0000 (UTC)"
)
RELAY = (
    "from relay.example.org (relay.example.org [192.0.2.7]) by mail.example.test "
    "(Postfix) with ESMTP id AB12; Sun, 22 Nov 2026 11:00:03 +0100"
)


def test_postfix_header_fields() -> None:
    hop = parse_received(POSTFIX_LOCAL)
    assert hop.by == "mx.example.test"
    assert hop.from_host == "mail.example.test"
    assert hop.protocol == "ESMTPS"
    assert hop.queue_id == "4F3A2C0123"
    assert hop.time == datetime(2026, 11, 22, 10, 0, 1, tzinfo=UTC)


def test_hops_are_in_travel_order_with_delays() -> None:
    sent = datetime(2026, 11, 22, 10, 0, 0, tzinfo=UTC)
    # The newest Received header comes first in a message.
    hops = hops_from_headers([RELAY, POSTFIX_LOCAL], sent_at=sent)
    assert [hop.by for hop in hops] == ["mx.example.test", "mail.example.test"]
    assert [hop.delay_s for hop in hops] == [1.0, 2.0]
    assert hops[1].time == datetime(2026, 11, 22, 11, 0, 3, tzinfo=timezone(timedelta(hours=1)))


def test_first_hop_delay_compares_whole_seconds() -> None:
    # Sent at 10:00:00.9, received at 10:00:01 by the header's clock: one second, never -0.x.
    sent = datetime(2026, 11, 22, 10, 0, 0, 900_000, tzinfo=UTC)
    [hop] = hops_from_headers([POSTFIX_LOCAL], sent_at=sent)
    assert hop.delay_s == 1.0


def test_unreadable_date_keeps_the_rest() -> None:
    hop = parse_received("from a by b with SMTP id X; yesterday-ish")
    assert (hop.by, hop.from_host, hop.time) == ("b", "a", None)
    [only] = hops_from_headers(["by b; not a date"], sent_at=datetime.now(UTC))
    assert only.delay_s is None


@given(st.lists(st.text(), max_size=6), st.none() | st.datetimes(timezones=st.just(UTC)))
def test_arbitrary_headers_give_hops_never_exceptions(
    headers: list[str], sent: datetime | None
) -> None:
    hops = hops_from_headers(headers, sent_at=sent)
    assert len(hops) == len(headers)
    for hop in hops:
        hop.to_dict()
