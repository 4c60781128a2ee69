"""``mailwatch show MW-… --rca`` at a terminal: a ticket's root-cause pack as text."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import tzinfo
from typing import TYPE_CHECKING, Any

from mailwatch.cli.ticket_format import event_line
from mailwatch.domain.tickets import format_number
from mailwatch.domain.time import local, parse_instant, span
from mailwatch.status.rca import WINDOW

if TYPE_CHECKING:
    from mailwatch.status.rca import RelatedView, RootCause

MAX_WINDOW_LINES = 5
"""Failing results listed per related check; the rest are counted."""


def rca_text(rca: RootCause, prefix: str, zone: tzinfo | None) -> str:
    t = rca.ticket
    first = rca.first
    when = local(first.at, zone) if first.at is not None else "unknown"
    stage = f"[{first.stage}] " if first.stage else ""
    lines = [
        f"{format_number(t.number, prefix)}  root cause  (severity {t.severity}, {t.status.value})",
        f"  check:           {t.check} (target {t.target})",
        f"  first failure:   {when}  {stage}{first.summary}".rstrip(),
        f"  opened:          {local(t.opened_at, zone)}",
    ]
    if not first.recorded:
        lines.append(
            "  (no evidence was recorded for this ticket: it opened before mailwatch kept any)"
        )
    if rca.opening is not None:
        lines.append("evidence recorded at opening:")
        lines += _evidence(rca.opening, zone)
    start, end = local(rca.window_start, zone), local(rca.window_end, zone)
    either = span(WINDOW.total_seconds())
    lines.append(f"related checks (their results from {start} to {end}, {either} either side):")
    if not rca.related:
        lines.append("  none: no depends_on either way and no other check on the same host")
    for view in rca.related:
        lines += _related(view, zone)
    lines.append("timeline:")
    lines += [event_line(item.event, zone, None) for item in rca.timeline]
    lines.append("SLA:")
    lines.append(f"  plan:            {t.plan or 'none'}")
    lines.append(f"  response:        {rca.sla.response_text}")
    lines.append(f"  resolution:      {rca.sla.resolution_text}")
    return "\n".join(lines)


def _evidence(data: Mapping[str, Any], zone: tzinfo | None) -> list[str]:
    stage = f"[{data['stage']}] " if data.get("stage") else ""
    lines = [f"  result:          {data.get('state')} {stage}{data.get('summary', '')}"]
    for key, label in (
        ("server_reply", "server reply"),
        ("canary", "canary"),
        ("queue_id", "queue id"),
    ):
        if data.get(key):
            lines.append(f"  {label + ':':<16} {data[key]}")
    if data.get("figures"):
        lines.append(f"  {'figures:':<16} {_figures(data['figures'])}")
    details = data.get("details") or {}
    hops = details.get("hops")
    if isinstance(hops, list) and hops:
        lines.append("  received hops:")
        lines += [f"    {_hop(n, hop)}" for n, hop in enumerate(hops, start=1)]
    late = details.get("late")
    if isinstance(late, list) and late:
        lines.append("  late canaries:")
        for entry in late:
            if not isinstance(entry, Mapping):
                lines.append(f"    {entry}")
                continue
            delay = entry.get("delay_s")
            sent = parse_instant(entry.get("sent_at"))
            lines.append(
                f"    {entry.get('canary')} sent {local(sent, zone) if sent else '?'}, "
                f"in {entry.get('folder')}"
                + (f", {span(float(delay))} after sending" if delay is not None else "")
            )
            lines += [f"      {_hop(n, hop)}" for n, hop in enumerate(entry.get("hops") or [], 1)]
    bounce = details.get("bounce")
    if isinstance(bounce, Mapping):
        lines.append(f"  {'bounce:':<16} {_figures(bounce)}")
    return lines


def _related(view: RelatedView, zone: tzinfo | None) -> list[str]:
    lines = [f"  {view.check} ({view.relation}, {view.kind}):"]
    if view.at_opening is not None:
        data = view.at_opening
        stage = f"[{data['stage']}] " if data.get("stage") else ""
        label = "queue at opening" if view.kind == "queue" else "at opening"
        lines.append(f"    {label + ':':<17} {data.get('state')} {stage}{data.get('summary', '')}")
        if view.kind == "queue" and data.get("figures"):
            lines.append(f"    {'queue snapshot:':<17} {_figures(data['figures'])}")
        oldest = (data.get("details") or {}).get("oldest_queue_ids")
        if isinstance(oldest, list) and oldest:
            lines.append(f"    {'oldest queued:':<17} {', '.join(map(str, oldest))}")
    else:
        lines.append("    at opening:       no result recorded")
    if not view.window:
        lines.append("    in the window:    no results kept")
        return lines
    lines.append(f"    in the window:    {len(view.window)} result(s), {view.failures} failing")
    failing = [r for r in view.window if r.state.label != "ok"]
    for result in failing[:MAX_WINDOW_LINES]:
        stage = f"[{result.stage}] " if result.stage else ""
        lines.append(
            f"      {local(result.finished_at, zone)}  {result.state.label} {stage}{result.summary}"
        )
    if len(failing) > MAX_WINDOW_LINES:
        lines.append(f"      … {len(failing) - MAX_WINDOW_LINES} more failing")
    return lines


def _figures(values: Mapping[str, Any]) -> str:
    return ", ".join(f"{key}={_number(value)}" for key, value in values.items())


def _number(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _hop(number: int, hop: Any) -> str:
    if not isinstance(hop, Mapping):
        return f"{number}. {hop}"
    parts = [f"{number}. by {hop.get('by') or '?'}"]
    if hop.get("from"):
        parts.append(f"from {hop['from']}")
    if hop.get("with"):
        parts.append(f"with {hop['with']}")
    if hop.get("id"):
        parts.append(f"id {hop['id']}")
    if hop.get("delay_s") is not None:
        parts.append(f"(+{hop['delay_s']} s)")
    return " ".join(parts)
