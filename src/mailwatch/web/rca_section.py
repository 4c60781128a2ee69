"""The "Root cause" section of a ticket's page: where the failure began, the evidence recorded
when the ticket opened, what related checks saw around then, and how its SLA ended (the
timeline is the page's own). The same pack as ``mailwatch show MW-… --rca``."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, tzinfo
from typing import Any

from mailwatch.domain.time import local, span
from mailwatch.status.rca import WINDOW, RelatedView, RootCause, read_root_cause
from mailwatch.web.host import WebHost
from mailwatch.web.html import esc

MAX_FAILING = 5


async def rca_section(host: WebHost, number: int, now: datetime, zone: tzinfo | None) -> str:
    """The section's HTML for ticket ``number`` (empty when there is no such ticket)."""
    rca = await read_root_cause(host.store, host.config, number, now)
    return render_rca(rca, zone) if rca is not None else ""


def render_rca(rca: RootCause, zone: tzinfo | None) -> str:
    first = rca.first
    stage = f"[{esc(first.stage)}] " if first.stage else ""
    rows = [
        (
            "first failure",
            (esc(local(first.at, zone)) if first.at else "unknown")
            + f" · {stage}{esc(first.summary)}",
        ),
        ("response", esc(rca.sla.response_text)),
        ("resolution", esc(rca.sla.resolution_text)),
    ]
    if rca.opening is not None:
        rows += _evidence(rca.opening)
    else:
        rows.append(("evidence", "none recorded (the ticket opened before mailwatch kept any)"))
    items = "".join(f"<dt>{name}</dt><dd>{value}</dd>" for name, value in rows)
    start, end = esc(local(rca.window_start, zone)), esc(local(rca.window_end, zone))
    related = "".join(_related(view, zone) for view in rca.related) or (
        "<li>None: no depends_on either way and no other check on the same host.</li>"
    )
    return (
        '<section class="rca" id="root-cause"><h2>Root cause</h2>'
        f'<dl class="card">{items}</dl>'
        f"<h3>Related checks</h3>"
        f'<p class="meta">Their results from {start} to {end} '
        f"({esc(span(WINDOW.total_seconds()))} either side of the opening).</p>"
        f'<ul class="card">{related}</ul></section>'
    )


def _evidence(data: Mapping[str, Any]) -> list[tuple[str, str]]:
    stage = f"[{esc(data['stage'])}] " if data.get("stage") else ""
    rows = [("at opening", f"{esc(data.get('state'))} {stage}{esc(data.get('summary', ''))}")]
    for key, label in (
        ("server_reply", "server reply"),
        ("canary", "canary"),
        ("queue_id", "queue id"),
    ):
        if data.get(key):
            rows.append((label, f"<code>{esc(data[key])}</code>"))
    if data.get("figures"):
        rows.append(("figures", esc(_figures(data["figures"]))))
    details = data.get("details") or {}
    hops = details.get("hops")
    if isinstance(hops, list) and hops:
        rows.append(("received hops", _hops(hops)))
    late = details.get("late")
    if isinstance(late, list) and late:
        entries = "".join(
            f"<li>{esc(e.get('canary'))} in {esc(e.get('folder'))}"
            + (f", {esc(span(float(e['delay_s'])))} after sending" if e.get("delay_s") else "")
            + (_hops(e["hops"]) if e.get("hops") else "")
            + "</li>"
            for e in late
            if isinstance(e, Mapping)
        )
        rows.append(("late canaries", f"<ul>{entries}</ul>"))
    return rows


def _related(view: RelatedView, zone: tzinfo | None) -> str:
    head = f"<strong>{esc(view.check)}</strong> ({esc(view.relation)}, {esc(view.kind)})"
    parts = []
    if view.at_opening is not None:
        data = view.at_opening
        stage = f"[{esc(data['stage'])}] " if data.get("stage") else ""
        parts.append(f"at opening: {esc(data.get('state'))} {stage}{esc(data.get('summary', ''))}")
        if view.kind == "queue" and data.get("figures"):
            parts.append(f"queue snapshot: {esc(_figures(data['figures']))}")
        oldest = (data.get("details") or {}).get("oldest_queue_ids")
        if isinstance(oldest, list) and oldest:
            parts.append(f"oldest queued: {esc(', '.join(map(str, oldest)))}")
    if view.window:
        parts.append(f"in the window: {len(view.window)} result(s), {view.failures} failing")
        failing = [r for r in view.window if r.state.label != "ok"][:MAX_FAILING]
        parts += [
            f"{esc(local(r.finished_at, zone))} {esc(r.state.label)} "
            + (f"[{esc(r.stage)}] " if r.stage else "")
            + esc(r.summary)
            for r in failing
        ]
    else:
        parts.append("in the window: no results kept")
    return f"<li>{head}<br>{'<br>'.join(parts)}</li>"


def _figures(values: Mapping[str, Any]) -> str:
    return ", ".join(f"{key}={_number(value)}" for key, value in values.items())


def _number(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _hops(hops: list[Any]) -> str:
    items = "".join(
        f"<li>by {esc(h.get('by') or '?')}"
        + (f" from {esc(h['from'])}" if h.get("from") else "")
        + (f" with {esc(h['with'])}" if h.get("with") else "")
        + (f" id {esc(h['id'])}" if h.get("id") else "")
        + (f" (+{esc(h['delay_s'])} s)" if h.get("delay_s") is not None else "")
        + "</li>"
        for h in hops
        if isinstance(h, Mapping)
    )
    return f"<ol>{items}</ol>"
