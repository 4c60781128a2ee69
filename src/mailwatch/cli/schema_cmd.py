"""``mailwatch schema``: print the config file's JSON Schema, for editors that check and
complete TOML against one (Taplo, VS Code's Even Better TOML: ``#:schema`` or ``"$schema"``)."""

from __future__ import annotations

import argparse
import json
from typing import Any

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def add_parser(commands: Any, config_parent: argparse.ArgumentParser) -> None:
    parser = commands.add_parser(
        "schema",
        help="print the JSON Schema of the config file (for editors: #:schema or $schema)",
        description="Print the JSON Schema of mailwatch.toml, with each key's documentation "
        "as its description. Save it and name it at the top of the config: "
        "'#:schema /etc/mailwatch/mailwatch.schema.json' (Taplo) or "
        '\'"$schema" = "/etc/mailwatch/mailwatch.schema.json"\'.',
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    print(json.dumps(config_schema(), indent=2, ensure_ascii=False))
    return 0


def config_schema() -> dict[str, Any]:
    """The schema pydantic derives from the config models (the docstrings of sections and keys
    become descriptions), as a standalone document."""
    from mailwatch import __version__
    from mailwatch.config import MailwatchConfig

    schema = MailwatchConfig.model_json_schema()
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        "title": f"mailwatch.toml (mailwatch {__version__})",
        **{key: value for key, value in schema.items() if key != "title"},
    }
