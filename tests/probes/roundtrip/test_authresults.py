"""Reading Authentication-Results headers (RFC 8601) as receivers really write them, and
choosing the receiver's own among a message's headers."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailwatch.probes.roundtrip.authresults import (
    MAX_REASON_CHARS,
    ReceiverVerdict,
    parse,
    receiver_verdict,
    shortfalls,
)

# Written by the harness's OpenDKIM 2.11 (tests/probes/test_roundtrip_authentication.py
# delivers such headers for real); Gmail and Microsoft 365 as they appear in delivered mail.
OPENDKIM_FAIL = (
    'mx.example.test;\r\n\tdkim=fail reason="signature verification failed" (2048-bit key; '
    "unprotected) header.d=example.test header.i=@example.test header.a=rsa-sha256 "
    "header.s=stale header.b=fFOBVt9o;\r\n\tdkim-atps=neutral"
)
GMAIL = (
    "mx.google.com;\r\n       dkim=pass header.i=@example.org header.s=s1 header.b=Ab/c+d;\r\n"
    "       spf=pass (google.com: domain of a@example.org designates 192.0.2.1 as permitted "
    "sender) smtp.mailfrom=a@example.org;\r\n       dmarc=pass (p=REJECT sp=REJECT dis=NONE) "
    "header.from=example.org"
)
MICROSOFT = (
    "spf=pass (sender IP is 192.0.2.1) smtp.mailfrom=example.org; dkim=pass (signature was "
    "verified) header.d=example.org;dmarc=pass action=none header.from=example.org;"
    "compauth=pass reason=100"
)


@pytest.mark.parametrize(
    ("header", "authserv_id", "expected"),
    [
        pytest.param(
            OPENDKIM_FAIL,
            "mx.example.test",
            [("dkim", "fail", "signature verification failed"), ("dkim-atps", "neutral", "")],
            id="opendkim-reason-property",
        ),
        pytest.param(
            GMAIL,
            "mx.google.com",
            [
                ("dkim", "pass", ""),
                (
                    "spf",
                    "pass",
                    "google.com: domain of a@example.org designates 192.0.2.1 as permitted sender",
                ),
                ("dmarc", "pass", "p=REJECT sp=REJECT dis=NONE"),
            ],
            id="gmail-comment-reasons",
        ),
        pytest.param(
            MICROSOFT,
            "",
            [
                ("spf", "pass", "sender IP is 192.0.2.1"),
                ("dkim", "pass", "signature was verified"),
                ("dmarc", "pass", ""),
                ("compauth", "pass", "100"),
            ],
            id="microsoft-without-authserv-id",
        ),
        pytest.param("example.org 1; none", "example.org", [], id="version-and-no-result"),
        pytest.param("Example.ORG; SPF = Fail", "example.org", [("spf", "fail", "")], id="case"),
        pytest.param("example.org; dkim/1=pass", "example.org", [("dkim", "pass", "")], id="ver"),
        pytest.param('"quoted.example"; spf=softfail', "quoted.example", [("spf", "softfail", "")]),
        pytest.param(
            "example.org; spf=fail (a (nested) comment) smtp.mailfrom=x@example.org",
            "example.org",
            [("spf", "fail", "a (nested) comment")],
            id="nested-comment",
        ),
    ],
)
def test_parse_reads_what_receivers_write(
    header: str, authserv_id: str, expected: list[tuple[str, str, str]]
) -> None:
    parsed = parse(header)
    assert parsed.authserv_id == authserv_id
    assert [(r.method, r.result, r.reason) for r in parsed.results] == expected


def test_properties_are_kept_for_the_details() -> None:
    dkim = parse(OPENDKIM_FAIL).results[0]
    assert dict(dkim.properties)["header.d"] == "example.test"
    assert dict(dkim.properties)["header.s"] == "stale"
    assert dkim.described() == "dkim=fail (signature verification failed)"


@pytest.mark.parametrize(
    "header",
    [
        "",
        ";;;",
        "(",
        '"',
        "example.org; (unclosed",
        'example.org; spf="unclosed',
        "example.org; =pass",
        "example.org; spf=",
        "example.org; .=.",
        "\\",
        ")",
        "example.org; spf=pass ) reason=x",
        "a" * 20_000,
        "x; " + "spf=pass; " * 2000,
    ],
)
def test_parse_never_raises_on_broken_headers(header: str) -> None:
    parse(header)


@given(st.text(max_size=400))
def test_parse_never_raises_and_gives_one_line_values(header: str) -> None:
    parsed = parse(header)
    for result in parsed.results:
        assert result.method == result.method.lower() and result.method
        assert "\n" not in result.reason and "\r" not in result.reason
        assert len(result.reason) <= MAX_REASON_CHARS
        assert result.described().count("\n") == 0


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["Authentication-Results", "Received", "Subject", "received"]),
            st.text(max_size=80),
        ),
        max_size=12,
    ),
    st.lists(st.text(max_size=20), max_size=3),
)
def test_receiver_verdict_never_raises(headers: list[tuple[str, str]], ids: list[str]) -> None:
    verdict = receiver_verdict(headers, ids)
    assert all(h.authserv_id in {i.strip().lower() for i in ids} for h in verdict.counted)


def _headers(*lines: str) -> list[tuple[str, str]]:
    return [(line.split(":", 1)[0], line.split(":", 1)[1].strip()) for line in lines]


def test_only_the_topmost_group_of_the_receiver_counts() -> None:
    # A look-alike below a Received header came with the message: it may be forged.
    headers = _headers(
        'Authentication-Results: mx.example.test; dkim=fail reason="bad"',
        "Authentication-Results: mx.example.test; spf=softfail",
        "Received: from relay by mx.example.test",
        "Authentication-Results: mx.example.test; dkim=pass; spf=pass",
        "Received: from sender by relay",
    )
    verdict = receiver_verdict(headers, ["mx.example.test"])
    assert [r.result for h in verdict.counted for r in h.results] == ["fail", "softfail"]
    assert verdict.ignored == 1


def test_other_authserv_ids_are_seen_but_not_counted() -> None:
    headers = _headers(
        "Authentication-Results: spamfilter.example.test; dkim=pass",
        "Authentication-Results: MX.example.test; dkim=fail",
    )
    verdict = receiver_verdict(headers, ["mx.example.test"])
    assert [r.result for h in verdict.counted for r in h.results] == ["fail"]
    assert verdict.seen_ids == ("spamfilter.example.test", "mx.example.test")


def test_headers_without_authserv_id_count_when_empty_id_is_configured() -> None:
    verdict = receiver_verdict([("Authentication-Results", MICROSOFT)], [""])
    assert shortfalls(verdict, ["spf", "dkim", "dmarc"]) == []


def test_shortfalls_name_result_and_reason_and_missing_methods() -> None:
    verdict = receiver_verdict([("Authentication-Results", OPENDKIM_FAIL)], ["mx.example.test"])
    found = shortfalls(verdict, ["spf", "dkim"])
    assert [s.described() for s in found] == [
        "spf=missing (no result written)",
        "dkim=fail (signature verification failed)",
    ]


def test_one_passing_signature_of_several_is_enough() -> None:
    verdict = ReceiverVerdict(
        (parse("mx.example.test; dkim=fail header.d=esp.example; dkim=pass header.d=x"),)
    )
    assert shortfalls(verdict, ["dkim"]) == []
