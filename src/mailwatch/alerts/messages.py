"""What an alert says: a title and a body rendered from a ticket's facts, in text, Markdown or HTML.

Pure: no clock, no I/O. Operators may replace any title or body with a ``string.Template``
(``$name`` placeholders only, so a ticket summary can never inject format directives).
"""

from __future__ import annotations

import html
import re
import string
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Literal, Protocol

from mailwatch.config.checks.registry import KINDS, kind_named
from mailwatch.domain.kinds import KeyFigure
from mailwatch.domain.notices import NoticeKind
from mailwatch.domain.time import local, span

BodyFormat = Literal["text", "markdown", "html"]
"""apprise's ``body_format``: how the body is written; apprise converts it for each service."""

NoticeLevel = Literal["info", "success", "warning", "failure"]
"""apprise's ``notify_type``: services that show a colour or an icon use it."""

DEFAULT_TITLES: Mapping[NoticeKind, str] = {
    NoticeKind.OPENED: "[$ticket] $sev $check: $stage",
    NoticeKind.ESCALATION: "[$ticket] $sev $check: $stage (escalation step $step)",
    NoticeKind.REMINDER: "[$ticket] $sev $check: $stage (reminder)",
    NoticeKind.BREACH: "[$ticket] $sev $check: $breach deadline breached",
    NoticeKind.RECOVERY: "[$ticket] $sev $check: recovered",
    NoticeKind.TEST: "[$ticket] mailwatch test notice for route $target",
    # Not rendered from a ticket: mailwatch.alerts.announcements writes these messages.
    NoticeKind.MAINTENANCE: "mailwatch maintenance window $target",
}

NOTICE_LEVELS: Mapping[NoticeKind, NoticeLevel] = {
    NoticeKind.OPENED: "failure",
    NoticeKind.ESCALATION: "failure",
    NoticeKind.REMINDER: "warning",
    NoticeKind.BREACH: "failure",
    NoticeKind.RECOVERY: "success",
    NoticeKind.TEST: "info",
    NoticeKind.MAINTENANCE: "info",
}


