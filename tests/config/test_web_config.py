"""``[web]`` refuses what would not work, naming the key: a plain password as a hash, an
ack-link base without its key, a short key, a bad listen address or proxy."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mailwatch.config import load_config
from mailwatch.config.web import WebConfig
from mailwatch.domain.errors import ConfigError


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"users": {"alice": {"password_hash": "hunter2"}}}, "must be an argon2 hash"),
        ({"public_url": "https://mw.example.net"}, "public_url needs link_key"),
        ({"public_url": "https://mw.example.net", "link_key": "short"}, "at least 32"),
        ({"public_url": "mw.example.net", "link_key": "k" * 40}, "public_url must be"),
        ({"listen": "8087"}, "listen must be"),
        ({"trusted_proxies": ["proxy.example.net"]}, "trusted_proxies entries"),
        ({"users": {"a b": {"password_hash": "$argon2id$x"}}}, "user names are"),
    ],
)
def test_refused_with_the_reason(tmp_path: Path, section: dict[str, object], message: str) -> None:
    config = tmp_path / "mailwatch.toml"
    # JSON inline tables are TOML too, for these flat values.
    lines = [f"{key} = {json.dumps(value)}" for key, value in section.items() if key != "users"]
    users = section.get("users", {})
    assert isinstance(users, dict)
    for name, user in users.items():
        lines.append(f'users."{name}" = {{ password_hash = {json.dumps(user["password_hash"])} }}')
    config.write_text("[web]\n" + "\n".join(lines) + "\n")
    with pytest.raises(ConfigError) as caught:
        load_config(config)
    problems = "; ".join(caught.value.problems)
    assert message in problems
    assert "web" in problems
    assert "hunter2" not in problems


def test_off_by_default_and_cookies_secure() -> None:
    web = WebConfig()
    assert web.address is None
    assert web.cookie_secure is True
    assert web.public_status is False


def test_public_url_loses_its_trailing_slash() -> None:
    web = WebConfig.model_validate({"public_url": "https://mw.example.net/", "link_key": "k" * 40})
    assert web.public_url == "https://mw.example.net"
