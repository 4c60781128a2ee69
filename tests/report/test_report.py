"""``mailwatch report`` and ``/report`` over a generated year written through the store's own
functions (tests/report/generated_year.py): the figures match those worked out by hand, the
Markdown and HTML say them, the PDF renders (its pages turned to PNG and looked at), bad dates
are one line and exit 2, and the web page needs a login.

One store for the whole module: writing the year is the slow part."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC
from pathlib import Path

import pytest

from helpers.web import HASH, PagesHost, browser, log_in, serving
from mailwatch.config.loader import load_config
from mailwatch.domain.history import RELATIVE_ERROR
from mailwatch.report.load import load_histories
from mailwatch.report.model import HealthReport, Outcome, build_report
from mailwatch.store.store import Store
from report import generated_year as year


@pytest.fixture(scope="module")
def config_file(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    tmp = tmp_path_factory.mktemp("report")
    path = tmp / "mailwatch.toml"
    path.write_text(year.config_text(tmp, password_hash=HASH), encoding="utf-8")
    asyncio.run(year.write_year(path))
    yield path


@pytest.fixture(scope="module")
def report(config_file: Path) -> HealthReport:
    config = load_config(config_file)

    async def read() -> HealthReport:
        store = await Store.open(config.store.resolved_url(config.daemon.state_dir))
        try:
            histories = await load_histories(
                store, config, list(config.checks), year.START, year.END, UTC
            )
        finally:
            await store.close()
        return build_report(histories, year.START, year.END, now=year.NOW)

    return asyncio.run(read())


def mailwatch(config_file: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mailwatch", "-c", str(config_file), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )


def test_availability_leaves_maintenance_out_and_counts_outages(report: HealthReport) -> None:
    checks = {c.name: c for c in report.checks}
    expected = year.Expected()
    mx = checks["mx-main"].availability
    assert mx.down_s == pytest.approx(expected.mx_down_s)
    assert mx.maintenance_s == pytest.approx(expected.mx_maintenance_s)
    assert mx.unmeasured_s == pytest.approx(expected.mx_unmeasured_s)
    assert mx.degraded_s == pytest.approx(3600)
    assert mx.ratio == pytest.approx(expected.mx_ratio)
    cert = checks["cert"].availability
    assert cert.down_s == pytest.approx(expected.cert_down_s)
    assert cert.ratio == pytest.approx(expected.cert_ratio)
    assert cert.unmeasured_s == pytest.approx(0)


def test_percentiles_by_month_are_within_the_sketch_error(report: HealthReport) -> None:
    mx = next(c for c in report.checks if c.name == "mx-main")
    truth = year.monthly_connect_times()
    assert [p.month.strftime("%Y-%m") for p in mx.latency] == sorted(truth)
    for month in mx.latency:
        values = truth[month.month.strftime("%Y-%m")]
        assert month.count == len(values)
        for q, got in ((0.5, month.p50), (0.95, month.p95), (0.99, month.p99)):
            exact = year.true_percentile(values, q)
            assert abs(got - exact) <= RELATIVE_ERROR * exact + 1e-9, (month.month, q)
        assert month.max == max(values)


def test_tickets_sla_outcomes_mtta_and_mttr(report: HealthReport) -> None:
    mx = next(c for c in report.checks if c.name == "mx-main")
    outcomes = {t.ticket.number: (t.response, t.resolution) for t in mx.tickets}
    assert outcomes == {
        1: (Outcome.MET, Outcome.MET),
        2: (Outcome.BREACHED, Outcome.BREACHED),
        3: (Outcome.MET, Outcome.MET),
        4: (Outcome.BREACHED, Outcome.OPEN),
    }
    assert [t.in_maintenance for t in mx.tickets] == [False, False, True, False]
    assert mx.sla.response == {Outcome.MET: 2, Outcome.BREACHED: 2}
    assert mx.sla.resolution == {Outcome.MET: 2, Outcome.BREACHED: 1, Outcome.OPEN: 1}
    assert mx.mtta_s == pytest.approx((10 + 45) / 2 * 60)
    assert mx.mttr_s == pytest.approx((3 * 3600 + 6 * 3600 + 20 * 60) / 3)
    assert mx.stages[0] == ("smtp_connect", 2 * year.SUNDAYS + 3)


def test_certificate_and_blocklist_episodes(report: HealthReport) -> None:
    checks = {c.name: c for c in report.checks}
    cert = checks["cert"]
    assert [(r.at, round(r.days_after)) for r in cert.renewals] == [(year.RENEWED, 259)]
    assert [(e.start, e.end) for e in cert.expiries] == [(year.EXPIRY_1, year.RENEWED)]
    assert cert.expires_at is not None
    assert abs((cert.expires_at - year.EXPIRY_2).total_seconds()) < 60
    rbl = checks["rbl"]
    assert [(e.start, e.end, e.peak) for e in rbl.blocklisted] == [
        (year.LISTED, year.DELISTED, 2.0)
    ]


def test_markdown_and_html_say_the_figures(config_file: Path, tmp_path: Path) -> None:
    md = mailwatch(config_file, "report", "--from", "2025-01-01", "--to", "2025-12-31")
    assert md.returncode == 0, md.stderr
    ratio = f"{year.Expected().mx_ratio * 100:.3f} %"
    assert "# Health report 2025-01-01 to 2025-12-31" in md.stdout
    assert f"| mx-main | mx | {ratio} |" in md.stdout
    assert "| MW-000002 | 2 | 2025-05-05 12:30 UTC | gold | breached | breached |" in md.stdout
    assert "| 2025-06-15 00:00 UTC | -1.8 | 259.0 |" in md.stdout
    out = tmp_path / "year.html"
    html = mailwatch(config_file, "report", "--from", "2025-01-01", "--to", "2025-12-31",
                     "--check", "mx-main", "--output", str(out))  # fmt: skip
    assert html.returncode == 0, html.stderr
    text = out.read_text()
    assert text.startswith("<!doctype html>") and "<svg" in text
    assert f"<td>{ratio}</td>" in text
    assert "cert" not in text.split("<h2>Summary</h2>")[1].split("</table>")[0]


def test_the_pdf_renders_pages_with_the_figures(config_file: Path, tmp_path: Path) -> None:
    pdf = tmp_path / "year.pdf"
    done = mailwatch(config_file, "report", "--from", "2025-01-01", "--to", "2025-12-31",
                     "--output", str(pdf))  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert pdf.read_bytes().startswith(b"%PDF-")
    text = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "Health report 2025-01-01 to 2025-12-31" in text
    assert f"{year.Expected().mx_ratio * 100:.3f} %" in text
    assert "MW-000004" in text
    subprocess.run(["pdftoppm", "-r", "40", "-png", str(pdf), str(tmp_path / "page")], check=True)
    pages = sorted(tmp_path.glob("page-*.png"))
    # A summary page, then a page per check.
    assert len(pages) >= 4
    from PIL import Image

    for page in pages:
        with Image.open(page) as image:
            # A4 at 40 dpi: 331 x 468 pixels.
            assert abs(image.width - 331) <= 2 and abs(image.height - 468) <= 2
            # Something is drawn: not a blank page.
            lightest, darkest = image.convert("L").getextrema()[::-1]
            assert darkest < 100 < lightest
    if os.environ.get("MAILWATCH_ARTIFACTS"):
        for page in pages:
            shutil.copy(page, Path(os.environ["MAILWATCH_ARTIFACTS"]) / f"report-{page.name}")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--from", "2025-13-01", "--to", "2025-12-31"), "--from '2025-13-01' is not a date"),
        (("--from", "2025-02-01", "--to", "2025-01-31"), "--to 2025-01-31 is before --from"),
        (("--from", "2025-01-01", "--to", "2025-01-31", "--check", "nope"), "no check 'nope'"),
        (("--from", "2025-01-01", "--to", "9999-12-31"), "give at most 431"),
        (("--from", "9999-12-01", "--to", "9999-12-31"), "outside the calendar"),
        (("--from", "0001-01-01", "--to", "2025-01-01"), "the history keeps 400"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    config_file: Path, args: tuple[str, ...], message: str
) -> None:
    done = mailwatch(config_file, "report", *args)
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1 and message in done.stderr


async def test_the_web_report_needs_a_login_and_shows_the_year(config_file: Path) -> None:
    config = load_config(config_file)
    store = await Store.open(config.store.resolved_url(config.daemon.state_dir))
    try:
        host = PagesHost(config, store)
        query = "/report?from=2025-01-01&to=2025-12-31&check=mx-main"
        async with serving(host) as base, browser() as client:
            async with client.get(base + query, allow_redirects=False) as anonymous:
                assert anonymous.status == 303
                assert anonymous.headers["Location"].startswith("/login?next=")
            await log_in(client, base)
            async with client.get(base + query) as page:
                text = await page.text()
            async with client.get(base + query + "&format=pdf") as download:
                body = await download.read()
                disposition = download.headers["Content-Disposition"]
            async with client.get(base + "/report?from=2025-02-30&to=2025-03-01") as bad:
                bad_text = await bad.text()
            refused = []
            for period in (
                "from=2025-01-01&to=9999-12-31",
                "from=0001-01-01&to=2025-12-31",
                "from=9999-12-30&to=9999-12-31",
            ):
                async with client.get(base + "/report?" + period) as out:
                    refused.append((out.status, await out.text()))
    finally:
        await store.close()
    assert page.status == 200
    assert f"{year.Expected().mx_ratio * 100:.3f} %" in text and "<svg" in text
    assert 'name="from" value="2025-01-01"' in text
    assert download.status == 200 and body.startswith(b"%PDF-")
    assert "attachment" in disposition
    assert bad.status == 400 and "YYYY-MM-DD" in bad_text
    # Too long for the kept history, or past the calendar's end: the form again, with why.
    assert [status for status, _ in refused] == [400, 400, 400]
    assert "give at most 431" in refused[0][1] and "give at most 431" in refused[1][1]
    assert "outside the calendar" in refused[2][1]
    assert all('name="from"' in text for _, text in refused)
