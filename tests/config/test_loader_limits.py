"""``mailwatch validate`` on any file: a size cap, a nesting cap, and one printable line per
problem; for any bytes the loader raises ``ConfigError`` or returns a config."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailwatch.cli.main import main
from mailwatch.config import EX_CONFIG, load_config
from mailwatch.domain.errors import ConfigError

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "mailwatch.example.toml"


def problems(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    return caught.value.problems


def validate(path: Path) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(["validate", "-c", str(path)])
        except SystemExit as exit_:
            assert isinstance(exit_.code, int)
            code = exit_.code
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (
            "a = " + "{b = " * 330 + "1" + "}" * 330,
            "line 1: arrays or tables nested more than 64 levels",
        ),
        ("a = " + "[" * 496, "line 1: arrays or tables nested more than 64 levels"),
        ("\n\na" + ".a" * 32158 + " = 1", "line 3: a dotted key of more than 64 parts"),
        ("[" + ".".join(["t"] * 20_000) + "]\n", "line 1: a dotted key of more than 64 parts"),
    ],
)
def test_nesting_is_refused_before_the_parser_recurses(
    tmp_path: Path, text: str, problem: str
) -> None:
    path = tmp_path / "deep.toml"
    path.write_text(text)
    assert problems(path) == [f"{path}: {problem}"]


def test_brackets_and_dots_in_strings_and_comments_do_not_count(tmp_path: Path) -> None:
    path = tmp_path / "strings.toml"
    path.write_text(
        '[daemon]\nstate_dir = "/tmp/' + "[{." * 100 + '"\n'
        "# " + "[" * 100 + "\n"
        "stale_after_s = 300  # " + "." * 100 + "\n"
        "[incidents]\ntimezone = '''" + "[." * 100 + "'''\n"
    )
    [problem] = problems(path)
    assert problem.startswith("incidents.timezone: unknown time zone '[.[.")


def test_nesting_within_the_cap_is_parsed(tmp_path: Path) -> None:
    path = tmp_path / "ok.toml"
    path.write_text("x = " + "[" * 60 + "]" * 60 + "\n")
    assert problems(path) == ["x: unknown key"]


def test_nesting_through_a_table_header_and_inline_tables_is_refused(tmp_path: Path) -> None:
    # Each part is within the caps; together they nest 65 levels, which the parsed data shows.
    path = tmp_path / "headers.toml"
    path.write_text("[" + ".".join(["t"] * 60) + "]\nx = {a = {b = {c = {d = 1}}}}\n")
    assert problems(path) == ["t" + ".t" * 59 + ".x.a.b.c.d: nested more than 64 levels deep"]


def test_dev_zero_is_read_only_up_to_the_cap() -> None:
    assert problems(Path("/dev/zero")) == ["/dev/zero: file is larger than 10 MB"]


def test_a_file_over_the_cap(tmp_path: Path) -> None:
    path = tmp_path / "big.toml"
    path.write_bytes(b"# " + b"x" * (10 * 2**20))
    assert problems(path) == [f"{path}: file is larger than 10 MB"]


def test_bytes_that_are_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "bin.toml"
    path.write_bytes(b"[daemon]\n\xc3\x28 = 1\n")
    assert problems(path) == [f"{path}: not UTF-8 text (byte 0xc3 at offset 9)"]


def test_a_directory(tmp_path: Path) -> None:
    assert problems(tmp_path) == [f"cannot read {tmp_path}: Is a directory"]


def test_a_key_with_a_newline_and_terminal_escapes_is_one_escaped_line(tmp_path: Path) -> None:
    path = tmp_path / "keys.toml"
    path.write_text('[daemon]\n"bad\\nkey\\u001b[31m\\u009b2J\\u202e" = 1\n')
    code, out, err = validate(path)
    assert code == EX_CONFIG
    assert out == ""
    assert err == (
        f"mailwatch: invalid config {path}:\n"
        "  daemon.bad\\nkey\\x1b[31m\\x9b2J\\u202e: unknown key\n"
    )


def _assert_one_line_each(path: Path) -> None:
    try:
        load_config(path)
    except ConfigError as refused:
        assert refused.problems
        for problem in refused.problems:
            assert problem.isprintable(), problem
            assert len(problem) <= 301


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(content=st.binary(max_size=200))
def test_any_bytes_are_a_config_or_printable_problems(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "any.toml"
    path.write_bytes(content)
    _assert_one_line_each(path)


TOML_PIECES = [
    "[", "]", "{", "}", "[[", "]]", "=", ",", ".", "\n", "#", " ", '"', "'", '"""', "'''",
    "\\", "\\n", "\\u001b", "\x1b", "\x85", "a", "checks", "daemon", "roundtrip", "name",
    "1", "-1", "1.5", "1e400", "inf", "nan", "true", "99999999999999999999", "1979-05-27",
    "07:32:00", "1979-05-27T07:32:00Z", "30s", "10m", '"x"',
]  # fmt: skip


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(pieces=st.lists(st.sampled_from(TOML_PIECES), max_size=60))
def test_any_toml_ish_text_is_a_config_or_printable_problems(
    tmp_path: Path, pieces: list[str]
) -> None:
    path = tmp_path / "toml-ish.toml"
    path.write_text("".join(pieces), encoding="utf-8")
    _assert_one_line_each(path)


