"""Grouping: tickets that open close together and share a root cause (``depends_on``) go out
as one message per route."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from mailwatch.alerts.messages import RenderedMessage

if TYPE_CHECKING:
    from mailwatch.config.model import MailwatchConfig


def dependency_root(config: MailwatchConfig, check: str) -> str | None:
    """The check at the top of ``check``'s ``depends_on`` chain (first parents first), or None
    for a check that neither depends on another nor has dependents: nothing to group with."""
    parents = {c.name: list(c.depends_on) for c in config.checks}
    has_dependents = any(check in deps for deps in parents.values())
    if not parents.get(check) and not has_dependents:
        return None
    current, seen = check, {check}
    while parents.get(current):
        following = parents[current][0]
        if following in seen:  # a cycle in depends_on: stop where it closes
            break
        seen.add(following)
        current = following
    return current


SEPARATOR = {"text": "\n\n----------\n\n", "markdown": "\n\n---\n\n", "html": "\n<hr>\n"}


def combine(messages: Sequence[RenderedMessage]) -> RenderedMessage:
    """One message for several tickets: the first title with a count, every body in turn."""
    first = messages[0]
    if len(messages) == 1:
        return first
    others = len(messages) - 1
    title = f"{first.title} (+{others} related ticket{'s' if others > 1 else ''})"
    body = SEPARATOR[first.body_format].join(m.body for m in messages)
    return RenderedMessage(title, body, first.body_format, first.level)
