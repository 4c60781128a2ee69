"""The report as HTML: a whole document with its stylesheet inline (``mailwatch report
--format html``, and the PDF's source), or the body alone for the web face's ``/report``."""

from __future__ import annotations

from html import escape
from importlib.resources import files

from mailwatch import __version__
from mailwatch.report.model import HealthReport
from mailwatch.report.sections import Section, Table, all_sections, period_title


def stylesheet() -> str:
    """The report's CSS, shipped beside this module."""
    return files("mailwatch.report").joinpath("report.css").read_text(encoding="utf-8")


def _table(table: Table) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in table.headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>" for row in table.rows
    )
    css = "report-table report-grid" if table.compact else "report-table"
    return f'<table class="{css}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _section(section: Section) -> str:
    level = min(6, section.level)
    anchor = f' id="{escape(section.anchor)}"' if section.anchor else ""
    css = "report-check" if section.anchor.startswith("check-") else "report-part"
    parts = [f'<section class="{css}"{anchor}><h{level}>{escape(section.title)}</h{level}>']
    parts += [f"<p>{escape(line)}</p>" for line in section.lines]
    parts += [f'<figure class="report-chart">{svg}</figure>' for svg in section.charts]
    parts += [_table(t) for t in section.tables if t.rows]
    parts.append("</section>")
    return "".join(parts)


def render_body(report: HealthReport) -> str:
    """The report's HTML without ``<html>``: a heading and its sections."""
    title = f"Health report {period_title(report)}"
    sections = "\n".join(_section(s) for s in all_sections(report))
    return f'<div class="report"><h1>{escape(title)}</h1>\n{sections}</div>'


def render_html(report: HealthReport) -> str:
    """A standalone document: opens from a file, mails as an attachment, prints."""
    title = f"Health report {period_title(report)}"
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{escape(title)} · mailwatch</title>
<style>
{stylesheet()}
</style>
</head>
<body>
{render_body(report)}
<footer class="report-footer">mailwatch {escape(__version__)}</footer>
</body>
</html>
"""
