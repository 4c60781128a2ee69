"""``mailwatch schema``: the config's JSON Schema, as an editor uses it (Taplo, VS Code)."""

from __future__ import annotations

import datetime
import json
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import jsonschema
import pytest

CONFIG_DIR = Path(__file__).parents[2] / "config"


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "mailwatch", "schema"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    printed: dict[str, Any] = json.loads(done.stdout)
    return printed


def as_json(value: Any) -> Any:
    """TOML as an editor hands it to a JSON Schema validator: dates and times as strings."""
    if isinstance(value, dict):
        return {key: as_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [as_json(item) for item in value]
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    return value


def problems(schema: dict[str, Any], config: dict[str, Any]) -> list[str]:
    validator = jsonschema.Draft202012Validator(schema)
    return [
        ".".join(map(str, error.absolute_path)) for error in validator.iter_errors(as_json(config))
    ]


def test_schema_is_a_valid_2020_12_json_schema(schema: dict[str, Any]) -> None:
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)


@pytest.mark.parametrize("example", sorted(CONFIG_DIR.glob("*.toml")), ids=lambda p: p.name)
def test_shipped_examples_pass_the_schema(schema: dict[str, Any], example: Path) -> None:
    """Levels switched off with "off" included (the schema says what the file holds)."""
    config = tomllib.loads(example.read_text(encoding="utf-8"))
    assert problems(schema, config) == []


def test_schema_refuses_what_mailwatch_refuses(schema: dict[str, Any]) -> None:
    config = {
        "daemon": {"stale_after_s": "soon", "colour": "red"},
        "checks": {"service": [{"name": "smtp", "protocol": "smtp", "host": "mx", "port": 0}]},
    }
    found = problems(schema, config)
    assert "daemon.stale_after_s" in found
    assert "daemon" in found  # the unknown key: additionalProperties is false
    assert any(p.startswith("checks.service.0") for p in found)


def test_docstrings_are_descriptions(schema: dict[str, Any]) -> None:
    daemon = schema["$defs"]["DaemonConfig"]
    assert "heartbeat older than this" in daemon["properties"]["stale_after_s"]["description"]
    assert "ticket database" in daemon["description"]
    assert schema["properties"]["$schema"]["description"].startswith("Where editors find")


def test_a_config_may_name_its_schema(tmp_path: Path) -> None:
    """``"$schema" = ...``, the other way editors find a schema, is accepted by mailwatch."""
    path = tmp_path / "mailwatch.toml"
    path.write_text('"$schema" = "/etc/mailwatch/mailwatch.schema.json"\n', encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "mailwatch", "validate", "-c", str(path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert (done.returncode, done.stderr) == (0, "")
