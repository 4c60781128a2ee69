"""An invalid config names the key and exits 78; secrets come from env, files or credentials."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from mailwatch.config import load_config
from mailwatch.config.loader import secret_problems
from mailwatch.config.secrets import SecretMode
from mailwatch.domain.errors import ConfigError, SecretUnavailableError

VALID_ROUTE = """
[[checks.roundtrip]]
name = "main"
mail_from = "mailwatch@example.test"
rcpt_to = "canary@example.test"
[checks.roundtrip.smtp]
host = "127.0.0.1"
{smtp_extra}
[checks.roundtrip.imap]
host = "127.0.0.1"
username = "canary@example.test"
password = {imap_password}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "mailwatch.toml"
    path.write_text(textwrap.dedent(text))
    return path


def route(smtp_extra: str = "", imap_password: str = '"secret"') -> str:
    return VALID_ROUTE.format(smtp_extra=smtp_extra, imap_password=imap_password)


def problems(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    return caught.value.problems


def test_empty_file_is_valid(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, ""))
    assert list(config.checks) == []


def test_bad_port_and_unknown_key_are_named_by_dotted_path(tmp_path: Path) -> None:
    path = write(tmp_path, route(smtp_extra="port = 70000\ncolour = 'blue'"))
    assert problems(path) == [
        "checks.roundtrip[0].smtp.port: Input should be less than or equal to 65535",
        "checks.roundtrip[0].smtp.colour: unknown key",
    ]


def test_keys_of_tagged_entries_are_named_as_written(tmp_path: Path) -> None:
    """A ``[[checks.service]]`` entry is validated by the model its ``protocol`` picks;
    the problem names the key as the file has it, not through pydantic's tag (``.smtp.``),
    even when the tag is also a key of the entry (``banner``) or of the roundtrip (``smtp``)."""
    path = write(
        tmp_path,
        route(smtp_extra="port = 70000")
        + """
[[checks.service]]
name = "smtp"
protocol = "smtp"
host = "mx"
port = 70000

[[checks.service]]
name = "pop3"
protocol = "banner"
host = "mx"
banner = "("

[[checks.queue]]
name = "relay"
mta = "command"
command = ["mailq"]
count_pattern = "(a)(b)"
""",
    )
    assert problems(path) == [
        "checks.roundtrip[0].smtp.port: Input should be less than or equal to 65535",
        "checks.service[0].port: Input should be less than or equal to 65535",
        "checks.service[1].banner: not a valid regular expression: "
        "missing ), unterminated subpattern at position 0",
        "checks.queue[0].count_pattern: needs exactly one group (the count), has 2",
    ]


def test_missing_required_key(tmp_path: Path) -> None:
    path = write(tmp_path, route().replace('rcpt_to = "canary@example.test"\n', ""))
    assert problems(path) == ["checks.roundtrip[0].rcpt_to: required key is missing"]


def test_unknown_top_level_section(tmp_path: Path) -> None:
    assert problems(write(tmp_path, "[chekcs]\n")) == ["chekcs: unknown key"]


def test_toml_syntax_error_names_the_line(tmp_path: Path) -> None:
    [problem] = problems(write(tmp_path, "[checks\n"))
    assert "TOML syntax error" in problem
    assert "line 1" in problem


def test_duplicate_check_names_and_unknown_dependency(tmp_path: Path) -> None:
    twice = route() + route().replace("[[checks.roundtrip]]", "[[checks.roundtrip]]", 1)
    assert problems(write(tmp_path, twice)) == [
        "(top level): check names must be unique; repeated: main"
    ]
    dangling = route().replace('name = "main"', 'name = "main"\ndepends_on = ["imap-up"]')
    assert problems(write(tmp_path, dangling)) == [
        "(top level): check main depends_on unknown check(s): imap-up"
    ]


def test_timeout_must_exceed_deadline(tmp_path: Path) -> None:
    text = route().replace('name = "main"', 'name = "main"\ndeadline_s = 60\ntimeout_s = 30')
    assert problems(write(tmp_path, text)) == [
        "checks.roundtrip[0]: timeout_s (30) must exceed deadline_s (60) so the probe can "
        "report a missing canary and clean up"
    ]


def test_timeout_defaults_to_deadline_plus_grace(tmp_path: Path) -> None:
    text = route().replace('name = "main"', 'name = "main"\ndeadline_s = 45')
    [check] = load_config(write(tmp_path, text)).checks
    assert check.timeout_s == 75


def test_secret_from_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MW_TEST_PASSWORD", "from-env")
    [check] = load_config(write(tmp_path, route(imap_password='"env:MW_TEST_PASSWORD"'))).checks
    assert check.imap.password.get_secret_value() == "from-env"  # type: ignore[attr-defined]


def test_secret_from_file_takes_the_first_line(tmp_path: Path) -> None:
    secret = tmp_path / "pw"
    secret.write_text("from-file\nsecond line\n")
    [check] = load_config(write(tmp_path, route(imap_password=f'"file:{secret}"'))).checks
    assert check.imap.password.get_secret_value() == "from-file"  # type: ignore[attr-defined]


def test_secret_from_systemd_credential(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "imap-password").write_text("from-credential\n")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path))
    text = route(imap_password='"credential:imap-password"')
    [check] = load_config(write(tmp_path, text)).checks
    assert check.imap.password.get_secret_value() == "from-credential"  # type: ignore[attr-defined]


