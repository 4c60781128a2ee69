"""Reading a server's SASL error challenge back into words; the token never shown.

Pure functions, so plain values: the exchanges themselves are tested against Dovecot and
Postfix in tests/probes/test_roundtrip_oauth2.py.
"""

from __future__ import annotations

import base64

from hypothesis import given
from hypothesis import strategies as st

from mailwatch.protocols.sasl import BearerLogin, error_challenge

# The challenge Google documents for a refused XOAUTH2 token (developers.google.com,
# "OAuth 2.0 Mechanism"), base64 as Gmail sends it.
GMAIL_CHALLENGE = (
    "eyJzdGF0dXMiOiI0MDEiLCJzY2hlbWVzIjoiYmVhcmVyIG1hYyIs"
    "InNjb3BlIjoiaHR0cHM6Ly9tYWlsLmdvb2dsZS5jb20vIn0K"
)


def test_gmails_error_challenge_reads_as_status_and_scope() -> None:
    assert error_challenge(GMAIL_CHALLENGE) == "status 401, scope https://mail.google.com/"


def test_a_challenge_that_is_not_base64_json_is_shown_as_sent() -> None:
    assert error_challenge("not base64 at all!") == "not base64 at all!"
    assert error_challenge(base64.b64encode(b'"just a string"').decode()) == "just a string"
    assert error_challenge("") == ""


@given(st.text())
def test_any_challenge_is_one_short_line(challenge: str) -> None:
    words = error_challenge(challenge)
    assert len(words) <= 200
    assert "\n" not in words and "\r" not in words


def test_a_login_never_shows_its_token() -> None:
    login = BearerLogin("XOAUTH2", "canary@example.test", "ya29.secret-token")
    assert "secret-token" not in repr(login) and "secret-token" not in str(login)
    raw = base64.b64decode(login.initial_response("imap.gmail.com", 993))
    assert raw == b"user=canary@example.test\x01auth=Bearer ya29.secret-token\x01\x01"


def test_oauthbearer_escapes_the_user_name_as_rfc_5801_says() -> None:
    login = BearerLogin("OAUTHBEARER", "a,b=c@example.test", "t")
    raw = base64.b64decode(login.initial_response("mail.example.test", 143))
    assert raw == (
        b"n,a=a=2Cb=3Dc@example.test,\x01host=mail.example.test\x01port=143\x01"
        b"auth=Bearer t\x01\x01"
    )
