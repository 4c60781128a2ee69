"""The sections of a check's page that come with it: now (state, marks, figures), its open
ticket, each site's last result (``run_from``), recent results, and its configuration."""

from __future__ import annotations

from mailwatch.domain.tickets import dedup_key
from mailwatch.status.model import CheckView, SiteView, TicketView
from mailwatch.store.checks import recent_results
from mailwatch.web.check_facts import CheckFacts, section
from mailwatch.web.clocks import countdown, when
from mailwatch.web.config_view import masked_settings
from mailwatch.web.html import esc, state_badge

RECENT_RESULTS = 20
"""Results listed on the page, newest first (the store keeps ``result_retention``)."""


def _figure(value: float) -> str:
    return f"{value:g}"


def _marks(facts: CheckFacts) -> str:
    view = facts.view
    marks = []
    if view is not None and view.flapping:
        marks.append('<span class="tag" data-mark="flapping">flapping</span>')
    if facts.quiet is not None:
        until = when(facts.quiet.until, facts.now, facts.zone)
        marks.append(
            f'<span class="tag" data-mark="{esc(facts.quiet.kind)}">'
            f"{'in maintenance' if facts.quiet.kind == 'maintenance' else 'silenced'}</span> "
            f'<span class="meta">{esc(facts.quiet.reason)}, until {until}</span>'
        )
    if view is not None and view.vote is not None and view.vote.below_quorum:
        vote = view.vote
        marks.append(
            '<span class="tag" data-mark="below-quorum">below quorum</span> '
            f'<span class="meta">{vote.sites_failing} site(s) failing, quorum {vote.quorum}: '
            "no ticket</span>"
        )
    return "<p>" + "<br>".join(marks) + "</p>" if marks else ""


async def now_section(facts: CheckFacts) -> str:
    """State, summary, marks and the last result's figures."""
    view = facts.view
    if view is None:
        disabled = facts.configured is not None and not facts.configured.enabled
        said = "The check is disabled: it does not run." if disabled else "No result yet."
        return section("now", "Now", f'<p class="meta">{said}</p>{_marks(facts)}')
    stage = f"[{esc(view.stage)}] " if view.stage else ""
    rows = [
        ("since", when(view.since, facts.now, facts.zone)),
        ("last run", when(view.last_run_at, facts.now, facts.zone)),
        ("last ok", when(view.last_ok_at, facts.now, facts.zone)),
    ]
    times = "".join(f"<dt>{name}</dt><dd>{value}</dd>" for name, value in rows)
    figures = ""
    if view.metrics:
        cells = "".join(
            f"<tr><th>{esc(key)}</th><td>{esc(_figure(value))}</td></tr>"
            for key, value in sorted(view.metrics.items())
        )
        figures = f'<table class="figures card"><tbody>{cells}</tbody></table>'
    marks = f'data-check="{esc(view.name)}" data-state="{esc(view.state.label)}"'
    what = f'<span class="meta">{esc(view.kind)} · {esc(view.target)}</span>'
    inner = f"""<div class="card" {marks}>
<p>{state_badge(view.state.label)} {what}</p>
<p>{stage}{esc(view.summary or "no result yet")}</p>
{_marks(facts)}
<dl class="clocks">{times}</dl>
</div>
{figures}"""
    return section("now", "Now", inner)


def _ticket_line(ticket: TicketView, facts: CheckFacts) -> str:
    name = esc(ticket.id)
    if facts.viewer.user is not None:
        name = f'<a href="/tickets/{name}">{name}</a>'
    acked = (
        f"acknowledged by {esc(ticket.acknowledged_by)}"
        if ticket.acknowledged_by
        else "<strong>not acknowledged</strong>"
    )
    response = countdown(
        ticket.response_due,
        facts.now,
        met=ticket.acknowledged_at is not None,
        breached=False,
        zone=facts.zone,
    )
    marks = f'data-ticket="{esc(ticket.id)}" data-ticket-state="{esc(ticket.state.value)}"'
    opened = when(ticket.opened_at, facts.now, facts.zone)
    return f"""<div class="card ticket" {marks}>
<p><strong>{name}</strong> <span class="tag">severity {ticket.severity}</span>
<span class="tag">{esc(ticket.state.value)}</span></p>
<p>{esc(ticket.summary)}</p>
<p class="meta">opened {opened}; {acked}; response {response}</p>
</div>"""


