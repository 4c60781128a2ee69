"""The ack link in a notice's message: above the ``mailwatch ack`` line in the default body
(a link in HTML and Markdown), ``$ack_link`` in templates, absent once acknowledged."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

from mailwatch.alerts.messages import NoticeFacts, render
from mailwatch.domain.notices import NoticeKind

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
LINK = (
    "https://mw.example.net/ack/1.1765195200.b25jYWxs.abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
)
FACTS = NoticeFacts(
    ticket="MW-000001",
    severity=2,
    check="canary",
    target="canary",
    kind=NoticeKind.OPENED,
    summary="not delivered",
    ack_link=LINK,
)


def test_the_text_body_offers_the_link_then_the_command() -> None:
    body = render(FACTS, now=NOW).body
    assert f"Acknowledge online: {LINK}\nAcknowledge: mailwatch ack MW-000001" in body


def test_html_and_markdown_bodies_make_it_a_link() -> None:
    assert f'<a href="{LINK}">{LINK}</a>' in render(FACTS, now=NOW, body_format="html").body
    assert f"<{LINK}>" in render(FACTS, now=NOW, body_format="markdown").body


def test_no_link_line_once_acknowledged_or_without_a_link() -> None:
    acked = dataclasses.replace(FACTS, acknowledged_by="alice")
    assert "Acknowledge online" not in render(acked, now=NOW).body
    bare = dataclasses.replace(FACTS, ack_link=None)
    assert "Acknowledge online" not in render(bare, now=NOW).body


def test_a_template_may_place_the_link() -> None:
    from mailwatch.config.routes import NoticeTemplate

    template = NoticeTemplate(body="Ack: $ack_link")
    body = render(FACTS, now=NOW, templates={NoticeKind.OPENED: template}).body
    assert body == f"Ack: {LINK}"
