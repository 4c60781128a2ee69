"""The OpenAPI document shipped in the package says what the API does: every route the app
has is in it and nothing else, its status document is docs/status-file.schema.json, and
schemathesis, generating requests from the document as served by a real ``mailwatch run``,
finds no answer that breaks it (no 5xx, no undocumented status or field, valid data taken,
invalid data refused)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

from mailwatch.web.api import SILENCE_AT_MOST_S
from mailwatch.web.api_body import MAX_NAME, MAX_TEXT, NAME, TEXT
from mailwatch.web.app import build_app
from mailwatch.web.host import WebHost
from mailwatch.web.openapi import shipped_document
from web.api_daemon import TOKEN, ApiDaemon, api_daemon

ROOT = Path(__file__).resolve().parents[2]
STATUS_SCHEMA = ROOT / "docs" / "status-file.schema.json"
METHODS = {"get", "post", "put", "patch", "delete"}
EXAMPLES = 20
"""Per operation and mode: enough to reach every field, well under a minute in all."""


def app_routes() -> set[tuple[str, str]]:
    # The app only keeps the host for its handlers: building it needs no daemon.
    app = build_app(cast(WebHost, object()))
    return {
        (route.method.lower(), route.resource.canonical)
        for route in app.router.routes()
        if route.resource is not None
        and route.resource.canonical.startswith("/api/")
        and route.method.lower() in METHODS
    }


def document_routes(document: dict[str, Any]) -> set[tuple[str, str]]:
    return {
        (method, path)
        for path, item in document["paths"].items()
        for method in item
        if method in METHODS
    }


def test_every_api_route_is_in_the_document_and_every_documented_one_exists() -> None:
    routes = app_routes()
    assert ("post", "/api/v1/tickets/{id}/ack") in routes  # the walk finds the sub-app's
    assert routes == document_routes(shipped_document())


def test_the_status_document_is_the_status_files_schema() -> None:
    """The API serves status.json's document: its schema in the API document is the one of
    docs/status-file.schema.json, with the references moved to the components."""
    schema = json.loads(STATUS_SCHEMA.read_text(encoding="utf-8"))
    components = shipped_document()["components"]["schemas"]
    moved = {
        "#/$defs/instant": "#/components/schemas/Instant",
        "#/$defs/maybe_instant": "#/components/schemas/MaybeInstant",
        "#/$defs/state": "#/components/schemas/State",
    }

    def rewritten(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: moved[v] if k == "$ref" else rewritten(v) for k, v in value.items()}
        if isinstance(value, list):
            return [rewritten(v) for v in value]
        return value

    served = dict(components["StatusDocument"])
    served.pop("title")
    expected = {
        k: rewritten(v) for k, v in schema.items() if k not in ("$schema", "$id", "$defs", "title")
    }
    assert served == expected
    assert components["Instant"] == schema["$defs"]["instant"]
    assert components["State"] == schema["$defs"]["state"]


def test_the_documents_limits_are_the_ones_the_api_checks() -> None:
    schemas = shipped_document()["components"]["schemas"]
    assert (schemas["Note"]["maxLength"], schemas["Note"]["pattern"]) == (MAX_TEXT, TEXT.pattern)
    assert (schemas["By"]["maxLength"], schemas["By"]["pattern"]) == (MAX_NAME, NAME.pattern)
    duration = schemas["SilenceRequest"]["properties"]["duration_s"]
    assert (duration["minimum"], duration["maximum"]) == (1, SILENCE_AT_MOST_S)


@pytest.fixture
def api(tmp_path: Path) -> Iterator[ApiDaemon]:
    with api_daemon(tmp_path) as daemon:
        yield daemon


def test_schemathesis_finds_nothing_the_document_does_not_allow(api: ApiDaemon) -> None:
    """Every operation, with valid and with invalid data, against the served document (whose
    silences may name the configured checks); the store holds open and resolved tickets."""
    schema = schemathesis.openapi.from_url(f"{api.base}/api/v1/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    tested = {(op.method.lower(), op.path) for op in operations}
    # schemathesis leaves out the document it was loaded from.
    assert tested == document_routes(shipped_document()) - {("get", "/api/v1/openapi.json")}
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            def run(case: Any) -> None:
                case.call_and_validate(headers={"Authorization": f"Bearer {TOKEN}"})

            run()


def test_schemathesis_stateful_sequences_follow_the_documents_links(api: ApiDaemon) -> None:
    """Sequences that follow the document's links (list tickets, then act on the first; create
    a silence, then expire it), each answer checked as above."""
    schema = schemathesis.openapi.from_url(f"{api.base}/api/v1/openapi.json")

    class Sequences(schema.as_state_machine()):  # type: ignore[misc]
        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"headers": {"Authorization": f"Bearer {TOKEN}"}}

    Sequences.run(
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=6,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
    )
