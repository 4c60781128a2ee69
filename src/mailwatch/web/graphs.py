"""The graphs section of a check's page: links to the ranges (1 h to 1 year, ``?range=``) and
one inline SVG per figure of the check's kind, drawn on the server (no JavaScript, no CDN);
and ``/checks/{name}/graphs.json?range=`` with the same data for programs."""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web

from mailwatch.charts import render_svg
from mailwatch.domain.time import display_zone
from mailwatch.status.graphs import RANGES, Graph, graph_json, range_named, read_graphs
from mailwatch.web.check_facts import CheckFacts, section
from mailwatch.web.html import esc
from mailwatch.web.keys import HOST


def _links(name: str, chosen: str) -> str:
    links = []
    for graph_range in RANGES:
        current = ' aria-current="page"' if graph_range.key == chosen else ""
        links.append(
            f'<a href="/checks/{esc(name)}?range={graph_range.key}#graphs"{current}>'
            f"{esc(graph_range.key)}</a>"
        )
    return f'<nav class="ranges" aria-label="Graph range">{" ".join(links)}</nav>'


def _figure(graph: Graph) -> str:
    return (
        f'<figure class="graph" data-graph="{esc(graph.spec.ident)}">'
        f"{render_svg(graph.chart)}</figure>"
    )


async def graphs_section(facts: CheckFacts) -> str:
    """The check's graphs over the range the page's ``?range=`` names (24 h by default)."""
    check = facts.configured
    if check is None:
        return ""
    chosen = range_named(facts.query.get("range"))
    if facts.refetch:
        # live.js swaps only live regions: reading and drawing the graphs again for it (on
        # every status change) would be work thrown away.
        return section("graphs", f"Graphs, last {chosen.label}", "", live=False)
    graphs = await read_graphs(facts.store, facts.config, check, chosen, facts.now, facts.zone)
    json_link = (
        f'<p class="meta"><a href="/checks/{esc(check.name)}/graphs.json?range={chosen.key}">'
        "The data as JSON</a></p>"
    )
    drawn = "".join(_figure(g) for g in graphs)
    inner = f'{_links(check.name, chosen.key)}<div class="graphs">{drawn}</div>{json_link}'
    return section("graphs", f"Graphs, last {chosen.label}", inner, live=False)


async def graphs_json(request: web.Request) -> web.Response:
    host = request.app[HOST]
    config = host.config
    check = config.check_named(request.match_info["name"])
    if check is None:
        raise web.HTTPNotFound(text="no such check")
    chosen = range_named(request.query.get("range"))
    graphs = await read_graphs(
        host.store,
        config,
        check,
        chosen,
        datetime.now(UTC),
        display_zone(config.incidents.timezone),
    )
    return web.json_response(
        {"check": check.name, "range": chosen.key, "graphs": [graph_json(g) for g in graphs]}
    )


def graph_routes() -> list[web.RouteDef]:
    return [web.get("/checks/{name}/graphs.json", graphs_json)]
