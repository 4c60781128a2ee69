"""Signed ack links: a link verifies under its key until it expires; a changed character,
another key or a token cut short is refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailwatch.domain.acklinks import AckLink, link_url, sign, verify
from mailwatch.domain.errors import AckLinkExpiredError, AckLinkRefusedError

KEY = b"0123456789abcdef0123456789abcdef-test-key"
NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
LINK = AckLink(123, "oncall", NOW + timedelta(hours=24))


def test_a_signed_link_verifies_until_it_expires() -> None:
    token = sign(KEY, LINK)
    assert verify(KEY, token, NOW) == LINK
    assert verify(KEY, token, LINK.expires_at - timedelta(seconds=1)) == LINK
    with pytest.raises(AckLinkExpiredError) as caught:
        verify(KEY, token, LINK.expires_at)
    assert caught.value.ticket == 123


@given(position=st.integers(min_value=0), replacement=st.sampled_from("0aZ_-"))
def test_any_changed_character_is_refused(position: int, replacement: str) -> None:
    token = sign(KEY, LINK)
    index = position % len(token)
    if token[index] == replacement or token[index] == ".":
        return
    altered = token[:index] + replacement + token[index + 1 :]
    with pytest.raises(AckLinkRefusedError):
        verify(KEY, altered, NOW)


def test_another_key_or_a_cut_token_is_refused_and_expiry_cannot_be_extended() -> None:
    token = sign(KEY, LINK)
    with pytest.raises(AckLinkRefusedError):
        verify(b"another key entirely, 32 chars long", token, NOW)
    with pytest.raises(AckLinkRefusedError):
        verify(KEY, token[:-1], NOW)
    ticket, expiry, route, mac = token.split(".")
    later = str(int(expiry) + 86400)
    with pytest.raises(AckLinkRefusedError):
        verify(KEY, f"{ticket}.{later}.{route}.{mac}", NOW)
    # An expired link whose expiry was pushed back is refused as altered, not as expired.
    with pytest.raises(AckLinkRefusedError) as caught:
        verify(KEY, f"{ticket}.{later}.{route}.{mac}", LINK.expires_at + timedelta(days=2))
    assert not isinstance(caught.value, AckLinkExpiredError)


def test_route_names_of_any_text_survive_and_the_url_is_plain() -> None:
    link = AckLink(7, "équipe de nuit/α", NOW + timedelta(minutes=5))
    token = sign(KEY, link)
    assert verify(KEY, token, NOW) == link
    url = link_url("https://mw.example.net/", token)
    assert url == f"https://mw.example.net/ack/{token}"
    assert all(c.isalnum() or c in "._-" for c in token)
