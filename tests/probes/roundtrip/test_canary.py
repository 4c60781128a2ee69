"""The canary's token header is the only thing mailwatch matches mail on."""

from __future__ import annotations

from email import message_from_bytes, policy

from mailwatch.probes.roundtrip.canary import HEADER, Canary, check_search_key, parse_header


def test_message_carries_token_in_header_and_subject() -> None:
    canary = Canary.new("check-1")
    raw = canary.message("mw@example.test", "c@example.test")
    msg = message_from_bytes(raw, policy=policy.default)
    assert parse_header(msg[HEADER]) == canary
    assert canary.id in msg["Subject"]
    assert msg["Message-ID"].endswith("@example.test>")
    assert msg["Date"].datetime == canary.sent_at.replace(microsecond=0)
    assert msg["From"].addresses[0].addr_spec == "mw@example.test"
    assert msg["To"].addresses[0].addr_spec == "c@example.test"
    assert msg.get_content_type() == "text/plain"
    assert "mailwatch canary" in msg.get_content()
    # On the wire: CRLF line ends only, a blank line between headers and body, 7-bit.
    assert b"\n" not in raw.replace(b"\r\n", b"")
    assert b"\r\n\r\n" in raw
    assert raw.isascii()


def test_foreign_or_mangled_headers_are_not_ours() -> None:
    assert parse_header("route=x; id=nothex; sent=2026-11-22T10:00:00+00:00") is None
    assert parse_header("route=x; id=" + "a" * 32 + "; sent=2026-11-22T10:00:00") is None
    assert parse_header("") is None


def test_check_key_does_not_match_a_longer_check_name() -> None:
    canary = Canary.new("main-2")
    assert check_search_key("main") not in canary.header_value
    assert check_search_key("main-2") in canary.header_value


def test_new_canaries_name_their_check() -> None:
    canary = Canary.new("main")
    assert canary.header_value.startswith("check=main; id=")


def test_canaries_with_the_older_route_header_are_still_ours() -> None:
    """Canaries sent before the header said ``check=`` say ``route=``; some may still sit in
    a mailbox after an upgrade, and must be found and recognised to be swept."""
    canary = Canary.new("main")
    old = canary.header_value.replace("check=", "route=", 1)
    assert old.startswith("route=main; id=")
    assert parse_header(old) == canary
    assert check_search_key("main") in old
    assert check_search_key("ain") not in old


def test_a_site_canary_carries_its_site_and_node_and_is_found_by_its_site() -> None:
    canary = Canary.new("main", "site-a", "mw1")
    assert canary.header_value.startswith("check=main; site=site-a; node=mw1; id=")
    assert parse_header(canary.header_value) == canary
    # Every canary of the check, whatever its site, and only this site's.
    assert check_search_key("main") in canary.header_value
    assert check_search_key("main", "site-a") in canary.header_value
    assert check_search_key("main", "site-b") not in canary.header_value
    assert check_search_key("main", "site") not in canary.header_value
    plain = Canary.new("main")
    assert check_search_key("main", "site-a") not in plain.header_value


def test_body_says_what_the_canary_is_and_who_sends_it() -> None:
    """A filter (or a person in a quarantine) sees a text saying what this mail is and who
    runs the check, not an empty robot message."""
    canary = Canary.new("check-1")
    raw = canary.message("mw@example.test", "c@example.test", sent_by="IT operations, ext. 42")
    msg = message_from_bytes(raw, policy=policy.default)
    text = " ".join(msg.get_content().split())
    assert "proves mail flows from mw@example.test to c@example.test" in text
    assert "It is sent by IT operations, ext. 42" in text
    assert "(check check-1)" in text
    assert msg["MIME-Version"] == "1.0"
    assert msg["Content-Type"].params["charset"] == "utf-8"
    # Without sent_by, the sender's domain is named.
    default = message_from_bytes(canary.message("mw@example.test", "c@example.test"))
    assert b"the administrators of example.test" in b" ".join(default.as_bytes().split())


def test_subject_variants_are_used_and_the_token_stays_in_our_header() -> None:
    variants = ["Weekly figures", "Meeting notes", "Zahlen für März"]
    seen: set[str] = set()
    for _ in range(60):
        canary = Canary.new("check-1")
        raw = canary.message("mw@example.test", "c@example.test", subject_variants=variants)
        assert raw.isascii()  # a non-ASCII subject is encoded (RFC 2047)
        msg = message_from_bytes(raw, policy=policy.default)
        assert msg["Subject"] in variants
        assert parse_header(msg[HEADER]) == canary
        assert msg["Message-ID"] == canary.message_id("mw@example.test")
        seen.add(str(msg["Subject"]))
    # Picked by the random id: 60 canaries miss one of three variants with odds below 1e-10.
    assert seen == set(variants)


def test_a_long_address_is_not_broken_in_the_body() -> None:
    address = "a-rather-long-local-part-for-a-monitoring-mailbox@mail.subdomain.example.test"
    raw = Canary.new("c").message(address, "c@example.test")
    assert address.encode() in raw
