"""``/report``: the health report of a period (logged-in only): a form with the first and last
day and the checks, then the report in the page, or as a PDF download (``format=pdf``)."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta, tzinfo

from aiohttp import web

from mailwatch.config.model import MailwatchConfig
from mailwatch.domain.time import load_zone
from mailwatch.report.html import render_body, stylesheet
from mailwatch.report.load import load_histories
from mailwatch.report.model import HealthReport, Layout, build_report
from mailwatch.report.period import period_instants
from mailwatch.web.access import public
from mailwatch.web.html import Viewer, esc, page
from mailwatch.web.keys import HOST, session_of

CSS_PATH = "/report/report.css"


def _zone(config: MailwatchConfig) -> tzinfo:
    return load_zone(config.incidents.timezone) if config.incidents.timezone else UTC


def _last_month(today: date) -> tuple[date, date]:
    first_this = today.replace(day=1)
    last = first_this - timedelta(days=1)
    return last.replace(day=1), last


def _form(config: MailwatchConfig, first: str, last: str, chosen: set[str], error: str) -> str:
    boxes = "".join(
        f'<label><input type="checkbox" name="check" value="{esc(c.name)}"'
        f"{' checked' if not chosen or c.name in chosen else ''}> {esc(c.name)}</label> "
        for c in config.checks
    )
    problem = f'<p class="error">{esc(error)}</p>' if error else ""
    return f"""<h1>Health report</h1>
{problem}<form class="report-form" method="get" action="/report">
<p><label>From <input type="date" name="from" value="{esc(first)}" required></label>
<label>To <input type="date" name="to" value="{esc(last)}" required></label>
<label>Format <select name="format"><option value="html">page</option>
<option value="pdf">PDF download</option></select></label>
<button>Show</button></p>
<p>{boxes}</p>
</form>"""


def _period(first: str, last: str, zone: tzinfo, history_days: int) -> tuple[datetime, datetime]:
    try:
        start_day, last_day = date.fromisoformat(first), date.fromisoformat(last)
    except ValueError:
        raise ValueError("give the first and last day as YYYY-MM-DD") from None
    if last_day < start_day:
        raise ValueError("the last day is before the first")
    return period_instants(start_day, last_day, zone, history_days)


async def report_page(request: web.Request) -> web.StreamResponse:
    host = request.app[HOST]
    config = host.config
    session = session_of(request)
    viewer = Viewer(session.user, session.csrf) if session else Viewer(None, None)
    zone = _zone(config)
    query = request.query
    chosen = set(query.getall("check", []))
    if "from" not in query or "to" not in query:
        first, last = _last_month(datetime.now(zone).date())
        form = _form(config, first.isoformat(), last.isoformat(), chosen, "")
        return web.Response(text=page("Health report", form, viewer), content_type="text/html")
    first_text, last_text = query["from"], query["to"]
    checks = [c for c in config.checks if not chosen or c.name in chosen]
    try:
        start, end = _period(first_text, last_text, zone, config.store.history_days)
        unknown = chosen - {c.name for c in config.checks}
        if unknown:
            raise ValueError(f"no such check: {', '.join(sorted(unknown))}")
    except ValueError as exc:
        form = _form(config, first_text, last_text, chosen, str(exc))
        return web.Response(
            text=page("Health report", form, viewer), content_type="text/html", status=400
        )
    histories = await load_histories(host.store, config, checks, start, end, zone)

    def build() -> HealthReport:
        return build_report(
            histories,
            start,
            end,
            zone=zone,
            layout=Layout(query["layout"])
            if query.get("layout") in ("monthly", "yearly")
            else None,
            now=datetime.now(UTC),
            ticket_prefix=config.incidents.ticket_prefix,
        )

    if query.get("format") == "pdf":
        from mailwatch.report.pdf import PdfUnavailable, render_pdf

        try:
            # Laying out a year's PDF takes seconds: off the daemon's loop.
            pdf = await asyncio.to_thread(lambda: render_pdf(build()))
        except PdfUnavailable as exc:
            raise web.HTTPServiceUnavailable(text=str(exc)) from None
        name = f"mailwatch-report-{first_text}-{last_text}.pdf"
        return web.Response(
            body=pdf,
            content_type="application/pdf",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
    body = await asyncio.to_thread(lambda: render_body(build()))
    form = _form(config, first_text, last_text, chosen, "")
    link = f'<link rel="stylesheet" href="{CSS_PATH}">'
    return web.Response(
        text=page("Health report", link + form + body, viewer), content_type="text/html"
    )


def report_routes() -> list[web.RouteDef]:
    css = stylesheet()

    @public
    async def report_css(request: web.Request) -> web.Response:
        return web.Response(
            text=css, content_type="text/css", headers={"Cache-Control": "public, max-age=3600"}
        )

    return [web.get("/report", report_page), web.get(CSS_PATH, report_css)]
