"""Building blocks shared by every config section: strict models and secret references.

A secret field accepts a literal, ``env:NAME``, ``file:/path`` (first line) or
``credential:NAME`` (systemd ``LoadCredential=``); when it is read is ``config.secrets``.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, SecretStr

from mailwatch.config.secrets import resolve_secret


class StrictModel(BaseModel):
    """A config section: unknown keys are errors, values are immutable once loaded."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


Secret = Annotated[SecretStr, BeforeValidator(resolve_secret)]
"""A password or token: masked in repr and logs; read it with ``.get_secret_value()``."""
