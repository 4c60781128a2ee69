"""Alert titles and bodies: the default wording per kind and format, and operator templates."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from mailwatch.alerts.messages import (
    DEFAULT_TITLES,
    NoticeFacts,
    key_figure,
    placeholder_values,
    render,
)
from mailwatch.config.routes import NoticeTemplate
from mailwatch.domain.notices import NoticeKind
from mailwatch.domain.templates import PLACEHOLDERS, check_template

EASTERN = ZoneInfo("America/New_York")
NOW = datetime(2026, 11, 20, 14, 20, tzinfo=UTC)  # 09:20 EST

FACTS = NoticeFacts(
    ticket="MW-000123",
    severity=1,
    check="canary-main",
    target="mail.example.org",
    kind=NoticeKind.OPENED,
    stage="not_delivered",
    summary="canary not delivered within 120 s",
    since=datetime(2026, 11, 20, 14, 3, tzinfo=UTC),
    key_figure="latency 93.2 s",
    response_due=datetime(2026, 11, 20, 15, 3, tzinfo=UTC),
    resolution_due=datetime(2026, 11, 20, 18, 3, tzinfo=UTC),
    runbook="https://wiki.example.org/runbooks/canary",
    tags=("mail", "customer-facing"),
)


def test_opened_title_names_ticket_severity_check_and_stage() -> None:
    assert render(FACTS, now=NOW).title == "[MW-000123] SEV1 canary-main: not_delivered"


def test_opened_text_body() -> None:
    body = render(FACTS, now=NOW, zone=EASTERN).body
    assert body == (
        "SEV1 ticket MW-000123 opened: canary-main (mail.example.org) is failing.\n"
        "\n"
        "Stage: not_delivered\n"
        "Summary: canary not delivered within 120 s\n"
        "Failing since: 2026-11-20 09:03 EST (17 min ago)\n"
        "Key figure: latency 93.2 s\n"
        "Response due: 2026-11-20 10:03 EST (43 min left)\n"
        "Resolution due: 2026-11-20 13:03 EST (3 h 43 min left)\n"
        "Acknowledge: mailwatch ack MW-000123\n"
        "Runbook: https://wiki.example.org/runbooks/canary"
    )


@pytest.mark.parametrize(
    ("changes", "title", "first_line"),
    [
        (
            {"kind": NoticeKind.ESCALATION, "step": 2},
            "[MW-000123] SEV1 canary-main: not_delivered (escalation step 2)",
            "SEV1 ticket MW-000123 escalated (escalation step 2): "
            "canary-main (mail.example.org) is still failing.",
        ),
        (
            {"kind": NoticeKind.REMINDER},
            "[MW-000123] SEV1 canary-main: not_delivered (reminder)",
            "Reminder: SEV1 ticket MW-000123 is still open: canary-main (mail.example.org).",
        ),
        (
            {"kind": NoticeKind.BREACH, "breach": "response"},
            "[MW-000123] SEV1 canary-main: response deadline breached",
            "SEV1 ticket MW-000123: the response deadline breached: "
            "canary-main (mail.example.org).",
        ),
        (
            {"kind": NoticeKind.RECOVERY},
            "[MW-000123] SEV1 canary-main: recovered",
            "SEV1 ticket MW-000123 resolved: canary-main (mail.example.org) has recovered.",
        ),
        (
            {"kind": NoticeKind.TEST, "ticket": "MW-TEST", "target": "team"},
            "[MW-TEST] mailwatch test notice for route team",
            "Test notice from mailwatch. No action is needed.",
        ),
    ],
)
def test_titles_and_headlines_per_kind(
    changes: dict[str, object], title: str, first_line: str
) -> None:
    rendered = render(replace(FACTS, **changes), now=NOW)  # type: ignore[arg-type]
    assert rendered.title == title
    assert rendered.body.splitlines()[0] == first_line


def test_recovery_tells_how_long_the_outage_lasted_and_asks_no_ack() -> None:
    body = render(replace(FACTS, kind=NoticeKind.RECOVERY), now=NOW, zone=EASTERN).body
    assert "Outage: from 2026-11-20 09:03 EST, lasted 17 min" in body
    assert "mailwatch ack" not in body
    assert "Response due" not in body


def test_overdue_and_acknowledged() -> None:
    late = NOW + timedelta(hours=1, minutes=5)
    body = render(FACTS, now=late, zone=EASTERN).body
    assert "Response due: 2026-11-20 10:03 EST (overdue by 22 min)" in body
    acked = render(replace(FACTS, acknowledged_by="alice"), now=late).body
    assert "Acknowledged by: alice" in acked
    assert "Response due" not in acked
    assert "mailwatch ack" not in acked


def test_missing_facts_leave_their_lines_out() -> None:
    bare = NoticeFacts(
        ticket="MW-000007", severity=3, check="spamd", target="spamd", kind=NoticeKind.OPENED
    )
    rendered = render(bare, now=NOW)
    assert rendered.title == "[MW-000007] SEV3 spamd: failing"
    assert rendered.body == (
        "SEV3 ticket MW-000007 opened: spamd is failing.\n"
        "\n"
        "Stage: failing\n"
        "Acknowledge: mailwatch ack MW-000007"
    )


def test_markdown_body_escapes_facts_and_links_the_runbook() -> None:
    facts = replace(FACTS, summary="queue *deferred* 5_000 [high]")
    body = render(facts, now=NOW, body_format="markdown", zone=EASTERN).body
    assert "**Stage:** not\\_delivered  " in body.splitlines()
    assert "**Summary:** queue \\*deferred\\* 5\\_000 \\[high\\]  " in body.splitlines()
    assert "**Acknowledge:** `mailwatch ack MW-000123`  " in body.splitlines()
    assert body.endswith("**Runbook:** <https://wiki.example.org/runbooks/canary>")


def test_html_body_escapes_facts() -> None:
    facts = replace(FACTS, summary="<script>alert(1)</script> & more")
    body = render(facts, now=NOW, body_format="html", zone=EASTERN).body
    assert "<script>" not in body
    assert "<b>Summary:</b> &lt;script&gt;alert(1)&lt;/script&gt; &amp; more" in body
    assert "<b>Acknowledge:</b> <code>mailwatch ack MW-000123</code>" in body
    assert (
        '<a href="https://wiki.example.org/runbooks/canary">'
        "https://wiki.example.org/runbooks/canary</a>" in body
    )


def test_template_override_substitutes_and_escapes_per_format() -> None:
    templates = {
        NoticeKind.OPENED: NoticeTemplate(
            title="$sev on $target: $summary", body="<p>$summary</p><p>Run: $ack</p>"
        )
    }
    facts = replace(FACTS, summary="a < b")
    rendered = render(facts, now=NOW, body_format="html", templates=templates)
    assert rendered.title == "SEV1 on mail.example.org: a < b"  # titles are plain text
    assert rendered.body == "<p>a &lt; b</p><p>Run: mailwatch ack MW-000123</p>"
    # Other kinds keep their defaults.
    recovery = render(replace(facts, kind=NoticeKind.RECOVERY), now=NOW, templates=templates)
    assert recovery.title == "[MW-000123] SEV1 canary-main: recovered"


def test_a_title_override_alone_keeps_the_default_body() -> None:
    templates = {NoticeKind.OPENED: NoticeTemplate(title="$ticket down")}
    rendered = render(FACTS, now=NOW, templates=templates)
    assert rendered.title == "MW-000123 down"
    assert rendered.body == render(FACTS, now=NOW).body


def test_values_cannot_inject_placeholders_or_format_directives() -> None:
    facts = replace(FACTS, summary="$ticket {0} %s ${check}")
    templates = {NoticeKind.OPENED: NoticeTemplate(body="said: $summary")}
    assert render(facts, now=NOW, templates=templates).body == "said: $ticket {0} %s ${check}"


def test_every_placeholder_has_a_value_and_default_titles_use_only_known_ones() -> None:
    assert set(placeholder_values(FACTS, NOW)) == set(PLACEHOLDERS)
    for title in DEFAULT_TITLES.values():
        check_template(title)


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("$tiket down", "unknown placeholder $tiket; known placeholders: $ticket, $severity"),
        ("${nope} and $check", "unknown placeholder $nope;"),
        ("costs 5$", "invalid placeholder '$': write $name or ${name}, and $$ for a literal $"),
        ("${check", "invalid placeholder '${check': write $name"),
    ],
)
def test_check_template_names_the_problem(template: str, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        check_template(template)
    assert str(caught.value).startswith(message)


def test_dollar_dollar_is_a_literal_dollar() -> None:
    check_template("costs $$5 for $check")
    templates = {NoticeKind.OPENED: NoticeTemplate(title="costs $$5 for $check")}
    assert render(FACTS, now=NOW, templates=templates).title == "costs $5 for canary-main"


@pytest.mark.parametrize(
    ("metrics", "expected"),
    [
        ({"latency_s": 93.24, "connect_s": 0.1}, "latency 93.2 s"),
        ({"connect_s": 2.0}, "connect time 2 s"),
        ({"late_canaries": 3}, "late canaries 3"),
        ({"send_s": 0.05, "late_canaries": 0, "waited_s": 120}, "no canary after 120 s"),
        ({"send_s": 0.05, "late_canaries": 0}, "send_s 0.1"),
        ({"swap_percent": 91.5, "cpu_percent": 99.0}, "cpu_percent 99"),
        ({}, None),
    ],
)
def test_key_figure(metrics: dict[str, float], expected: str | None) -> None:
    assert key_figure(metrics) == expected


@pytest.mark.parametrize(
    ("minutes_left", "shown"),
    [(0.5, "30 s left"), (59, "59 min left"), (60, "1 h left"), (185, "3 h 5 min left"),
     (60 * 50, "2 days left")],
)  # fmt: skip
def test_time_left_spans(minutes_left: float, shown: str) -> None:
    facts = replace(FACTS, response_due=NOW + timedelta(minutes=minutes_left))
    assert placeholder_values(facts, NOW)["response_left"] == shown


@pytest.mark.parametrize(
    ("metrics", "kind", "expected"),
    [
        ({"lookup_s": 0.2, "connect_s": 1.5}, "mx", "connect time 1.5 s"),
        ({"lookup_s": 0.2}, "dnsbl", "lookup time 0.2 s"),
        ({"send_s": 0.05, "late_canaries": 0}, "roundtrip", "send_s 0.1"),
        ({"handshake_s": 0.25, "days_left": 3.0}, "tls", "days_left 3"),
        ({"connect_s": 2.0}, "no-such-kind", "connect time 2 s"),
    ],
)
def test_key_figure_of_a_kind(metrics: dict[str, float], kind: str, expected: str) -> None:
    """The kind's own figures (its declaration's ``figures``) decide; an unknown kind falls
    back to every kind's."""
    assert key_figure(metrics, kind) == expected
