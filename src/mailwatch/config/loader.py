"""Reading ``mailwatch.toml``: where it is, and turning every problem into one readable line."""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Sequence
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, Discriminator, Tag, ValidationError

from mailwatch.config.model import MailwatchConfig
from mailwatch.config.secrets import SECRETS_CONTEXT, SecretMode, secret_references
from mailwatch.domain.errors import ConfigError, SecretUnavailableError

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


def load_config(path: Path, secrets: SecretMode = SecretMode.RESOLVE) -> MailwatchConfig:
    """The validated config at ``path``; ``ConfigError`` (and nothing else) with one printable
    line per problem for any file, whatever its size, bytes or nesting.

    ``secrets``: read every secret now, a missing one being a problem (``RESOLVE``, what the
    daemon needs), or leave references unread until used (``LAZY``, see ``secret_problems``).
    """
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
        return MailwatchConfig.model_validate(data, context={SECRETS_CONTEXT: secrets})
    except ValidationError as exc:
        problems = format_validation_error(exc)
        raise ConfigError(path, [one_line(p) for p in problems]) from None


def secret_problems(part: object, where: Sequence[int | str] = ()) -> list[str]:
    """Read every secret reference left unread in a config loaded with ``SecretMode.LAZY``
    (or in ``part`` of it, found at key path ``where``): one line per reference that cannot
    be read here, naming its key and the variable, file or credential, never a value."""
    problems = []
    for key, reference in secret_references(part, tuple(where)):
        try:
            reference.get_secret_value()
        except SecretUnavailableError as exc:
            problems.append(one_line(f"{dotted(key)}: {exc}"))
    return problems


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
    """``checks.roundtrip[0].smtp.port: must be at most 65535``, the key as written in the
    file; never the offending value, which may be a secret."""
    lines = []
    for error in exc.errors(include_input=False, include_url=False):
        loc = as_written(error["loc"])
        lines.append(f"{dotted(loc)}: {_message(error['type'], error['msg'])}")
    return lines


def as_written(loc: Sequence[int | str]) -> list[int | str]:
    """``loc`` as the key is written in the file: pydantic puts the tag of a discriminated
    union into the path (``checks.service[0].smtp.port``, ``smtp`` being the ``protocol``
    that picked the model), which names no key; it is dropped (``checks.service[0].port``)."""
    tags = _tag_positions(loc)
    return [part for n, part in enumerate(loc) if n not in tags]


def _tag_positions(loc: Sequence[int | str]) -> set[int]:
    """Where ``loc`` holds a union tag, found by following it through the config's types."""
    tags = set()
    current: Any = MailwatchConfig
    for n, part in enumerate(loc):
        current = _without_none(current)
        members = _tagged_members(current)
        if members is not None:
            if part not in members:
                break
            tags.add(n)
            current = members[part]
        elif isinstance(current, type) and issubclass(current, BaseModel):
            field = next(
                (f for name, f in current.model_fields.items() if part in (name, f.alias)), None
            )
            if field is None:
                break
            current = field.annotation
        elif get_origin(current) in (list, tuple) and isinstance(part, int):
            current = get_args(current)[0]
        elif get_origin(current) is dict and part != "[key]":
            current = get_args(current)[1]
        else:
            break
    return tags


def _without_none(annotation: Any) -> Any:
    """``X`` for ``X | None``; anything else as it is."""
    if get_origin(annotation) in (Union, UnionType):
        rest = [arg for arg in get_args(annotation) if arg is not type(None)]
        if len(rest) == 1:
            return rest[0]
    return annotation


def _tagged_members(annotation: Any) -> dict[str, Any] | None:
    """``{tag: model}`` of a discriminated union (``Annotated[A | B, Discriminator(...)]``
    whose members carry ``Tag``s), else None."""
    if get_origin(annotation) is not Annotated:
        return None
    union, *metadata = get_args(annotation)
    if not any(isinstance(item, Discriminator) for item in metadata):
        return None
    members = {}
    for member in get_args(union):
        if get_origin(member) is Annotated:
            model, *marks = get_args(member)
            for mark in marks:
                if isinstance(mark, Tag):
                    members[mark.tag] = model
    return members


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
