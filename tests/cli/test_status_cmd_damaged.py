"""``mailwatch status`` on a damaged status file, in-process: exit 3 and one line naming what
is wrong, whatever the file holds; a heartbeat from the future is clock skew, not freshness."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailwatch.cli.main import main
from mailwatch.status.document import to_document
from mailwatch.status.files import STATUS_JSON
from status.sample import snapshot


@dataclasses.dataclass(frozen=True)
class Outcome:
    code: int
    out: str
    err: str


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A config whose state_dir the tests fill; module-scoped so hypothesis can share it."""
    root = tmp_path_factory.mktemp("status")
    (root / "state").mkdir()
    config = root / "mailwatch.toml"
    config.write_text(
        f'[daemon]\nstate_dir = "{root / "state"}"\nstale_after_s = 120\n', encoding="utf-8"
    )
    return config, root / "state" / STATUS_JSON


def status(config: Path, *args: str) -> Outcome:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["status", "-c", str(config), *args])
    return Outcome(code, out.getvalue(), err.getvalue())


def fresh_document(age: timedelta = timedelta(seconds=5)) -> dict[str, Any]:
    written = datetime.now(UTC).replace(microsecond=0) - age
    return to_document(dataclasses.replace(snapshot(), generated_at=written))


def write(path: Path, document: object) -> None:
    if path.is_dir():
        path.rmdir()
    path.write_text(json.dumps(document), encoding="utf-8")


def refused(outcome: Outcome) -> str:
    """The one line a refused file gets, after checking it is just that."""
    assert outcome.code == 3
    assert outcome.out == ""
    assert outcome.err.endswith("\n")
    assert outcome.err.count("\n") == 1, outcome.err
    assert "Traceback" not in outcome.err
    return outcome.err.rstrip("\n")


def test_a_fresh_file_is_read(setup: tuple[Path, Path]) -> None:
    config, path = setup
    write(path, fresh_document())
    outcome = status(config)
    assert outcome.code == 2
    assert outcome.out.startswith("mailwatch 0.1.0 (pid 1234): overall CRITICAL\n")
    assert outcome.err == ""


def _set(document: dict[str, Any], path: tuple[str | int, ...], value: object) -> None:
    *parents, last = path
    target: Any = document
    for key in parents:
        target = target[key]
    if value is _DELETE:
        del target[last]
    else:
        target[last] = value


_DELETE = object()


@pytest.mark.parametrize(
    ("path", "value", "problem"),
    [
        (
            ("generated_at",),
            "2026-11-22T10:00:00",
            "generated_at '2026-11-22T10:00:00' has no UTC offset",
        ),
        (("daemon", "version"), _DELETE, "daemon.version is missing"),
        (("tickets", 0, "summary"), _DELETE, "tickets[0].summary is missing"),
        (("checks",), {"a": 1}, "checks is an object, not a list"),
        (
            ("checks", 1, "flapping"),
            "yes",
            "checks[1].flapping is the string 'yes', not true or false",
        ),
        (
            ("checks", 0, "metrics"),
            {"send_s": "fast"},
            "checks[0].metrics['send_s'] is the string 'fast', not a number",
        ),
        (("overall",), "fine", "overall is 'fine', not ok, warning, critical or unknown"),
        (("daemon", "pid"), 1.5, "daemon.pid is the number 1.5, not a whole number"),
        (("daemon",), None, "daemon is null, not an object"),
        (("tickets", 0, "severity"), 9, "tickets[0].severity is 9, not 1 to 4"),
        (
            ("tickets", 0, "state"),
            "resolved?",
            "tickets[0].state is 'resolved?', not a ticket status",
        ),
        (
            ("daemon", "started_at"),
            "0001-01-01T00:00:00+01:00",
            "daemon.started_at '0001-01-01T00:00:00+01:00' is outside the years 1970 to 9998",
        ),
        (
            ("tickets", 0, "response_due"),
            "9999-12-31T23:00:00-05:00",
            "tickets[0].response_due '9999-12-31T23:00:00-05:00' is outside the years 1970 to 9998",
        ),
        (
            ("schema",),
            "mailwatch.status/2",
            "schema is 'mailwatch.status/2', not 'mailwatch.status/1'",
        ),
    ],
)
def test_a_damaged_field_is_named_on_one_line(
    setup: tuple[Path, Path], path: tuple[str | int, ...], value: object, problem: str
) -> None:
    config, status_path = setup
    document = fresh_document()
    _set(document, path, value)
    write(status_path, document)
    line = refused(status(config))
    assert line.startswith(f"mailwatch: unreadable status file {status_path}: ")
    assert line.endswith(problem)
    assert line.isprintable()


