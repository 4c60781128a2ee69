"""Reading ``mailwatch.toml``: where it is, and turning every problem into one readable line."""

from __future__ import annotations

import os
import re
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


MAX_CONFIG_BYTES = 10 * 2**20
"""A config is kilobytes; past this it is not one (or it is /dev/zero): read no further."""
MAX_NESTING = 64
"""Tables and arrays nested deeper, or dotted keys with more parts, are refused before
parsing: tomllib recurses on nesting (330 inline tables end in RecursionError) and takes
quadratic time on dotted keys (32,159 parts take 20 s)."""
MAX_LINE_CHARS = 300
"""A problem line is cut here: a key may be as long as the file."""


def load_config(path: Path) -> MailwatchConfig:
    """The validated config at ``path``; ``ConfigError`` (and nothing else) with one printable
    line per problem for any file, whatever its size, bytes or nesting."""
    try:
        with path.open("rb") as file:
            raw = file.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise _refused(path, f"cannot read {path}: {exc.strerror or type(exc).__name__}") from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise _refused(path, f"{path}: file is larger than {MAX_CONFIG_BYTES // 2**20} MB")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _refused(
            path, f"{path}: not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start})"
        ) from None
    too_deep = nesting_problem(text)
    if too_deep is not None:
        raise _refused(path, f"{path}: {too_deep}")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise _refused(path, f"{path}: TOML syntax error: {exc}") from None
    except RecursionError:  # nesting_problem should have caught it first
        raise _refused(path, f"{path}: nested too deeply for the TOML parser") from None
    deepest = _deepest_key(data)
    if deepest is not None:
        raise _refused(path, f"{dotted(deepest)}: nested more than {MAX_NESTING} levels deep")
    try:
        return MailwatchConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(path, [one_line(p) for p in format_validation_error(exc)]) from None


def _refused(path: Path, problem: str) -> ConfigError:
    return ConfigError(path, [one_line(problem)])


def one_line(text: str) -> str:
    """A problem as one printable line: newlines, ESC and every other control or format
    character escaped as Python writes them (``\\n``, ``\\x1b``), and cut short."""
    if not text.isprintable():
        text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    return text if len(text) <= MAX_LINE_CHARS else text[:MAX_LINE_CHARS] + "…"


# Strings and comments, whose brackets and dots do not count; and the tokens that do.
_TOKENS = re.compile(
    r'"""(?:[^"\\]|\\.|"(?!""))*"""'
    r"|'''.*?'''"
    r'|"(?:[^"\\\n]|\\.)*"'
    r"|'[^'\n]*'"
    r"|#[^\n]*"
    r"|[\[{]|[\]}]|\.|[=,\n]",
    re.DOTALL,
)


def nesting_problem(text: str) -> str | None:
    """Why raw TOML is too deep to parse: arrays or tables nested more than ``MAX_NESTING``
    levels, or a dotted key of more parts; None when it is not. Reads strings and comments
    as TOML does, so a bracket inside either does not count."""
    if sum(text.count(c) for c in "[{.") <= MAX_NESTING:
        return None
    depth = dots = 0
    for token in _TOKENS.finditer(text):
        kind = token.group()
        if kind in _OPENING:
            depth += 1
            if depth > MAX_NESTING:
                where = _line(text, token.start())
                return f"line {where}: arrays or tables nested more than {MAX_NESTING} levels"
        elif kind in _CLOSING:
            depth = max(0, depth - 1)
        elif kind == ".":
            dots += 1
            if dots >= MAX_NESTING:
                where = _line(text, token.start())
                return f"line {where}: a dotted key of more than {MAX_NESTING} parts"
        elif kind in _KEY_ENDS:
            dots = 0
    return None


_OPENING = frozenset("[{")
_CLOSING = frozenset("]}")
_KEY_ENDS = frozenset("=,\n")


def _line(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def _deepest_key(data: dict[str, object]) -> list[int | str] | None:
    """The key path of a value nested more than ``MAX_NESTING`` levels deep, if any; without
    recursion, so the check itself cannot overflow the stack."""
    stack: list[tuple[object, list[int | str]]] = [(data, [])]
    while stack:
        value, where = stack.pop()
        if len(where) > MAX_NESTING:
            return where
        if isinstance(value, dict):
            stack.extend((inner, [*where, key]) for key, inner in value.items())
        elif isinstance(value, list):
            stack.extend((inner, [*where, n]) for n, inner in enumerate(value))
    return None


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
