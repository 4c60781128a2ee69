"""Default ticket severity of a failed result, from its check kind, stage and state.

Severity 1 is the most urgent. A kind's own rows (its declaration's ``severity``) are tried
first: mail not flowing (canary not delivered, SMTP or IMAP down, no MX reachable, a
blocklisting) is 1; mail slowed or misfiled (latency over critical, delivered to spam, queue
or resources over critical) is 2. Then the generic rows below: any other critical failure is
2, anything else that is only a warning (a certificate expiring, one MX of several down) is 3.
A check's own ``severity`` key overrides all of it.
"""

from __future__ import annotations

from mailwatch.config.checks.registry import kind_named
from mailwatch.domain.kinds import ANY, CRITICAL_ONLY, FAILING, SeverityRule
from mailwatch.domain.results import State

GENERIC_RULES: tuple[SeverityRule, ...] = (
    SeverityRule((ANY,), CRITICAL_ONLY, 2, "other critical failures"),
    SeverityRule((ANY,), FAILING, 3, "warnings, unknowns, certificates expiring"),
)
"""Tried after the kind's own rows; together they catch every failure."""

OK_SEVERITY = 4
"""An ok result never opens a ticket; 4 keeps comparisons simple where one is needed."""


def severity_rules(kind: str) -> tuple[SeverityRule, ...]:
    """The rows for a result of ``kind``, in the order they are tried (first match wins)."""
    try:
        own = kind_named(kind).severity
    except KeyError:
        own = ()
    return (*own, *GENERIC_RULES)


def default_severity(kind: str, stage: str | None, state: State) -> int:
    """The table's severity for a result; 4 for ok."""
    for rule in severity_rules(kind):
        if rule.matches(stage, state):
            return rule.severity
    return OK_SEVERITY


def result_severity(kind: str, stage: str | None, state: State, configured: int | None) -> int:
    """The check's configured severity when set, else the table's."""
    if configured is not None:
        return configured
    return default_severity(kind, stage, state)
