"""The report as PDF: its HTML laid out by WeasyPrint, which needs no browser on the
monitoring host (Pango draws the text). WeasyPrint is the ``report`` extra: without it,
``PdfUnavailable`` says what to install."""

from __future__ import annotations

from mailwatch.report.html import render_html
from mailwatch.report.model import HealthReport


class PdfUnavailable(Exception):
    """WeasyPrint (or the Pango it loads) is missing here."""


def render_pdf(report: HealthReport) -> bytes:
    try:
        import weasyprint
    except (ImportError, OSError) as exc:
        # OSError: WeasyPrint is installed but cannot load Pango (libpango-1.0-0).
        raise PdfUnavailable(
            f"PDF needs WeasyPrint and Pango ({exc}): pip install 'mailwatch-monitor[report]' "
            "and apt-get install libpango-1.0-0 libpangoft2-1.0-0"
        ) from None
    pdf = weasyprint.HTML(string=render_html(report)).write_pdf()
    assert isinstance(pdf, bytes)
    return pdf
