"""The roundtrip's authentication keys: what a mistake in them says, and their defaults."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from mailwatch.config import load_config
from mailwatch.config.checks.roundtrip import RoundtripCheck
from mailwatch.domain.errors import ConfigError

ROUTE = """
[[checks.roundtrip]]
name = "main"
mail_from = "mailwatch@Example.test"
rcpt_to = "canary@example.test"
{extra}
[checks.roundtrip.smtp]
host = "127.0.0.1"
[checks.roundtrip.imap]
host = "imap.example.test"
username = "canary@example.test"
password = "secret"
"""


def problems(tmp_path: Path, extra: str) -> list[str]:
    path = tmp_path / "mailwatch.toml"
    path.write_text(textwrap.dedent(ROUTE.format(extra=extra)))
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    return caught.value.problems


def roundtrip(tmp_path: Path, extra: str = "") -> RoundtripCheck:
    path = tmp_path / "mailwatch.toml"
    path.write_text(textwrap.dedent(ROUTE.format(extra=extra)))
    [check] = list(load_config(path).checks)
    assert isinstance(check, RoundtripCheck)
    return check


def test_an_unknown_method_is_named_with_the_ones_there_are(tmp_path: Path) -> None:
    assert problems(tmp_path, 'expect_authentication = ["dkim", "spff"]') == [
        "checks.roundtrip[0].expect_authentication[1]: "
        "Input should be 'spf', 'dkim', 'dmarc' or 'arc'"
    ]


def test_a_method_listed_twice_is_refused(tmp_path: Path) -> None:
    assert problems(tmp_path, 'expect_authentication = ["dkim", "spf", "dkim"]') == [
        "checks.roundtrip[0]: expect_authentication lists dkim more than once"
    ]


def test_defaults_read_nothing_and_name_the_imap_host(tmp_path: Path) -> None:
    check = roundtrip(tmp_path)
    assert check.expect_authentication == []
    assert check.verify_dkim is False
    assert check.authserv_ids == ["imap.example.test"]
    assert check.sending_domain == "example.test"


def test_authserv_ids_as_configured_including_none_at_all(tmp_path: Path) -> None:
    check = roundtrip(tmp_path, 'authserv_id = ["mx.google.com", ""]')
    assert check.authserv_ids == ["mx.google.com", ""]
