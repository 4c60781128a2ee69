"""Reading an API request's JSON body: an object whose fields are taken one by one, each
checked, and none left over, so that a misspelt field is an error rather than ignored."""

from __future__ import annotations

import json
import re
from typing import Any

from aiohttp import web

from mailwatch.web.api_errors import ApiError

MAX_TEXT = 2000
"""A note or a reason: a few lines."""
MAX_NAME = 200
"""A person's or a check's name."""
TEXT = re.compile(r"^[^\u0000-\u0008\u000b-\u001f\u007f-\u009f]*$")
"""A note or a reason: no control characters but line feeds and tabs."""
NAME = re.compile(r"^[^\u0000-\u001f\u007f-\u009f]*$")
"""A name: no control characters at all."""
NOT_BLANK = re.compile(r"\S")

# The same patterns and limits are in openapi.json; both are read as Python's re reads them,
# with search(), as JSON Schema's "pattern" is (unanchored) and as the tests' schemathesis does.


class Body:
    """The fields of one request's JSON object."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.values = values
        self.taken: set[str] = set()

    @classmethod
    async def read(cls, request: web.Request, *, required: bool) -> Body:
        """The body as an object; an empty body is ``{}`` unless one is ``required``."""
        raw = await request.read()
        if not raw.strip():
            if required:
                raise ApiError(400, "this request needs a JSON object as its body")
            return cls({})
        try:
            values = json.loads(raw)
        except (UnicodeDecodeError, ValueError) as exc:
            raise ApiError(400, f"the body is not JSON: {exc}") from None
        if not isinstance(values, dict):
            raise ApiError(400, "the body must be a JSON object")
        return cls(values)

    def text(self, key: str, *, required: bool = False, one_line: bool = False) -> str | None:
        """A string field, stripped (None when missing or blank); a required one must hold
        more than white space."""
        self.taken.add(key)
        value = self.values.get(key)
        if value is None and not required:
            return None
        if value is None:
            raise ApiError(400, f"{key} is required")
        if not isinstance(value, str):
            raise ApiError(400, f"{key} must be a string")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate ("\\ud800" in JSON)
            raise ApiError(400, f"{key} is not valid Unicode") from None
        limit = MAX_NAME if one_line else MAX_TEXT
        if len(value) > limit:
            raise ApiError(400, f"{key} is longer than {limit} characters")
        if not (NAME if one_line else TEXT).search(value):
            raise ApiError(400, f"{key} holds control characters")
        if required and not NOT_BLANK.search(value):
            raise ApiError(400, f"{key} must not be blank")
        return value.strip() or None

    def whole_number(self, key: str, low: int, high: int, what: str) -> int:
        """A required whole number from ``low`` to ``high``; ``what`` says what it counts."""
        self.taken.add(key)
        value = self.values.get(key)
        # JSON has numbers, not integers: 7200.0 is the whole number JSON Schema says it is.
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ApiError(400, f"{key} is required: a whole number of {what}")
        if not low <= value <= high:
            raise ApiError(400, f"{key} must be from {low} to {high}")
        return value

    def name(self, key: str) -> str:
        """A required one-line name (a check)."""
        value = self.text(key, required=True, one_line=True)
        assert value is not None  # required: missing or blank raised
        return value

    def optional_name(self, key: str) -> str | None:
        """A one-line name (a person), or None when it is not given."""
        return self.text(key, one_line=True)

    def done(self) -> None:
        """Refuse fields nobody asked for."""
        unknown = sorted(set(self.values) - self.taken)
        if unknown:
            raise ApiError(400, f"unknown field(s): {', '.join(unknown)}")