def test_missing_secret_sources_are_clear(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    monkeypatch.delenv("MW_TEST_UNSET", raising=False)
    assert problems(write(tmp_path, route(imap_password='"env:MW_TEST_UNSET"'))) == [
        "checks.roundtrip[0].imap.password: environment variable MW_TEST_UNSET is not set"
    ]
    missing = tmp_path / "nope"
    assert problems(write(tmp_path, route(imap_password=f'"file:{missing}"'))) == [
        f"checks.roundtrip[0].imap.password: cannot read {missing}: No such file or directory"
    ]
    [problem] = problems(write(tmp_path, route(imap_password='"credential:pw"')))
    assert "CREDENTIALS_DIRECTORY is not set" in problem


def test_lazy_secrets_are_read_when_first_used(tmp_path: Path) -> None:
    """``SecretMode.LAZY`` (every command but ``run``) loads a config whose secret file does
    not exist yet; the value is read when asked for, and a missing one says why."""
    secret = tmp_path / "imap-password"
    config = load_config(write(tmp_path, route(imap_password=f'"file:{secret}"')), SecretMode.LAZY)
    [check] = config.checks
    password = check.imap.password  # type: ignore[attr-defined]
    with pytest.raises(SecretUnavailableError, match=f"cannot read {secret}"):
        password.get_secret_value()
    secret.write_text("from-file\n")
    assert password.get_secret_value() == "from-file"
    assert "from-file" not in repr(config)
    assert secret_problems(config) == []


def test_secrets_never_appear_in_errors_or_repr(tmp_path: Path) -> None:
    text = route(smtp_extra='port = "not a port"\npassword = "hunter2-secret"')
    lines = problems(write(tmp_path, text))
    assert lines
    assert not any("hunter2" in line for line in lines)
    [check] = load_config(write(tmp_path, route(imap_password='"hunter2-secret"'))).checks
    assert "hunter2" not in repr(check)


def test_cli_exits_78_with_one_line_per_problem(tmp_path: Path) -> None:
    path = write(tmp_path, route(smtp_extra="port = 0\ntls = 'ssl'"))
    proc = subprocess.run(
        [sys.executable, "-m", "mailwatch", "validate", "-c", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 78
    assert proc.stderr.splitlines()[1:] == [
        "  checks.roundtrip[0].smtp.tls: Input should be 'none', 'starttls' or 'tls'",
        "  checks.roundtrip[0].smtp.port: Input should be greater than or equal to 1",
    ]


def test_config_path_from_environment(tmp_path: Path) -> None:
    path = write(tmp_path, "")
    proc = subprocess.run(
        [sys.executable, "-m", "mailwatch", "validate"],
        capture_output=True,
        text=True,
        check=False,
        env={"MAILWATCH_CONFIG": str(path), "PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode == 0, proc.stderr
    assert "config OK: 0 check(s)" in proc.stdout


def test_shipped_example_plans_load_as_a_whole_config() -> None:
    path = Path(__file__).resolve().parents[2] / "config" / "sla-plans.toml"
    config = load_config(path)
    assert list(config.checks) == []
    assert "netgovern-premium" in config.plans
    assert config.plans["netgovern-premium"].calendar in config.calendars


def test_plan_with_unknown_calendar_and_check_with_unknown_plan(tmp_path: Path) -> None:
    text = '[plans.gold]\ncalendar = "nowhere"\nsev1 = { response = "1h" }\n'
    [problem] = problems(write(tmp_path, text))
    assert problem.startswith("(top level): ")
    assert "nowhere" in problem
    with_plan = route().replace('name = "main"', 'name = "main"\nplan = "gold"')
    assert problems(write(tmp_path, with_plan)) == [
        "(top level): check main names unknown plan gold"
    ]


def test_outbox_retention_is_whole_days_from_one(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, "")).outbox.retention_days == 30
    assert (
        load_config(write(tmp_path, "[outbox]\nretention_days = 90\n")).outbox.retention_days == 90
    )
    assert problems(write(tmp_path, "[outbox]\nretention_days = 0\n")) == [
        "outbox.retention_days: Input should be greater than or equal to 1"
    ]
    assert problems(write(tmp_path, "[outbox]\nretention_days = 1.5\n")) == [
        "outbox.retention_days: Input should be a valid integer, got a number with a fractional "
        "part"
    ]


@pytest.mark.parametrize(
    "bounces",
    [
        pytest.param("[checks.roundtrip.bounces]\nmailbox = 'Bounces'\n", id="neither"),
        pytest.param(
            "[checks.roundtrip.bounces]\nsame_account = true\n"
            "[checks.roundtrip.bounces.imap]\nhost = 'h'\nusername = 'u'\npassword = 'p'\n",
            id="both",
        ),
    ],
)
def test_bounces_read_one_account(tmp_path: Path, bounces: str) -> None:
    assert problems(write(tmp_path, route() + bounces)) == [
        "checks.roundtrip[0].bounces: set either same_account = true or a "
        "[checks.roundtrip.bounces.imap] table (the mailbox of mail_from), not both and not "
        "neither"
    ]


def test_a_subject_variant_is_one_line(tmp_path: Path) -> None:
    canary = '[checks.roundtrip.canary]\nsubject_variants = ["fine", "two\\nlines"]\n'
    assert problems(write(tmp_path, route() + canary)) == [
        "checks.roundtrip[0].canary.subject_variants[1]: must be one line (it goes into a mail "
        "header or a sentence)"
    ]
