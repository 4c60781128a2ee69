"""Default ticket severity of a failed result, from its check kind, stage and state.

Severity 1 is the most urgent. The table follows the issue's rules: mail not flowing
(canary not delivered, SMTP or IMAP down, no MX reachable, a blocklisting) is 1; mail slowed
or misfiled (latency over critical, delivered to spam, queue or resources over critical) is 2;
anything else that is only a warning (a certificate expiring, one MX of several down) is 3.
A check's own ``severity`` key overrides the table.
"""

from __future__ import annotations

from dataclasses import dataclass

from mailwatch.domain.results import State

ANY = "*"


@dataclass(frozen=True, slots=True)
class SeverityRule:
    """One row: ``kind``, ``stage`` and ``state`` match exactly or with ``ANY``."""

    kind: str
    stages: tuple[str, ...]
    states: tuple[State, ...]
    severity: int
    why: str

    def matches(self, kind: str, stage: str | None, state: State) -> bool:
        return (
            self.kind in (ANY, kind)
            and (ANY in self.stages or (stage or "") in self.stages)
            and state in self.states
        )


_CRIT = (State.CRITICAL,)
_FAILING = (State.WARNING, State.CRITICAL, State.UNKNOWN)

SEVERITY_TABLE: tuple[SeverityRule, ...] = (
    SeverityRule("roundtrip", ("not_delivered",), _CRIT, 1, "canary not delivered"),
    SeverityRule(
        "roundtrip",
        ("smtp_connect", "smtp_tls", "smtp_auth", "smtp_rejected"),
        _CRIT,
        1,
        "SMTP down: nobody can send",
    ),
    SeverityRule(
        "roundtrip",
        ("imap_connect", "imap_tls", "imap_auth", "imap_protocol"),
        _CRIT,
        1,
        "IMAP down: nobody can read mail",
    ),
    SeverityRule("roundtrip", ("slow",), _CRIT, 2, "latency over critical"),
    SeverityRule("roundtrip", ("delivered_to_spam",), _FAILING, 2, "canary delivered to spam"),
    SeverityRule("mx", ("mx_connect",), _CRIT, 1, "no MX host reachable"),
    SeverityRule(
        "mx", ("mx_missing", "null_mx", "mx_address"), _CRIT, 1, "no MX host can receive mail"
    ),
    SeverityRule("dnsbl", ("dnsbl_listed",), _CRIT, 1, "domain or IP blocklisted"),
    SeverityRule("queue", (ANY,), _CRIT, 2, "mail queue over critical"),
    SeverityRule("resources", (ANY,), _CRIT, 2, "host resources over critical"),
    SeverityRule(ANY, (ANY,), _CRIT, 2, "other critical failures"),
    SeverityRule(ANY, (ANY,), _FAILING, 3, "warnings, unknowns, certificates expiring"),
)
"""First matching row wins; the last rows catch everything."""

OK_SEVERITY = 4
"""An ok result never opens a ticket; 4 keeps comparisons simple where one is needed."""


def default_severity(kind: str, stage: str | None, state: State) -> int:
    """The table's severity for a result; 4 for ok."""
    for rule in SEVERITY_TABLE:
        if rule.matches(kind, stage, state):
            return rule.severity
    return OK_SEVERITY


def result_severity(kind: str, stage: str | None, state: State, configured: int | None) -> int:
    """The check's configured severity when set, else the table's."""
    if configured is not None:
        return configured
    return default_severity(kind, stage, state)
