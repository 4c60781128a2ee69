"""``status.txt``: the sample world reads exactly as before the status model, from the
daemon's snapshot and from the snapshot ``mailwatch status`` reads back from status.json."""

from __future__ import annotations

import json
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from mailwatch.status.document import from_document, to_document
from mailwatch.status.model import StatusSnapshot
from mailwatch.status.text import render_text
from status.sample import GOLDEN, NOW, empty_snapshot, snapshot


def read_back(written: StatusSnapshot) -> StatusSnapshot:
    return from_document(json.loads(json.dumps(to_document(written))))


@pytest.mark.parametrize("via_file", [False, True])
def test_the_text_is_the_one_status_txt_always_had(via_file: bool) -> None:
    shown = read_back(snapshot()) if via_file else snapshot()
    berlin = render_text(shown, ZoneInfo("Europe/Berlin"), NOW)
    assert berlin == (GOLDEN / "status-berlin.txt").read_text()
    later = render_text(shown, ZoneInfo("UTC"), NOW + timedelta(minutes=7))
    assert later == (GOLDEN / "status-utc-7min-later.txt").read_text()


def test_nothing_to_show() -> None:
    text = render_text(empty_snapshot(), ZoneInfo("UTC"), NOW)
    assert text == (GOLDEN / "empty.txt").read_text()
    assert "OPEN TICKETS: none" in text


def test_an_unacknowledged_ticket_says_how_to_acknowledge_it() -> None:
    text = render_text(snapshot(), ZoneInfo("UTC"), NOW)
    assert "NOT acknowledged: `mailwatch ack MW-000123`" in text
    assert "(BREACHED 5 min ago); escalation step 2" in text
