"""Notice templates: the ``$name`` placeholders an operator's title or body may use, and the
check that a template uses only those (``[alerts.templates.KIND]``, checked at config load).

``mailwatch.alerts.messages`` fills in exactly these placeholders when it renders a notice.
"""

from __future__ import annotations

import string
from collections.abc import Mapping

PLACEHOLDERS: Mapping[str, str] = {
    "ticket": "ticket number, e.g. MW-000123",
    "severity": "severity number, 1 (most urgent) to 4",
    "sev": "severity label, e.g. SEV1",
    "check": "check name",
    "target": "what the check looks at (the check name for checks without a host)",
    "kind": "opened, escalation, reminder, breach, recovery or test",
    "notice": "the kind in words, e.g. 'escalation step 2' or 'response deadline breached'",
    "step": "escalation step number (empty for other kinds)",
    "breach": "which deadline was breached: response or resolution (empty for other kinds)",
    "stage": "what broke, e.g. not_delivered ('failing' when the check names no stage)",
    "summary": "the latest failure summary, one line a person can act on",
    "since": "when the failure started, in the alert time zone ('unknown' if not known)",
    "duration": "how long it has been failing (for recovery: how long the outage lasted)",
    "figure": "the key figure, e.g. 'latency 93.2 s' (empty when there is none)",
    "response_due": "response deadline ('no target' when the plan sets none)",
    "response_left": "time left to the response deadline, e.g. '43 min left' or 'overdue by 5 min'",
    "resolution_due": "resolution deadline ('no target' when the plan sets none)",
    "resolution_left": "time left to the resolution deadline",
    "acknowledged_by": "who acknowledged the ticket (empty while unacknowledged)",
    "ack": "the command that acknowledges the ticket: mailwatch ack MW-000123",
    "ack_link": "a signed link that acknowledges the ticket from a browser (opened and escalation "
    "notices with [web] public_url; empty otherwise)",
    "runbook": "the check's runbook link or text (empty when it has none)",
    "tags": "the check's tags, comma-separated",
    "now": "when the message was rendered, in the alert time zone",
}
"""Every ``$name`` a template may use, with what it holds."""


def check_template(text: str) -> None:
    """A ``ValueError`` naming the problem if ``text`` is not a usable template."""
    template = string.Template(text)
    if not template.is_valid():
        bad = _first_invalid_placeholder(text)
        raise ValueError(
            f"invalid placeholder {bad!r}: write $name or ${{name}}, and $$ for a literal $"
        )
    unknown = sorted(set(template.get_identifiers()) - PLACEHOLDERS.keys())
    if unknown:
        names = ", ".join(f"${name}" for name in unknown)
        known = ", ".join(f"${name}" for name in PLACEHOLDERS)
        raise ValueError(f"unknown placeholder {names}; known placeholders: {known}")


def _first_invalid_placeholder(text: str) -> str:
    pattern = string.Template.pattern
    for match in pattern.finditer(text):
        if match.group("invalid") is not None:
            start = match.start()
            return text[start : start + 12].split("\n", 1)[0] or "$"
    return "$"  # pragma: no cover - is_valid() said there is one
