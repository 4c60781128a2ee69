"""The idempotency key a generic webhook carries, so its receiver can drop a repeated notice.

A notice whose attempt was cut off is sent again (docs/reliability.md): the receiver may get
it twice. apprise's generic webhooks (``json://``, ``form://``, ``xml://`` and their TLS forms
``jsons://``, ``forms://``, ``xmls://``) take extra headers as ``+Name=value`` and extra body
fields as ``:name=value`` URL arguments; through them each attempt carries the outbox row's id
as the ``Idempotency-Key`` header and the ``idempotency_key`` field, the same on every attempt
at that row. Other services have no place for it and are sent the message as it is.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import quote

from mailwatch.store.outbox import OutboxEntry

HEADER = "Idempotency-Key"
FIELD = "idempotency_key"
SCHEMES = frozenset({"json", "jsons", "form", "forms", "xml", "xmls"})
"""apprise's generic webhook schemes: the ones that take ``+header`` and ``:field`` arguments."""


def idempotency_key(entries: Sequence[OutboxEntry]) -> str:
    """The key of one message: its (first) outbox row's id. Grouped rows go out as one
    message, under the id of the row that leads the group."""
    return str(entries[0].id)


def carries_key(url: str) -> bool:
    """Whether apprise sends ``url`` through a generic webhook that can carry the key."""
    scheme, sep, _ = url.partition("://")
    return bool(sep) and scheme.lower() in SCHEMES


def with_idempotency_key(url: str, key: str) -> str:
    """``url`` with the key as header and body field, when it is a generic webhook; any other
    URL as it is. Ours come last, so they win over the same names set in the URL."""
    if not carries_key(url):
        return url
    value = quote(key, safe="")
    joiner = "&" if "?" in url else "?"
    header = quote(f"+{HEADER}", safe="")
    field = quote(f":{FIELD}", safe="")
    return f"{url}{joiner}{header}={value}&{field}={value}"