EXAMPLE_LINES = EXAMPLE.read_text(encoding="utf-8").splitlines()
SETTINGS = [n for n, line in enumerate(EXAMPLE_LINES) if " = " in line and line[0] not in "#["]

toml_values = st.recursive(
    st.one_of(
        st.integers(-(2**63), 2**63 - 1).map(str),
        st.sampled_from(["inf", "-inf", "nan", "1e308", "-0.0", "true", "false", '""']),
        st.floats(allow_nan=False, allow_infinity=False).map(repr),
        st.text(max_size=12).map(
            lambda s: '"' + s.encode("unicode_escape").decode().replace('"', '\\"') + '"'
        ),
        st.sampled_from(
            [
                "1979-05-27T07:32:00Z",
                "0001-01-01T00:00:00Z",
                "9999-12-31",
                "23:59:59",
                '"99999999999999999d"',
                '"1e9w"',
                '"-5m"',
                '"0"',
                '"24:00-00:00"',
            ]
        ),
    ),
    lambda inner: (
        st.lists(inner, max_size=3).map(lambda xs: "[" + ", ".join(xs) + "]")
        | st.lists(
            st.tuples(st.sampled_from(["a", "host", "port", "name"]), inner), max_size=3
        ).map(lambda kv: "{" + ", ".join(f"{k} = {v}" for k, v in dict(kv).items()) + "}")
    ),
    max_leaves=5,
)


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(changes=st.lists(st.tuples(st.sampled_from(SETTINGS), toml_values), min_size=1, max_size=4))
def test_the_example_with_any_values_is_a_config_or_printable_problems(
    tmp_path: Path, changes: list[tuple[int, str]]
) -> None:
    lines = list(EXAMPLE_LINES)
    for number, value in changes:
        key = lines[number].split(" = ", 1)[0]
        lines[number] = f"{key} = {value}"
    path = tmp_path / "example.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    _assert_one_line_each(path)


def test_a_duration_longer_than_a_timedelta_is_a_problem_line(tmp_path: Path) -> None:
    path = tmp_path / "long.toml"
    path.write_text('[reminders]\nbefore_resolution_due = "99999999999999999999999d"\n')
    [problem] = problems(path)
    assert problem.startswith("reminders.before_resolution_due: invalid duration")


@pytest.mark.parametrize("code", ["true", "5"])
def test_a_refused_code_that_is_a_number_is_a_problem_line(tmp_path: Path, code: str) -> None:
    # Found by the property above: ipaddress read [true] as 0.0.0.1/32, with a warning.
    path = tmp_path / "dnsbl.toml"
    path.write_text(
        '[[checks.dnsbl]]\nname = "bl"\nips = ["192.0.2.1"]\n'
        f'[[checks.dnsbl.zones]]\nzone = "psbl.surriel.com"\nrefused_codes = [{code}]\n'
    )
    assert problems(path) == [
        "checks.dnsbl[0].zones[0].refused_codes[0]: "
        'a network must be a string such as "127.0.0.1/32"'
    ]
