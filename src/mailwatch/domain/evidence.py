"""What was known when a ticket opened, kept for its root-cause pack after the results that
showed it are pruned: the records, and how one is bounded in size and kept free of secrets.
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from mailwatch.domain.results import CheckResult

MAX_RECORD_CHARS = 6000
"""The most one record's JSON may hold; a bigger one keeps its summary and figures only."""
MAX_TEXT_CHARS = 600
"""Longer strings (a server's reply, a summary) are cut here, with an ellipsis."""
MAX_ITEMS = 12
"""Lists (Received hops, late canaries) keep their first this many items."""
MAX_DEPTH = 6
"""Nesting kept as structure; deeper values become a JSON string. A late canary's Received
hops are ``details.late[i].hops[j]`` (a hop's mapping at depth 5), which the ticket page lists."""
MAX_RELATED = 12
"""At most this many related checks are recorded per ticket."""
REMOVED = "[removed]"
MASK = "****"

_SECRET_KEY = re.compile(
    r"(?i)pass(word|wd|phrase)?|secret|token|authori[sz]ation|cookie|session|api_?key|"
    r"credential|private"
)
# The scheme's length is bounded so a long string costs linear time (an unbounded one made a
# 100,000-character detail take seconds).
_URL_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]{0,30}://[^\s:/@]*:)[^\s@/]+@")
_QUEUE_ID = re.compile(r"queued as (?P<id>[A-Za-z0-9]+)")


class EvidenceKind(enum.StrEnum):
    """``opening``: the result that opened the ticket; ``first_failure``: the first failing
    result of the streak that did; ``related``: the latest result of a related check;
    ``queue``: the same, of a queue check (its figures are the queue snapshot)."""

    OPENING = "opening"
    FIRST_FAILURE = "first_failure"
    RELATED = "related"
    QUEUE = "queue"


@dataclass(frozen=True, slots=True)
class Evidence:
    """One record about ticket ``ticket``, of ``check``, made at ``recorded_at``."""

    ticket: int
    recorded_at: datetime
    kind: EvidenceKind
    check: str
    data: Mapping[str, Any]


def result_evidence(
    result: CheckResult,
    secrets: Iterable[str] = (),
    relation: str | None = None,
) -> dict[str, Any]:
    """A result as evidence: what it said, its figures and its details, with the server's
    reply and the canary's queue id lifted out where the result has them, every string
    stripped of ``secrets`` (and of URL passwords), and the whole cut to ``MAX_RECORD_CHARS``.
    ``relation`` says how a related check relates to the ticket's."""
    hidden = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)
    details = dict(result.details)
    data: dict[str, Any] = {
        "state": result.state.label,
        "stage": result.stage,
        "summary": result.summary,
        "started_at": result.started_at.isoformat(),
        "finished_at": result.finished_at.isoformat(),
        "target": result.target,
        "kind": result.kind,
        "figures": {key: value for key, value in result.metrics.items()},
    }
    if relation is not None:
        data["relation"] = relation
    reply = details.get("smtp_reply") or details.get("server_reply")
    if isinstance(reply, str) and reply:
        data["server_reply"] = reply
        if (queue_id := queue_id_of(reply)) is not None:
            data["queue_id"] = queue_id
    if isinstance(details.get("canary"), str):
        data["canary"] = details["canary"]
    data["details"] = details
    clean = _bounded(data, hidden, 0)
    assert isinstance(clean, dict)
    if len(json.dumps(clean)) > MAX_RECORD_CHARS:
        clean["details"] = {"omitted": "larger than the evidence record may hold"}
    if len(json.dumps(clean)) > MAX_RECORD_CHARS:
        clean["figures"] = {}
    return clean


def queue_id_of(reply: str | None) -> str | None:
    """The queue id in an SMTP reply such as Postfix's ``250 2.0.0 Ok: queued as 4Xy…``."""
    found = _QUEUE_ID.search(reply) if reply else None
    return found["id"] if found is not None else None


def _bounded(value: Any, secrets: list[str], depth: int) -> Any:
    if isinstance(value, str):
        return _text(value, secrets)
    if isinstance(value, bool | int | float) or value is None:
        return value
    if depth >= MAX_DEPTH:
        return _text(json.dumps(value, default=str), secrets)
    if isinstance(value, Mapping):
        return {
            str(key): REMOVED if _SECRET_KEY.search(str(key)) else _bounded(v, secrets, depth + 1)
            for key, v in list(value.items())[: MAX_ITEMS * 4]
        }
    if isinstance(value, list | tuple):
        kept = [_bounded(v, secrets, depth + 1) for v in list(value)[:MAX_ITEMS]]
        if len(value) > MAX_ITEMS:
            kept.append(f"… {len(value) - MAX_ITEMS} more")
        return kept
    return _text(str(value), secrets)


def _text(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, MASK)
    text = _URL_PASSWORD.sub(lambda m: f"{m['head']}{MASK}@", text)
    return text if len(text) <= MAX_TEXT_CHARS else text[: MAX_TEXT_CHARS - 1] + "…"
