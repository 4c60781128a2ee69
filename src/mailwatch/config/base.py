"""Building blocks shared by every config section: strict models and secret references.

A secret field accepts a literal, ``env:NAME``, ``file:/path`` (first line) or
``credential:NAME`` (systemd ``LoadCredential=``); it is resolved once, at load time.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, SecretStr


class StrictModel(BaseModel):
    """A config section: unknown keys are errors, values are immutable once loaded."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def resolve_secret(value: object) -> object:
    """Turn a secret reference into its value; errors never echo the secret itself."""
    if isinstance(value, SecretStr):
        return value
    if not isinstance(value, str):
        raise ValueError("must be a string")
    scheme, sep, rest = value.partition(":")
    if not sep or scheme not in {"env", "file", "credential"}:
        return value
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


Secret = Annotated[SecretStr, BeforeValidator(resolve_secret)]
"""A password or token: masked in repr and logs; read it with ``.get_secret_value()``."""
