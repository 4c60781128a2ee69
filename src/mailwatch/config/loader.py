"""Reading ``mailwatch.toml``: where it is, and turning every problem into one readable line."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Sequence
from pathlib import Path

from pydantic import ValidationError

from mailwatch.config.model import MailwatchConfig
from mailwatch.domain.errors import ConfigError

DEFAULT_CONFIG_PATH = Path("/etc/mailwatch/mailwatch.toml")
EX_CONFIG = 78
"""sysexits.h: configuration error. systemd does not restart a unit that exits with it."""


def config_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    """``-c`` wins, then ``MAILWATCH_CONFIG``, then the default path."""
    if explicit:
        return Path(explicit)
    from_env = os.environ.get("MAILWATCH_CONFIG")
    return Path(from_env) if from_env else DEFAULT_CONFIG_PATH


def load_config(path: Path) -> MailwatchConfig:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(path, [f"cannot read {path}: {exc.strerror}"]) from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(path, [f"{path}: not UTF-8 text"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(path, [f"{path}: TOML syntax error: {exc}"]) from None
    try:
        return MailwatchConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(path, format_validation_error(exc)) from None


def format_validation_error(exc: ValidationError) -> list[str]:
    """``checks.roundtrip[0].smtp.port: must be at most 65535``; never the offending value,
    which may be a secret."""
    lines = []
    for error in exc.errors(include_input=False, include_url=False):
        lines.append(f"{dotted(error['loc'])}: {_message(error['type'], error['msg'])}")
    return lines


def dotted(loc: Sequence[int | str]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out or "(top level)"


def _message(kind: str, msg: str) -> str:
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "missing":
        return "required key is missing"
    return msg.removeprefix("Value error, ")
