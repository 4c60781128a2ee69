"""``status.json``: the sample world renders exactly as before the status model, validates
against the published schema, and reads back into the same snapshot."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailwatch.status.document import SCHEMA, StatusDocumentError, from_document, to_document
from status.sample import GOLDEN, empty_snapshot, snapshot

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "docs" / "status-file.schema.json"


def dumps(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2) + "\n"


def test_the_document_is_the_one_status_json_always_had() -> None:
    assert dumps(to_document(snapshot())) == (GOLDEN / "status.json").read_text()
    assert dumps(to_document(empty_snapshot())) == (GOLDEN / "empty.json").read_text()


@pytest.mark.parametrize("make", [snapshot, empty_snapshot])
def test_the_document_validates_against_the_published_schema(make: Any) -> None:
    schema = json.loads(SCHEMA_FILE.read_text())
    document = to_document(make())
    assert document["schema"] == SCHEMA == schema["$id"]
    jsonschema.validate(document, schema)


def test_a_document_reads_back_into_the_snapshot_it_came_from() -> None:
    original = snapshot()
    document = json.loads(dumps(to_document(original)))
    assert from_document(document) == original
    assert to_document(from_document(document)) == document


def test_fields_a_newer_daemon_adds_are_ignored() -> None:
    document = to_document(snapshot())
    document["cluster"] = {"nodes": 3}
    document["checks"][0]["quorum"] = True
    assert from_document(document) == snapshot()


@pytest.mark.parametrize(
    ("path", "value", "problem"),
    [
        (("overall",), "fine", "overall is 'fine', not ok, warning, critical or unknown"),
        (("generated_at",), None, "generated_at is null, not an ISO 8601 instant"),
        (
            ("daemon", "started_at"),
            "yesterday",
            "daemon.started_at 'yesterday' is not an ISO 8601 instant",
        ),
        (
            ("checks", 0, "state"),
            "red",
            "checks[0].state is 'red', not ok, warning, critical or unknown",
        ),
        (
            ("tickets", 0, "state"),
            "resolved?",
            "tickets[0].state is 'resolved?', not a ticket status",
        ),
        (("tickets",), None, "tickets is null, not a list"),
        (("tickets", 1), [], "tickets[1] is a list, not an object"),
        (
            ("daemon", "heartbeat_at"),
            "2026-11-22 10:00",
            "daemon.heartbeat_at '2026-11-22 10:00' has no UTC offset",
        ),
        (("checks", 2, "stage"), 3, "checks[2].stage is the number 3, not a string"),
        (("checks", 0, "summary"), "x" * 100, None),
    ],
)
def test_a_document_that_is_not_mailwatch_status_1_is_refused(
    path: tuple[str | int, ...], value: object, problem: str | None
) -> None:
    document: Any = to_document(snapshot())
    *parents, last = path
    target = document
    for key in parents:
        target = target[key]
    target[last] = value
    if problem is None:  # a long summary is no damage
        assert from_document(document).checks[0].summary == value
        return
    with pytest.raises(StatusDocumentError) as refused:
        from_document(document)
    assert str(refused.value) == problem


_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=10,
)


def _replace_one(document: Any, data: st.DataObject) -> None:
    """Replace one value somewhere in the document, at a depth hypothesis picks."""
    target = document
    while True:
        keys = list(target) if isinstance(target, dict) else list(range(len(target)))
        if not keys:
            return
        key = data.draw(st.sampled_from(keys))
        if isinstance(target[key], dict | list) and data.draw(st.booleans()):
            target = target[key]
            continue
        target[key] = data.draw(_values)
        return


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_any_damage_is_refused_with_a_status_document_error_or_read(data: st.DataObject) -> None:
    document: Any = to_document(snapshot())
    for _ in range(data.draw(st.integers(1, 3))):
        _replace_one(document, data)
    try:
        from_document(document)
    except StatusDocumentError as refused:
        assert str(refused).isprintable()


@settings(max_examples=100, deadline=None)
@given(_values)
def test_any_json_value_is_refused_or_read(value: object) -> None:
    with pytest.raises(StatusDocumentError):
        from_document(value)
