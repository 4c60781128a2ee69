"""``[web] api_tokens``: a table of named tokens or a plain list; anything else names the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailwatch.config import load_config
from mailwatch.domain.errors import ConfigError


def tokens(tmp_path: Path, text: str) -> dict[str, str]:
    path = tmp_path / "mailwatch.toml"
    path.write_text(text)
    loaded = load_config(path).web.api_tokens
    return {name: secret.get_secret_value() for name, secret in loaded.items()}


def test_a_table_names_each_token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MW_BOT_TOKEN", "from-the-environment")
    text = '[web.api_tokens]\nchatbot = "env:MW_BOT_TOKEN"\n"ops.desk" = "literal"\n'
    assert tokens(tmp_path, text) == {"chatbot": "from-the-environment", "ops.desk": "literal"}


def test_a_list_acts_as_api(tmp_path: Path) -> None:
    assert tokens(tmp_path, '[web]\napi_tokens = ["one", "two"]\n') == {
        "api": "one",
        "api-2": "two",
    }


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (
            "[web]\napi_tokens = 5\n",
            'web.api_tokens: must be a table [web.api_tokens] of NAME = "env:..." or a list '
            "of tokens",
        ),
        ("[web]\napi_tokens = [5]\n", "web.api_tokens.api: must be a string"),
        (
            '[web.api_tokens]\n"chat bot" = "x"\n',
            "web.api_tokens: token names are letters, digits, '.', '_', '@' and '-' (up to 64): "
            "chat bot",
        ),
        (
            '[web.api_tokens]\nbot = "env:MW_TOKEN_NOT_SET"\n',
            "web.api_tokens.bot: environment variable MW_TOKEN_NOT_SET is not set",
        ),
    ],
)
def test_a_bad_token_setting_names_the_key(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "mailwatch.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.problems == [problem]
