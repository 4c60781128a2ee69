"""Secrets in apprise URLs never show: not in masked URLs, not in any log line or traceback."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from mailwatch.alerts.masking import install_log_masking, mask_text, mask_url, remember_secrets


@pytest.fixture(autouse=True)
def masked_logs() -> Iterator[None]:
    install_log_masking()
    yield


@pytest.mark.parametrize(
    ("url", "shown", "secrets"),
    [
        (
            "json://hook:Pa55word-xyz@127.0.0.1:8080/hooks/abcdefTOKEN123?-secret=qvalue",
            "json://hook:****@127.0.0.1:8080/hooks/****?-secret=****",
            ["Pa55word-xyz", "abcdefTOKEN123", "qvalue"],
        ),
        (
            # apprise knows ntfy's token and shows its first and last character.
            "ntfys://ntfy.example.org/mw-alerts-topic?token=tk_SECRETXYZ",
            "ntfys://t...Z@ntfy.example.org/****",
            ["tk_SECRETXYZ", "mw-alerts-topic"],
        ),
        (
            "pover://UserKeyABCDEFGHIJKLMNOPQRSTUVW@AppTokenABCDEFGHIJKLMNOPQRST?priority=high",
            "pover://U...W@A...T//?priority=high",
            ["UserKeyABCDEFGHIJKLMNOPQRSTUVW", "AppTokenABCDEFGHIJKLMNOPQRST"],
        ),
        (
            "mailtos://alerts:SMTPPASS@smtp.example.org?to=ops@example.org&from=mw@example.org",
            "mailtos://alerts:****@smtp.example.org/ops%40example.org?from=mw%40example.org",
            ["SMTPPASS"],
        ),
        (
            "jsons://helpdesk.example.com/api/tickets/SECRETPATHTOKEN",
            "jsons://helpdesk.example.com/api/tickets/****",
            ["SECRETPATHTOKEN"],
        ),
        (
            "tgram://123456789:ABCdefGHIjklMNOpqrSTUvwxYZ/987654",
            "tgram://1...Z/987654/",
            ["ABCdefGHIjklMNOpqrSTUvwxYZ"],
        ),
        (
            # apprise cannot read it: the fallback also hides a key-like user or host.
            "bogus://user:pw12345@hostnamewithoutdots/TOKENTOKEN?key=value&to=x",
            "bogus://user:****@****/****?key=****&to=x",
            ["pw12345", "hostnamewithoutdots", "TOKENTOKEN", "value"],
        ),
        ("a token, not a URL", "****", ["a token, not a URL"]),
    ],
)
def test_mask_url(url: str, shown: str, secrets: list[str]) -> None:
    masked = mask_url(url)
    assert masked == shown
    for secret in secrets:
        assert secret not in masked
        assert secret not in mask_text(f"log line with {secret} inside")


def test_log_lines_mask_remembered_secrets_and_urls(caplog: pytest.LogCaptureFixture) -> None:
    url = "json://hook:LogPassw0rd@127.0.0.1:8080/hooks/LOGTOKEN0123456"
    mask_url(url)
    log = logging.getLogger("mailwatch.test")
    with caplog.at_level(logging.DEBUG):
        log.warning("sending to %s", url)
        log.info("token alone: LOGTOKEN0123456, password alone: %s", "LogPassw0rd")
        # A URL never masked before is still masked by its shape.
        log.error("posting to https://api.example.org/v1/NEWTOKEN987654?apikey=k3y-value")
        log.debug("apprise said %r", {"url": url})
    text = caplog.text
    for secret in ("LogPassw0rd", "LOGTOKEN0123456", "NEWTOKEN987654", "k3y-value"):
        assert secret not in text
    assert "https://api.example.org/v1/****?apikey=****" in text
    assert "sending to json://hook:****@127.0.0.1:8080/hooks/****" in text


def test_tracebacks_and_apprise_records_are_masked(caplog: pytest.LogCaptureFixture) -> None:
    url = "json://127.0.0.1:9/hooks/TRACETOKEN42xyz"
    mask_url(url)
    with caplog.at_level(logging.DEBUG):
        try:
            raise RuntimeError(f"could not post to {url}")
        except RuntimeError:
            logging.getLogger("mailwatch.test").exception("delivery crashed")
        logging.getLogger("apprise").warning(
            "JSON POST URL: http://127.0.0.1:9/hooks/TRACETOKEN42xyz"
        )
    assert "TRACETOKEN42xyz" not in caplog.text
    assert "RuntimeError: could not post to json://127.0.0.1:9/hooks/****" in caplog.text


def test_remember_secrets_ignores_short_strings() -> None:
    remember_secrets(["ab", "LONGERSECRET"])
    assert mask_text("ab LONGERSECRET") == "ab ****"
