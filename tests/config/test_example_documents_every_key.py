"""The example config documents every key the config schema has, in its own section.

The schema is walked from the models (every section, every check kind of the registry, nested
tables, tables of named entries); the example is read as text, so a key shown commented out
(``# key = value``) counts as documented. Keys every check shares are documented once, in the
list at the top of the example ("Keys every check accepts").
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel

from mailwatch.config import MailwatchConfig
from mailwatch.config.checks import CheckBase
from mailwatch.config.checks.registry import KINDS

CONFIG_DIR = Path(__file__).parents[2] / "config"
EXAMPLE = CONFIG_DIR / "mailwatch.example.toml"
EXAMPLES = sorted(CONFIG_DIR.glob("*.toml"))
"""The example and its companions (``sla-plans.toml`` shows calendars and plans)."""
ANY_NAME = "*"
"""A table of named entries (``[routes.NAME]``): any name."""


def models_in(annotation: Any) -> Iterator[type[BaseModel]]:
    """The models a field's type can hold: through ``X | None``, lists, dict values,
    ``Annotated`` and discriminated unions."""
    origin = get_origin(annotation)
    if origin is Annotated:
        yield from models_in(get_args(annotation)[0])
    elif origin in (Union, UnionType, list, tuple):
        for arg in get_args(annotation):
            yield from models_in(arg)
    elif origin is dict:
        yield from models_in(get_args(annotation)[1])
    elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation


def is_named_table(annotation: Any) -> bool:
    """``dict[Name, Model]``: the TOML tables ``[section.NAME]``."""
    while get_origin(annotation) is Annotated or (
        get_origin(annotation) in (Union, UnionType) and type(None) in get_args(annotation)
    ):
        args = [a for a in get_args(annotation) if a is not type(None)]
        annotation = args[0]
    return get_origin(annotation) is dict and any(True for _ in models_in(annotation))


def schema_keys(
    model: type[BaseModel], where: tuple[str, ...] = (), seen: frozenset[type] = frozenset()
) -> Iterator[tuple[str, ...]]:
    """Every key path of ``model``, e.g. ``("routes", "*", "urls")``; keys every check shares
    are left out below ``checks`` (see ``common_check_keys``)."""
    for name, field in model.model_fields.items():
        key = field.alias or name
        if where[:1] == ("checks",) and len(where) == 2 and name in CheckBase.model_fields:
            continue
        path = (*where, key)
        yield path
        inner = (*path, ANY_NAME) if is_named_table(field.annotation) else path
        for sub in models_in(field.annotation):
            if sub not in seen:
                yield from schema_keys(sub, inner, seen | {sub})


def documented_keys(text: str) -> set[tuple[str, ...]]:
    """Every key the example shows, set or commented out, as a path: table headers and
    ``key = value`` lines (keys of inline tables too) under the table they appear in."""
    keys: set[tuple[str, ...]] = set()
    table: tuple[str, ...] = ()
    container: tuple[str, ...] = ()
    for raw in text.splitlines():
        line = re.sub(r"^\s*#\s?", "", raw).strip()  # commented-out lines count
        header = re.match(r"^\[\[?\s*([\w.\"$-]+)\s*\]\]?", line)
        if header:
            table = tuple(part.strip('"') for part in header.group(1).split("."))
            keys.update(table[: n + 1] for n in range(len(table)))
            container = table
            continue
        assignment = re.match(r"^([\w\"$-]+)\s*=\s*(.*)$", line)
        if assignment:
            key = assignment.group(1).strip('"')
            keys.add((*table, key))
            container = (*table, key)
            rest = assignment.group(2)
        elif line.startswith("{"):
            rest = line  # an inline table inside a multi-line array
        else:
            continue
        for inner in re.findall(r"[{,]\s*([A-Za-z_]\w*)\s*=", rest):
            keys.add((*container, inner))
    return keys


def common_check_keys(text: str) -> set[str]:
    """The keys listed under "Keys every check accepts" at the top of the example."""
    block = text.split("# Keys every check accepts", 1)[1].split("\n\n", 1)[0]
    return set(re.findall(r"^#\s{2,}(\w+)\s{2,}", block, flags=re.MULTILINE))


def matches(documented: tuple[str, ...], key: tuple[str, ...]) -> bool:
    return len(documented) == len(key) and all(
        want in (ANY_NAME, got) for got, want in zip(documented, key, strict=True)
    )


def test_the_walk_sees_every_kind_nested_tables_and_named_tables() -> None:
    """The walk itself reaches what the test is about, or it could pass by seeing nothing."""
    keys = set(schema_keys(MailwatchConfig))
    assert {("checks", kind.name) for kind in KINDS} <= keys
    assert ("checks", "roundtrip", "imap", "password") in keys
    assert ("checks", "service", "process_name") in keys  # a member of a tagged union
    assert ("routes", ANY_NAME, "urls") in keys
    assert ("daemon", "deadman_interval_s") in keys
    assert ("checks", "mx", "runbook") not in keys  # shared: checked against the common list


def test_example_documents_every_key_of_the_schema() -> None:
    documented = set().union(*(documented_keys(p.read_text(encoding="utf-8")) for p in EXAMPLES))
    missing = [
        ".".join(key)
        for key in schema_keys(MailwatchConfig)
        if not any(matches(shown, key) for shown in documented)
    ]
    assert not missing, (
        f"{len(missing)} key(s) of the config schema are in no example under config/ (add "
        "each to mailwatch.example.toml, commented out if it should not be set, in its "
        "section):\n  " + "\n  ".join(missing)
    )


def test_example_lists_every_key_every_check_accepts() -> None:
    listed = common_check_keys(EXAMPLE.read_text(encoding="utf-8"))
    missing = sorted(set(CheckBase.model_fields) - listed)
    assert not missing, (
        f'keys every check accepts, missing from the "Keys every check accepts" list at the top '
        f"of {EXAMPLE.name}: {', '.join(missing)}"
    )
