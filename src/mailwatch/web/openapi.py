"""The API's OpenAPI document, shipped beside this module as ``openapi.json`` and served at
``/api/v1/openapi.json`` with the names a silence may take filled in from the config."""

from __future__ import annotations

import copy
import json
from collections.abc import Sequence
from functools import cache
from importlib.resources import files
from typing import Any


@cache
def shipped_document() -> dict[str, Any]:
    """The document as shipped, read from the package once (do not change it: copy)."""
    text = files("mailwatch.web").joinpath("openapi.json").read_text(encoding="utf-8")
    document: dict[str, Any] = json.loads(text)
    return document


def openapi_document(silenceable: Sequence[str]) -> dict[str, Any]:
    """The document to serve: a silence may name ``all`` or one of ``silenceable``."""
    document = copy.deepcopy(shipped_document())
    check = document["components"]["schemas"]["SilenceRequest"]["properties"]["check"]
    check["enum"] = ["all", *silenceable]
    return document
