"""Secret references (``env:NAME``, ``file:/path``, ``credential:NAME``) and when they are read.

``run`` resolves every secret at load time (``SecretMode.RESOLVE``); the other commands load
the config with ``SecretMode.LAZY``, which keeps each reference unread until something asks
for its value, so a ticket command runs without the unit's environment or credentials.
"""

from __future__ import annotations

import enum
import os
from collections.abc import Iterator
from pathlib import Path

from pydantic import BaseModel, SecretStr, ValidationInfo

from mailwatch.domain.errors import SecretUnavailableError

SECRETS_CONTEXT = "mailwatch.secrets"
"""The validation context key that carries the ``SecretMode`` (absent: ``RESOLVE``)."""

SCHEMES = ("env", "file", "credential")


class SecretMode(enum.StrEnum):
    RESOLVE = "resolve"
    """Read every reference while validating; one that cannot be read is a config error."""
    LAZY = "lazy"
    """Keep every reference as a ``SecretReference``, read the first time its value is asked."""


class SecretReference(SecretStr):
    """A secret not read yet: ``get_secret_value()`` reads it (once) or raises
    ``SecretUnavailableError`` saying why. Masked like any ``SecretStr``."""

    def __init__(self, reference: str) -> None:
        super().__init__(reference)
        self._value: str | None = None

    def __eq__(self, other: object) -> bool:
        # By reference, without reading: comparing configs must not need their secrets.
        return isinstance(other, SecretReference) and other._secret_value == self._secret_value

    def __hash__(self) -> int:
        return hash(self._secret_value)

    def get_secret_value(self) -> str:
        if self._value is None:
            try:
                self._value = read_reference(self._secret_value)
            except ValueError as exc:
                raise SecretUnavailableError(str(exc)) from None
        return self._value


def is_reference(value: str) -> bool:
    scheme, sep, _ = value.partition(":")
    return bool(sep) and scheme in SCHEMES


def read_reference(value: str) -> str:
    """The value a reference names; ``ValueError`` naming the variable, file or credential
    (never a value) when it cannot be read here."""
    scheme, _, rest = value.partition(":")
    if scheme == "env":
        if rest not in os.environ:
            raise ValueError(f"environment variable {rest} is not set")
        return os.environ[rest]
    if scheme == "credential":
        directory = os.environ.get("CREDENTIALS_DIRECTORY")
        if not directory:
            raise ValueError(
                f"credential {rest} requested but CREDENTIALS_DIRECTORY is not set "
                "(use LoadCredential= in the systemd unit)"
            )
        path = Path(directory) / rest
    else:
        path = Path(rest)
    try:
        with path.open(encoding="utf-8") as handle:
            first_line = handle.readline()
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror}") from None
    return first_line.rstrip("\r\n")


def resolve_secret(value: object, info: ValidationInfo) -> object:
    """A secret field's value: the literal, the value a reference names (``RESOLVE``), or the
    unread reference (``LAZY``); errors never echo the secret itself."""
    if isinstance(value, SecretStr):
        return value
    if not isinstance(value, str):
        raise ValueError("must be a string")
    if not is_reference(value):
        return value
    context = info.context if isinstance(info.context, dict) else {}
    if context.get(SECRETS_CONTEXT) == SecretMode.LAZY:
        return SecretReference(value)
    return read_reference(value)


def secret_references(
    value: object, where: tuple[int | str, ...] = ()
) -> Iterator[tuple[tuple[int | str, ...], SecretReference]]:
    """Every unread reference in a loaded config (or a part of it), with its key path as
    written in the file (``("routes", "team", "urls", 1)``), in file order."""
    if isinstance(value, SecretReference):
        yield where, value
    elif isinstance(value, BaseModel):
        for name, field in type(value).model_fields.items():
            yield from secret_references(getattr(value, name), (*where, field.alias or name))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from secret_references(item, (*where, index))
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from secret_references(item, (*where, str(key)))