class TemplatePair(Protocol):
    """A title and a body template for one kind of notice; None keeps the default."""

    @property
    def title(self) -> str | None: ...

    @property
    def body(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class NoticeFacts:
    """Everything a message may say about a ticket, already looked up.

    ``ticket`` is the formatted number (``MW-000123``); instants are aware. ``step`` is the
    escalation step (escalation notices), ``breach`` the deadline that passed (``response`` or
    ``resolution``; breach notices). ``tags`` are the check's tags, which routes filter on.
    """

    ticket: str
    severity: int
    check: str
    target: str
    kind: NoticeKind
    stage: str | None = None
    summary: str = ""
    since: datetime | None = None
    key_figure: str | None = None
    response_due: datetime | None = None
    resolution_due: datetime | None = None
    acknowledged_by: str | None = None
    step: int | None = None
    breach: str | None = None
    runbook: str | None = None
    tags: tuple[str, ...] = ()
    ack_link: str | None = None
    """A signed link that acknowledges the ticket on behalf of the notice's route (opened and
    escalation notices with ``[web] public_url``; ``alerts.facts.ack_link``)."""

    @property
    def ack_command(self) -> str:
        return f"mailwatch ack {self.ticket}"


@dataclass(frozen=True, slots=True)
class RenderedMessage:
    title: str
    body: str
    body_format: BodyFormat
    level: NoticeLevel


def key_figure(metrics: Mapping[str, float], kind: str | None = None) -> str | None:
    """The one number worth putting in an alert, e.g. ``latency 93.2 s``: the first of the
    kind's key figures (``CheckKind.figures``) that ``metrics`` has, else the metric first by
    name. Without a known kind, the figures of every kind are tried, in registry order."""
    figures = _figures(kind)
    hidden = {figure.metric for figure in figures if figure.hides(metrics)}
    shown = {name: value for name, value in metrics.items() if name not in hidden}
    for figure in figures:
        if figure.metric in shown:
            unit = f" {figure.unit}" if figure.unit else ""
            return f"{figure.label} {_number(shown[figure.metric])}{unit}"
    if shown:
        name = min(shown)
        return f"{name} {_number(shown[name])}"
    return None


def _figures(kind: str | None) -> tuple[KeyFigure, ...]:
    if kind is not None:
        try:
            return kind_named(kind).figures
        except KeyError:
            pass
    every: dict[str, KeyFigure] = {}
    for known in KINDS:
        for figure in known.figures:
            every.setdefault(figure.metric, figure)
    return tuple(every.values())


def _number(value: float) -> str:
    return f"{value:.1f}" if isinstance(value, float) and not value.is_integer() else f"{value:g}"


def render(
    facts: NoticeFacts,
    *,
    now: datetime,
    body_format: BodyFormat = "text",
    templates: Mapping[NoticeKind, TemplatePair] | None = None,
    zone: tzinfo | None = UTC,
) -> RenderedMessage:
    """Title and body for ``facts`` at ``now``; times are shown in ``zone`` (None: this host's
    local zone, as ``mailwatch show`` does without ``[incidents] timezone``).

    A template from ``templates`` replaces the default title or body of its kind. In an
    HTML or Markdown body, the values put into a template are escaped; the template's own
    markup is kept as written.
    """
    values = placeholder_values(facts, now, zone)
    override = (templates or {}).get(facts.kind)
    title_template = (override.title if override is not None else None) or DEFAULT_TITLES[
        facts.kind
    ]
    title = " ".join(string.Template(title_template).safe_substitute(values).split())
    body_template = override.body if override is not None else None
    if body_template is not None:
        escaped = {name: _escape(value, body_format) for name, value in values.items()}
        body = string.Template(body_template).safe_substitute(escaped)
    else:
        body = _default_body(facts, values, body_format)
    return RenderedMessage(title, body, body_format, NOTICE_LEVELS[facts.kind])


def placeholder_values(
    facts: NoticeFacts, now: datetime, zone: tzinfo | None = UTC
) -> dict[str, str]:
    """The value of every placeholder for ``facts`` at ``now`` (plain text, unescaped)."""
    return {
        "ticket": facts.ticket,
        "severity": str(facts.severity),
        "sev": f"SEV{facts.severity}",
        "check": facts.check,
        "target": facts.target,
        "kind": facts.kind.value,
        "notice": _notice_words(facts),
        "step": str(facts.step) if facts.step is not None else "",
        "breach": facts.breach or "",
        "stage": facts.stage or "failing",
        "summary": " ".join(facts.summary.split()),
        "since": local(facts.since, zone) if facts.since is not None else "unknown",
        # A failure that starts after "now" (clocks apart) has lasted no time, not minus some.
        "duration": (
            span(max(0.0, (now - facts.since).total_seconds()))
            if facts.since is not None
            else "unknown"
        ),
        "figure": facts.key_figure or "",
        "response_due": _due(facts.response_due, zone),
        "response_left": _left(facts.response_due, now),
        "resolution_due": _due(facts.resolution_due, zone),
        "resolution_left": _left(facts.resolution_due, now),
        "acknowledged_by": facts.acknowledged_by or "",
        "ack": facts.ack_command,
        "ack_link": facts.ack_link or "",
        "runbook": facts.runbook or "",
        "tags": ", ".join(facts.tags),
        "now": local(now, zone),
    }


def _notice_words(facts: NoticeFacts) -> str:
    if facts.kind is NoticeKind.ESCALATION and facts.step is not None:
        return f"escalation step {facts.step}"
    if facts.kind is NoticeKind.BREACH and facts.breach:
        return f"{facts.breach} deadline breached"
    if facts.kind is NoticeKind.RECOVERY:
        return "recovered"
    return facts.kind.value


def _due(due: datetime | None, zone: tzinfo | None) -> str:
    return local(due, zone) if due is not None else "no target"


def _left(due: datetime | None, now: datetime) -> str:
    if due is None:
        return ""
    if due > now:
        return f"{span((due - now).total_seconds())} left"
    return f"overdue by {span((now - due).total_seconds())}"


# --------------------------------------------------------------------------------------------
# The default body
# --------------------------------------------------------------------------------------------

_Line = tuple[str, str, Literal["plain", "code", "link"]]


def _headline(facts: NoticeFacts, v: Mapping[str, str]) -> str:
    where = v["check"] if facts.target == facts.check else f"{v['check']} ({v['target']})"
    ticket = f"{v['sev']} ticket {v['ticket']}"
    kind = facts.kind
    if kind is NoticeKind.OPENED:
        return f"{ticket} opened: {where} is failing."
    if kind is NoticeKind.ESCALATION:
        return f"{ticket} escalated ({v['notice']}): {where} is still failing."
    if kind is NoticeKind.REMINDER:
        return f"Reminder: {ticket} is still open: {where}."
    if kind is NoticeKind.BREACH:
        return f"{ticket}: the {v['notice']}: {where}."
    if kind is NoticeKind.RECOVERY:
        return f"{ticket} resolved: {where} has recovered."
    return "Test notice from mailwatch. No action is needed."


def _lines(facts: NoticeFacts, v: Mapping[str, str]) -> list[_Line]:
    lines: list[_Line] = []
    if facts.kind is NoticeKind.TEST:
        if v["summary"]:
            lines.append(("Details", v["summary"], "plain"))
        return lines
    if facts.kind is not NoticeKind.RECOVERY or facts.stage:
        lines.append(("Stage", v["stage"], "plain"))
    if v["summary"]:
        lines.append(("Summary", v["summary"], "plain"))
    if facts.since is not None:
        if facts.kind is NoticeKind.RECOVERY:
            lines.append(("Outage", f"from {v['since']}, lasted {v['duration']}", "plain"))
        else:
            lines.append(("Failing since", f"{v['since']} ({v['duration']} ago)", "plain"))
    if v["figure"]:
        lines.append(("Key figure", v["figure"], "plain"))
    open_ticket = facts.kind is not NoticeKind.RECOVERY
    if open_ticket and facts.acknowledged_by:
        lines.append(("Acknowledged by", v["acknowledged_by"], "plain"))
    elif open_ticket and facts.response_due is not None:
        lines.append(("Response due", f"{v['response_due']} ({v['response_left']})", "plain"))
    if open_ticket and facts.resolution_due is not None:
        lines.append(("Resolution due", f"{v['resolution_due']} ({v['resolution_left']})", "plain"))
    if open_ticket and not facts.acknowledged_by and facts.ack_link:
        lines.append(("Acknowledge online", v["ack_link"], "link"))
    if open_ticket and not facts.acknowledged_by:
        lines.append(("Acknowledge", v["ack"], "code"))
    if facts.runbook:
        lines.append(("Runbook", v["runbook"], "link"))
    return lines


def _default_body(facts: NoticeFacts, v: Mapping[str, str], body_format: BodyFormat) -> str:
    headline = _headline(facts, v)
    lines = _lines(facts, v)
    if body_format == "text":
        return "\n".join([headline, "", *(f"{label}: {value}" for label, value, _ in lines)])
    if body_format == "markdown":
        out = [_md(headline), ""]
        for label, value, style in lines:
            if style == "code":
                shown = f"`{value}`"
            elif style == "link" and _is_url(value):
                shown = f"<{value}>"
            else:
                shown = _md(value)
            out.append(f"**{label}:** {shown}  ")
        return "\n".join(out).rstrip()
    out = [f"<p>{html.escape(headline)}</p>"]
    rows = []
    for label, value, style in lines:
        text = html.escape(value)
        if style == "code":
            shown = f"<code>{text}</code>"
        elif style == "link" and _is_url(value):
            shown = f'<a href="{html.escape(value, quote=True)}">{text}</a>'
        else:
            shown = text
        rows.append(f"<b>{html.escape(label)}:</b> {shown}")
    if rows:
        out.append("<p>" + "<br>\n".join(rows) + "</p>")
    return "\n".join(out)


_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|~#])")


def _md(text: str) -> str:
    return _MD_SPECIAL.sub(r"\\\1", text)


def _is_url(text: str) -> bool:
    return re.fullmatch(r"https?://\S+", text) is not None


def _escape(value: str, body_format: BodyFormat) -> str:
    if body_format == "html":
        return html.escape(value)
    if body_format == "markdown":
        return _md(value)
    return value
