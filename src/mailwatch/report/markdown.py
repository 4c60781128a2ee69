"""The report as Markdown: the sections' lines and tables, no charts."""

from __future__ import annotations

from mailwatch.report.model import HealthReport
from mailwatch.report.sections import Table, all_sections, period_title


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _table(table: Table) -> list[str]:
    lines = [
        "| " + " | ".join(_cell(h) for h in table.headers) + " |",
        "|" + "|".join("---" for _ in table.headers) + "|",
    ]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in table.rows]
    return [*lines, ""]


def render_markdown(report: HealthReport) -> str:
    out = [f"# Health report {period_title(report)}", ""]
    for section in all_sections(report):
        out += ["#" * section.level + " " + section.title, ""]
        for line in section.lines:
            out += [line, ""]
        for table in section.tables:
            if table.rows:
                out += _table(table)
    return "\n".join(out).rstrip() + "\n"
