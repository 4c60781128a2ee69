"""A check's configuration as its page shows it: every key with its value, secrets masked.

A secret (a ``SecretStr``: passwords, tokens, client secrets) is shown as ``****``
whatever it holds; any other text goes through the alerts' masking too
(``alerts.masking.mask_text``), so a URL with a password in it shows none.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping, Sequence

from pydantic import BaseModel, SecretStr

from mailwatch.alerts.masking import MASK, mask_text

Setting = tuple[str, str]
"""A dotted key (``imap.password``) and its value as TOML would write it."""


def masked_settings(model: BaseModel) -> list[Setting]:
    """Every field of ``model``, nested ones flattened to dotted keys, in declaration order;
    unset optional fields (None) are left out."""
    found: list[Setting] = []
    for name in type(model).model_fields:
        _flatten(name, getattr(model, name), found)
    return found


def _flatten(key: str, value: object, found: list[Setting]) -> None:
    if value is None:
        return
    if isinstance(value, BaseModel):
        for name in type(value).model_fields:
            _flatten(f"{key}.{name}", getattr(value, name), found)
    elif isinstance(value, Mapping):
        for name, item in value.items():
            _flatten(f"{key}.{name}", item, found)
    elif isinstance(value, Sequence) and not isinstance(value, str | bytes):
        if all(_is_scalar(item) for item in value):
            found.append((key, "[" + ", ".join(_scalar(item) for item in value) + "]"))
        else:
            for i, item in enumerate(value):
                _flatten(f"{key}[{i}]", item, found)
    else:
        found.append((key, _scalar(value)))


def _is_scalar(value: object) -> bool:
    return not isinstance(value, BaseModel | Mapping) and (
        isinstance(value, str | bytes) or not isinstance(value, Sequence)
    )


def _scalar(value: object) -> str:
    if isinstance(value, SecretStr):
        return MASK
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return f"{value:g}" if isinstance(value, float) else str(value)
    if isinstance(value, enum.Enum):
        return _scalar(value.value)
    return json.dumps(mask_text(str(value)), ensure_ascii=False)