def test_a_name_is_no_problem_but_its_control_characters_are_not_printed(
    setup: tuple[Path, Path],
) -> None:
    config, path = setup
    document = fresh_document()
    document["checks"][0]["kind"] = 7
    document["checks"][0]["name"] = "\x1b[31mred"
    write(path, document)
    assert refused(status(config)).endswith("checks[0].kind is the number 7, not a string")


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b'{"schema": "mailwatch.status/1", \xff\xfe}', "it is not UTF-8 (byte 0xff at offset 33)"),
        (b"[" * 100_000, "its JSON is nested too deeply"),
        (b"", "it is not JSON: Expecting value: line 1 column 1 (char 0)"),
        (b"[1, 2]", "the document is a list, not an object"),
        (b"NaN", "the document is the number nan, not an object"),
    ],
)
def test_bytes_that_are_no_document(setup: tuple[Path, Path], content: bytes, problem: str) -> None:
    config, path = setup
    write(path, {})
    path.write_bytes(content)
    assert refused(status(config)).endswith(f"status.json: {problem}")


def test_a_directory_where_the_file_belongs(setup: tuple[Path, Path]) -> None:
    config, path = setup
    path.unlink(missing_ok=True)
    path.mkdir()
    try:
        assert refused(status(config)).endswith("status.json: it is a directory")
    finally:
        path.rmdir()


def test_an_endless_file_is_read_only_up_to_the_cap(setup: tuple[Path, Path]) -> None:
    config, path = setup
    path.unlink(missing_ok=True)
    path.symlink_to("/dev/zero")
    try:
        assert refused(status(config)).endswith("status.json: it is larger than 64 MB")
    finally:
        path.unlink()


@pytest.mark.parametrize("args", [(), ("--json",)])
def test_a_heartbeat_from_the_future_is_clock_skew(
    setup: tuple[Path, Path], args: tuple[str, ...]
) -> None:
    config, path = setup
    write(path, fresh_document(age=-timedelta(hours=2, minutes=1)))
    outcome = status(config, *args)
    assert outcome.code == 3
    assert outcome.err == ""
    if args:
        shown = json.loads(outcome.out)
        assert shown["stale"] is True
        assert shown["clock_skew"] is True
        assert -7300 < shown["heartbeat_age_s"] < -7200
    else:
        assert outcome.out.startswith(
            "CLOCK SKEW: the daemon's last heartbeat is 2 h in the future (pid 1234); "
            "this host's clock or the daemon's is wrong"
        )


def test_a_heartbeat_a_few_seconds_ahead_is_fresh(setup: tuple[Path, Path]) -> None:
    config, path = setup
    write(path, fresh_document(age=-timedelta(seconds=20)))
    outcome = status(config, "--json")
    assert outcome.code == 2
    shown = json.loads(outcome.out)
    assert (shown["stale"], shown["clock_skew"]) == (False, False)


# --- property: any mutation of a valid document ---------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**30), 10**30)
    | st.floats()
    | st.text(max_size=8)
    | st.sampled_from(
        [
            "2026-11-22T10:00:00",
            "2026-11-22T10:00:00+00:00",
            "0001-01-01T00:00:00+01:00",
            "9999-12-31T23:59:59-14:00",
            "ok",
            "triggered",
            "",
        ]
    ),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner),
    max_leaves=6,
)


def _paths(value: object, prefix: tuple[str | int, ...] = ()) -> Iterator[tuple[str | int, ...]]:
    if isinstance(value, dict):
        for key, inner in value.items():
            yield (*prefix, key)
            yield from _paths(inner, (*prefix, key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            yield (*prefix, index)
            yield from _paths(inner, (*prefix, index))


BASE = fresh_document()
PATHS = list(_paths(BASE))

mutation = st.tuples(st.sampled_from(PATHS), st.one_of(st.just(_DELETE), json_values))


@settings(max_examples=200, deadline=None)
@given(mutations=st.lists(mutation, min_size=1, max_size=3), as_json=st.booleans())
def test_any_damage_is_an_exit_code_and_at_most_one_line(
    setup: tuple[Path, Path], mutations: list[tuple[tuple[str | int, ...], object]], as_json: bool
) -> None:
    config, path = setup
    document = json.loads(json.dumps(BASE))
    for where, value in mutations:
        with contextlib.suppress(KeyError, IndexError, TypeError):  # an earlier one removed it
            _set(document, where, value)
    write(path, document)
    outcome = status(config, *(("--json",) if as_json else ()))
    assert outcome.code in {0, 1, 2, 3}
    if outcome.err:
        assert refused(outcome).isprintable()
    else:
        assert outcome.out
