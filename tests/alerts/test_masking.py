"""Secrets in apprise URLs never show: not in masked URLs, not in any log line or traceback."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from mailwatch.alerts.apprise_setup import load_apprise, quiet_apprise
from mailwatch.alerts.masking import (
    PRIVACY_VERIFIED_SCHEMES,
    install_log_masking,
    mask_text,
    mask_url,
    remember_secrets,
)


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


# A URL of every plugin whose privacy URL is trusted with its path: the keys are hidden, and the
# parts apprise does not call private (hosts, chat ids, channels, rooms, server paths) are not.
VERIFIED = [
    (
        "tgram://582046913:ABCdefGHIjklMNOpqrSTUvwxYZ/-1001234567890",
        "tgram://5...Z/-1001234567890/",
        ["582046913:ABCdefGHIjklMNOpqrSTUvwxYZ", "ABCdefGHIjklMNOpqrSTUvwxYZ"],
    ),
    (
        "discord://123456789012345678/AbCdEfGhIjKlMnOpQrStUvWxYz0123456789",
        "discord://1...8/A...9/",
        ["123456789012345678", "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"],
    ),
    (
        "slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ/#mailwatch-alerts",
        "slack://T...2/A...D/T...Q/%23mailwatch-alerts/",
        ["T1JJ3T3L2", "A1BRTD4JD", "TIiajkdnlazkcOXrIdevi7FQ"],
    ),
    (
        "slack://xoxb-1234-1234-4ddbc191d40ee098cbaae6f3523ada2d/#mailwatch-alerts",
        "slack://x...d/%23mailwatch-alerts/",
        ["xoxb-1234-1234-4ddbc191d40ee098cbaae6f3523ada2d"],
    ),
    (
        "matrixs://mwbot:MatrixPass1@matrix.example.org/#mailwatch-alerts:example.org",
        "matrixs://mwbot:****@matrix.example.org/%23mailwatch-alerts%3Aexample.org",
        ["MatrixPass1"],
    ),
    (
        "gotifys://gotify.example.org/notifications/AppTokenXYZ12345",
        "gotifys://gotify.example.org/notifications/A...5/",
        ["AppTokenXYZ12345"],
    ),
    (
        "mmosts://chat.example.org/mattermost/hookidabcdef1234567890",
        "mmosts://chat.example.org/mattermost/h...0/",
        ["hookidabcdef1234567890"],
    ),
    (
        "pover://UserKeyABCDEFGHIJKLMNOPQRSTUVW@AppTokenABCDEFGHIJKLMNOPQRST/ops-phone-primary",
        "pover://U...W@A...T/ops-phone-primary/",
        ["UserKeyABCDEFGHIJKLMNOPQRSTUVW", "AppTokenABCDEFGHIJKLMNOPQRST"],
    ),
    (
        "rockets://AbCdEfGhIj1234567890/KlMnOpQrStUv0987654321@rocket.example.org/#mailwatch-alerts",
        "rockets://****@rocket.example.org/%23mailwatch-alerts/",
        ["AbCdEfGhIj1234567890", "KlMnOpQrStUv0987654321"],
    ),
    (
        "hassios://homeassistant.example.org/LongLivedAccessTokenSECRET123",
        "hassios://homeassistant.example.org/L...3/",
        ["LongLivedAccessTokenSECRET123"],
    ),
    (
        "apprises://apprise.example.org/mailwatchconfigkey123",
        "apprises://apprise.example.org/m...3/",
        ["mailwatchconfigkey123"],
    ),
    (
        "mastodons://SecretMastoToken123@mastodon.example.org/@mailwatch",
        "mastodons://****@mastodon.example.org/@mailwatch",
        ["SecretMastoToken123"],
    ),
    (
        "mailto://mailwatch:MailPassword1@example.com",
        "mailto://mailwatch:****@example.com/",
        ["MailPassword1"],
    ),
]


@pytest.mark.parametrize(("url", "shown", "secrets"), VERIFIED)
def test_mask_url_shows_what_apprise_does_not_call_private(
    url: str, shown: str, secrets: list[str]
) -> None:
    masked = mask_url(url)
    assert masked == shown
    for secret in secrets:
        assert secret not in masked
        assert secret not in mask_text(f"log line with {secret} inside")
    # The masked URL is shown as it is in logs too, not masked again by its shape.
    assert mask_text(f"sent to {url} ok") == f"sent to {shown} ok"


def test_every_verified_scheme_has_a_checked_url() -> None:
    """A plugin's plain and secure scheme share its ``url()``: a URL of either checks both."""
    apprise = load_apprise()
    checked: set[str] = set()
    for url, _, _ in VERIFIED:
        with quiet_apprise():
            service = apprise.Apprise.instantiate(url)
        assert service is not None
        for schemes in (service.protocol, service.secure_protocol):
            checked.update([schemes] if isinstance(schemes, str) else schemes or ())
    assert PRIVACY_VERIFIED_SCHEMES - checked == set()


@pytest.mark.parametrize(
    ("url", "path_secret", "shown"),
    [
        # A generic webhook's path is the receiver's choice, often a key.
        (
            "jsons://hooks.example.org/hooks/catch/1234/Ab3dEf9hIj",
            "Ab3dEf9hIj",
            "jsons://hooks.example.org/hooks/catch/1234/****",
        ),
        (
            "json://user:Passw0rd@example.org/hooks/mailwatch-alerts",
            "mailwatch-alerts",
            "json://user:****@example.org/hooks/****",
        ),
        # On a public ntfy server the topic is the only thing keeping others out.
        ("ntfys://ntfy.sh/mailwatch-7f3k9qzx", "mailwatch-7f3k9qzx", "ntfys://ntfy.sh/****"),
        (
            "ntfys://user:NtfyPass99@ntfy.example.org/mailwatch-alerts",
            "mailwatch-alerts",
            "ntfys://user:****@ntfy.example.org/****",
        ),
        # GoAlert marks its integration keys private, yet prints them.
        (
            "goalert://goalert.example.org/IntegrationKeySecret123",
            "IntegrationKeySecret123",
            "goalert://goalert.example.org/****/",
        ),
    ],
)
def test_paths_apprise_shows_but_may_be_keys_stay_masked(
    url: str, path_secret: str, shown: str
) -> None:
    """Why these plugins are not in ``PRIVACY_VERIFIED_SCHEMES``: apprise's own privacy URL
    prints the path. Should a later apprise hide it, this test says the plugin can be trusted."""
    apprise = load_apprise()
    with quiet_apprise():
        service = apprise.Apprise.instantiate(url)
    assert service is not None
    assert path_secret in str(service.url(privacy=True))
    assert mask_url(url) == shown
    assert path_secret not in mask_text(f"log line with {path_secret} inside")


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