async def ticket_section(facts: CheckFacts) -> str:
    """The check's open ticket, linked to its page."""
    inner = "".join(_ticket_line(t, facts) for t in facts.tickets)
    return section("ticket", "Open ticket", inner or '<p class="meta">No open ticket.</p>')


def _site_row(site_view: SiteView, facts: CheckFacts) -> str:
    counted = "" if site_view.current else ' <span class="tag">too old to vote</span>'
    return (
        f'<tr data-site="{esc(site_view.site)}" data-state="{esc(site_view.state.label)}">'
        f"<th>{esc(site_view.site)}</th>"
        f"<td>{state_badge(site_view.state.label)}{counted}<br>{esc(site_view.summary)}"
        f'<br><span class="meta">{when(site_view.at, facts.now, facts.zone)}'
        f"{' on ' + esc(site_view.node) if site_view.node else ''}</span></td></tr>"
    )


async def sites_section(facts: CheckFacts) -> str:
    """For a check with ``run_from``: the vote, and each site's last result."""
    configured = facts.configured
    view: CheckView | None = facts.view
    if configured is None or not configured.votes:
        return ""
    vote = view.vote if view is not None else None
    if vote is None or not vote.sites:
        return section("sites", "Sites", '<p class="meta">No site has a result yet.</p>')
    rows = "".join(_site_row(s, facts) for s in vote.sites)
    head = (
        f'<p class="meta">{vote.sites_failing} of {len(vote.sites)} site(s) failing; '
        f"quorum {vote.quorum}{' (below quorum: no ticket)' if vote.below_quorum else ''}</p>"
    )
    return section("sites", "Sites", f'{head}<table class="card"><tbody>{rows}</tbody></table>')


async def recent_section(facts: CheckFacts) -> str:
    """The newest stored results."""
    target = facts.view.target if facts.view is not None else None
    if target is None and facts.configured is not None:
        target = facts.configured.target
    if target is None:
        return ""
    async with facts.store.read() as conn:
        results = await recent_results(conn, dedup_key(facts.name, target), RECENT_RESULTS)
    if not results:
        return section("recent", "Recent results", '<p class="meta">None stored.</p>')
    rows = []
    for r in results:
        where = " · ".join(esc(x) for x in (r.site, r.node) if x)
        stage = f"[{esc(r.stage)}] " if r.stage else ""
        rows.append(
            f"<li>{state_badge(r.state.label)} "
            f'<span class="meta">{when(r.finished_at, facts.now, facts.zone)}'
            f"{' · ' + where if where else ''}</span><br>{stage}{esc(r.summary)}</li>"
        )
    return section(
        "recent", f"Recent results ({len(results)})", f'<ol class="results">{"".join(rows)}</ol>'
    )


async def config_section(facts: CheckFacts) -> str:
    """The check's configuration, secrets masked."""
    if facts.configured is None:
        return section("config", "Configuration", '<p class="meta">No longer configured.</p>')
    settings = [("kind", f'"{facts.configured.kind}"'), *masked_settings(facts.configured)]
    rows = "".join(
        f"<tr><th>{esc(key)}</th><td><code>{esc(value)}</code></td></tr>" for key, value in settings
    )
    return section(
        "config",
        "Configuration",
        f'<table class="settings card"><tbody>{rows}</tbody></table>'
        '<p class="meta">Secrets are shown as ****.</p>',
        live=False,
    )
