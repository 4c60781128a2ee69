"""``/checks/{name}``: one check's page, composed of sections (``SECTIONS``, in page order).

Login only: the page shows the check's configuration (secrets masked). A new section is an
async function of ``CheckFacts`` (``web/check_facts.py``) and one line in ``SECTIONS``.
"""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web

from mailwatch.domain.quiet import quiet_for
from mailwatch.domain.time import display_zone
from mailwatch.store.silences import active_silences
from mailwatch.web.check_facts import CheckFacts, Section
from mailwatch.web.check_sections import (
    config_section,
    now_section,
    recent_section,
    sites_section,
    ticket_section,
)
from mailwatch.web.graphs import graphs_section
from mailwatch.web.html import Viewer, esc, page
from mailwatch.web.keys import HOST, session_of

SECTIONS: list[Section] = [
    now_section,
    ticket_section,
    sites_section,
    graphs_section,
    recent_section,
    config_section,
]
"""The page's sections, top to bottom."""


def check_url(name: str) -> str:
    """The page of check ``name`` (check names are plain: letters, digits, ``. _ -``)."""
    return f"/checks/{esc(name)}"


REFRESH_S = 30
"""With JavaScript, the live sections are fetched again this often (for the clocks and the
recent results), and at once when the status version moves."""


async def render_check(facts: CheckFacts, version: int | None = None) -> str:
    parts = [await make(facts) for make in SECTIONS]
    body = f"<h1>{esc(facts.name)}</h1>\n" + "\n".join(p for p in parts if p)
    return page(
        facts.name,
        body,
        facts.viewer,
        refresh_s=REFRESH_S,
        live_version=version,
        live_refresh_s=REFRESH_S,
    )


async def check_facts(request: web.Request, name: str) -> CheckFacts:
    """What the page of ``name`` shows now; 404 when no such check is configured or shown."""
    host = request.app[HOST]
    config = host.config
    snapshot = await host.snapshot()
    view = next((c for c in snapshot.checks if c.name == name), None)
    configured = config.check_named(name)
    if view is None and configured is None:
        raise web.HTTPNotFound(text="no such check")
    now = datetime.now(UTC)
    async with host.store.read() as conn:
        silences = await active_silences(conn, now)
    session = session_of(request)
    return CheckFacts(
        name=name,
        view=view,
        configured=configured,
        tickets=tuple(t for t in snapshot.tickets if t.check == name),
        quiet=quiet_for(name, now, config.maintenance, silences),
        config=config,
        store=host.store,
        now=now,
        zone=display_zone(config.incidents.timezone),
        viewer=Viewer(session.user, session.csrf) if session else Viewer(None, None),
        query=dict(request.query),
        refetch=request.headers.get("Sec-Fetch-Mode", "navigate") != "navigate",
    )


async def check_page(request: web.Request) -> web.Response:
    facts = await check_facts(request, request.match_info["name"])
    version = request.app[HOST].status_version.number
    return web.Response(text=await render_check(facts, version), content_type="text/html")


def check_routes() -> list[web.RouteDef]:
    return [web.get("/checks/{name}", check_page)]
