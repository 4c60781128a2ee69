"""``status.json``: the sample world renders exactly as before the status model, validates
against the published schema, and reads back into the same snapshot."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from mailwatch.status.document import SCHEMA, from_document, to_document
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
    ("path", "value", "error"),
    [
        (("overall",), "fine", KeyError),
        (("generated_at",), None, ValueError),
        (("daemon", "started_at"), "yesterday", ValueError),
        (("checks", 0, "state"), "red", KeyError),
        (("tickets", 0, "state"), "resolved?", ValueError),
        (("tickets",), None, TypeError),
    ],
)
def test_a_document_that_is_not_mailwatch_status_1_is_refused(
    path: tuple[str | int, ...], value: object, error: type[Exception]
) -> None:
    document: Any = to_document(snapshot())
    *parents, last = path
    target = document
    for key in parents:
        target = target[key]
    target[last] = value
    with pytest.raises(error):
        from_document(document)
