"""``run_from`` and ``quorum``: the sites that run a check and how many must fail to page."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from mailwatch.config import load_config
from mailwatch.domain.errors import ConfigError

SERVICE = """
[[checks.service]]
name = "smtp"
protocol = "smtp"
host = "127.0.0.1"
port = 25
"""


def load(tmp_path: Path, extra: str) -> list[str] | object:
    path = tmp_path / "mailwatch.toml"
    path.write_text(textwrap.dedent(SERVICE + extra))
    try:
        return load_config(path)
    except ConfigError as exc:
        return exc.problems


def test_no_run_from_runs_anywhere_and_votes_not(tmp_path: Path) -> None:
    config = load(tmp_path, "")
    check = config.check_named("smtp")  # type: ignore[attr-defined]
    assert not check.votes
    assert check.runs_at(None) and check.runs_at("site-a")


def test_listed_sites_run_the_check_and_others_do_not(tmp_path: Path) -> None:
    config = load(tmp_path, 'run_from = ["site-a", "site-b", "site-c"]\nquorum = 3\n')
    check = config.check_named("smtp")  # type: ignore[attr-defined]
    assert check.votes and check.quorum == 3
    assert check.runs_at("site-b")
    assert not check.runs_at("site-d")
    assert not check.runs_at(None)


def test_all_runs_at_every_site(tmp_path: Path) -> None:
    config = load(tmp_path, 'run_from = "all"\n')
    check = config.check_named("smtp")  # type: ignore[attr-defined]
    assert check.votes and check.runs_at("anywhere")


@pytest.mark.parametrize(
    ("extra", "problem"),
    [
        (
            'run_from = ["a", "b"]\nquorum = 3\n',
            "checks.service[0]: quorum (3) must be 1 to the number of sites in run_from (2)",
        ),
        (
            'run_from = ["a", "b"]\nquorum = 0\n',
            "checks.service[0].quorum: Input should be greater than or equal to 1",
        ),
        (
            "quorum = 2\n",
            "checks.service[0]: quorum needs run_from: the sites whose results vote",
        ),
        (
            "run_from = []\n",
            'checks.service[0].run_from: run_from lists no site: name at least one, or "all"',
        ),
        (
            'run_from = ["a", "b", "a"]\n',
            "checks.service[0].run_from: run_from names a site twice: a",
        ),
    ],
)
def test_impossible_votes_are_refused_naming_the_key(
    tmp_path: Path, extra: str, problem: str
) -> None:
    assert load(tmp_path, extra) == [problem]


def test_a_site_name_must_be_plain_and_a_word_must_be_all(tmp_path: Path) -> None:
    assert load(tmp_path, 'run_from = ["site a"]\n') == [
        "checks.service[0].run_from: run_from: site 'site a' is not a plain name "
        "(letters, digits, . _ -)"
    ]
    assert load(tmp_path, 'run_from = "elsewhere"\n') == [
        "checks.service[0].run_from: run_from is 'elsewhere': a list of sites, or \"all\""
    ]
