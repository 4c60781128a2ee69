"""Route config: validation with messages that name the key, and the pure route filter."""

from __future__ import annotations

import textwrap
import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from helpers.routes import fallback_chain
from mailwatch.alerts.messages import NoticeFacts
from mailwatch.alerts.routes import Route, build_routes, route_matches, route_test_targets
from mailwatch.config import MailwatchConfig, load_config
from mailwatch.domain.errors import ConfigError
from mailwatch.domain.notices import NoticeKind

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "mailwatch.example.toml"

CALENDAR = """
[calendars.us-eastern]
timezone = "America/New_York"
hours = "09:00-17:00"
holidays = { country = "US" }

[[checks.service]]
name = "canary-main"
protocol = "process"
process_name = "master"

[[checks.service]]
name = "canary-backup"
protocol = "process"
process_name = "master"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "mailwatch.toml"
    path.write_text(textwrap.dedent(text))
    return path


def problems(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text))
    return caught.value.problems


def test_routes_load_with_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MW_NTFY_URL", "ntfys://tk_abcdefgh12345678@ntfy.example.org/mw-alerts")
    config = load_config(
        write(
            tmp_path,
            """
            [routes.team]
            urls = ["env:MW_NTFY_URL", "mailto://127.0.0.1?to=ops@example.test&from=mw@example.test"]
            """,
        )
    )
    team = config.routes["team"]
    assert team.urls[0].get_secret_value().startswith("ntfys://tk_")
    assert "tk_" not in repr(team)  # SecretStr hides it
    assert (team.format, team.min_severity, team.max_severity, team.hours) == ("text", 1, 4, "any")
    assert team.notices == list(NoticeKind)
    assert config.alerts.timeout_s == 30


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '[routes.team]\nformat = "text"\n',
            ["routes.team: a route needs urls, a config_file, or both"],
        ),
        (
            '[routes.team]\nurls = ["json://localhost"]\nfallback = "pager"\n',
            ["(top level): routes.team.fallback names unknown route 'pager' "
             "(defined routes: 'team')"],
        ),
        (
            '[routes.a]\nurls = ["json://localhost"]\nfallback = "b"\n'
            '[routes.b]\nurls = ["json://localhost"]\nfallback = "a"\n',
            ["(top level): routes.a.fallback: fallback routes form a cycle: a -> b -> a"],
        ),
        (
            '[routes.a]\nurls = ["json://localhost"]\nfallback = "a"\n',
            ["(top level): routes.a.fallback: fallback routes form a cycle: a -> a"],
        ),
        (
            '[routes.a]\nurls = ["json://localhost"]\ncalendar = "nope"\nhours = "business"\n',
            ["(top level): routes.a.calendar names unknown calendar 'nope' "
             "(defined calendars: none)"],
        ),
        (
            '[routes.a]\nurls = ["json://localhost"]\nhours = "off_hours"\n',
            ['routes.a: hours = "off_hours" needs a calendar to tell business hours'],
        ),
        (
            '[routes.a]\nurls = ["json://localhost"]\nmin_severity = 3\nmax_severity = 2\n',
            ["routes.a: min_severity (3) must not be above max_severity (2); "
             "1 is the most urgent severity"],
        ),
        (
            '[routes.a]\nurls = ["json://localhost"]\nchecks = ["canary-main"]\n',
            ["(top level): routes.a.checks names unknown check(s): canary-main"],
        ),
        (
            '[routes.a]\nurls = ["json://localhost"]\nconfig_tags = ["ops"]\n',
            ["routes.a: config_tags select services of config_file, which is not set"],
        ),
        (
            '[routes.a]\nurls = ["json://localhost"]\nformat = "rtf"\n',
            ["routes.a.format: Input should be 'text', 'markdown' or 'html'"],
        ),
        (
            '[routes.a]\nurls = ["json://localhost"]\nnotices = ["opened", "paged"]\n',
            ["routes.a.notices[1]: Input should be 'opened', 'escalation', 'reminder', "
             "'breach', 'recovery', 'test' or 'maintenance'"],
        ),
        (
            '[routes.a]\nurls = ["json://localhost"]\ncolour = "red"\n',
            ["routes.a.colour: unknown key"],
        ),
        (
            '[routes."bad name"]\nurls = ["json://localhost"]\n',
            ["routes.bad name.[key]: String should match pattern "
             "'^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'"],
        ),
        (
            '[routes.a]\nurls = ["env:MW_UNSET_URL_FOR_TEST"]\n',
            ["routes.a.urls[0]: environment variable MW_UNSET_URL_FOR_TEST is not set"],
        ),
        (
            '[routes.a]\nurls = ["json://localhost"]\ntest_every = "0"\n',
            ["routes.a.test_every: must be at least 1s (a test notice every moment is noise); "
             "omit it to send none"],
        ),
        (
            '[routes.a]\nurls = ["json://localhost"]\ntest_every = "weekly"\n',
            ["routes.a.test_every: invalid duration 'weekly': use whole numbers with units s, "
             'm, h or d, e.g. "0m", "90s", "15m", "4h" or "1h30m" (wall clock; no business '
             "units here)"],
        ),
        (
            '[routes.a]\nurls = ["json://localhost"]\ntest_failure_severity = 5\n',
            ["routes.a.test_failure_severity: Input should be less than or equal to 4"],
        ),
        (
            '[alerts]\ntimeout_s = 0\n',
            ["alerts.timeout_s: Input should be greater than 0"],
        ),
    ],
)  # fmt: skip
def test_invalid_routes_are_named_by_key(tmp_path: Path, text: str, expected: list[str]) -> None:
    assert problems(tmp_path, text) == expected


def test_missing_apprise_config_file(tmp_path: Path) -> None:
    missing = tmp_path / "apprise.yml"
    assert problems(tmp_path, f'[routes.a]\nconfig_file = "{missing}"\n') == [
        f"routes.a.config_file: apprise config file {missing} does not exist or is not a file"
    ]


def test_bad_template_placeholder_names_the_key(tmp_path: Path) -> None:
    text = """
    [alerts.templates.opened]
    title = "[$ticket] $sev $chek"
    [alerts.templates.recovery]
    body = "fine: $check"
    """
    [problem] = problems(tmp_path, text)
    assert problem.startswith(
        "alerts.templates.opened.title: unknown placeholder $chek; known placeholders: $ticket,"
    )


def test_unknown_notice_kind_in_templates(tmp_path: Path) -> None:
    [problem] = problems(tmp_path, '[alerts.templates.openned]\ntitle = "x"\n')
    assert problem.startswith("alerts.templates.openned.[key]: Input should be 'opened',")


def test_template_override_loads(tmp_path: Path) -> None:
    config = load_config(
        write(tmp_path, '[alerts.templates.opened]\ntitle = "$ticket: $check down"\n')
    )
    assert config.alerts.templates[NoticeKind.OPENED].title == "$ticket: $check down"
    assert config.alerts.templates[NoticeKind.OPENED].body is None


def test_example_config_routes_validate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The documented [routes.*] and [alerts] blocks load (secrets from a fake credentials
    directory and environment); the check sections are left out, they have their own tests."""
    data = tomllib.loads(EXAMPLE.read_text())
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "alerts-smtp-url").write_text(
        "mailtos://alerts%40example.org:app-password@smtp.example.org:587"
        "?to=mail-team@example.org&from=alerts@example.org\n"
    )
    (creds / "oncall-sms-url").write_text("json://sms-gateway.example.org/send/ABCDEFGH123456\n")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
    monkeypatch.setenv("MAILWATCH_NTFY_URL", "ntfys://tk_0123456789abcdef@ntfy.example.org/mw")
    monkeypatch.setenv("MAILWATCH_PUSHOVER_URL", "pover://u" + "1" * 29 + "@a" + "2" * 29)
    monkeypatch.setenv(
        "MAILWATCH_HELPDESK_WEBHOOK", "jsons://helpdesk.example.org/api/v1/tickets/abcdef0123"
    )
    sections = {key: data[key] for key in ("routes", "alerts", "calendars") if key in data}
    config = MailwatchConfig.model_validate(sections)
    assert set(config.routes) >= {"team", "oncall", "helpdesk"}
    assert config.routes["oncall"].max_severity == 1
    assert [r.name for r in fallback_chain(build_routes(config), "oncall")] == ["oncall", "team"]


# --------------------------------------------------------------------------------------------
# route_matches
# --------------------------------------------------------------------------------------------


def routes_from(text: str) -> dict[str, Route]:
    config = MailwatchConfig.model_validate(tomllib.loads(CALENDAR + textwrap.dedent(text)))
    return build_routes(config)


ROUTES = routes_from(
    """
    [routes.everything]
    urls = ["json://localhost"]

    [routes.sev1]
    urls = ["json://localhost"]
    max_severity = 1

    [routes.sev2-3]
    urls = ["json://localhost"]
    min_severity = 2
    max_severity = 3

    [routes.canaries]
    urls = ["json://localhost"]
    checks = ["canary-main", "canary-backup"]

    [routes.customer]
    urls = ["json://localhost"]
    tags = ["customer-facing", "vip"]

    [routes.desk]
    urls = ["json://localhost"]
    calendar = "us-eastern"
    hours = "business"

    [routes.night]
    urls = ["json://localhost"]
    calendar = "us-eastern"
    hours = "off_hours"
    max_severity = 2

    [routes.escalations]
    urls = ["json://localhost"]
    notices = ["escalation", "breach"]
    """
)

FRIDAY_10_EST = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
FRIDAY_18_EST = datetime(2026, 11, 20, 23, 0, tzinfo=UTC)
SATURDAY_10_EST = datetime(2026, 11, 21, 15, 0, tzinfo=UTC)
THANKSGIVING_10_EST = datetime(2026, 11, 26, 15, 0, tzinfo=UTC)
FRIDAY_09_EST = datetime(2026, 11, 20, 14, 0, tzinfo=UTC)  # opening time: open
FRIDAY_17_EST = datetime(2026, 11, 20, 22, 0, tzinfo=UTC)  # closing time: closed


def facts(
    severity: int = 2,
    check: str = "canary-main",
    tags: tuple[str, ...] = (),
    kind: NoticeKind = NoticeKind.OPENED,
) -> NoticeFacts:
    return NoticeFacts(
        ticket="MW-000001", severity=severity, check=check, target=check, kind=kind, tags=tags
    )


@pytest.mark.parametrize(
    ("route", "ticket", "now", "expected"),
    [
        ("everything", facts(severity=4, check="x"), FRIDAY_18_EST, True),
        ("sev1", facts(severity=1), FRIDAY_10_EST, True),
        ("sev1", facts(severity=2), FRIDAY_10_EST, False),
        ("sev2-3", facts(severity=1), FRIDAY_10_EST, False),
        ("sev2-3", facts(severity=2), FRIDAY_10_EST, True),
        ("sev2-3", facts(severity=3), FRIDAY_10_EST, True),
        ("sev2-3", facts(severity=4), FRIDAY_10_EST, False),
        ("canaries", facts(check="canary-backup"), FRIDAY_10_EST, True),
        ("canaries", facts(check="spamd"), FRIDAY_10_EST, False),
        ("customer", facts(tags=("mail", "vip")), FRIDAY_10_EST, True),
        ("customer", facts(tags=("mail",)), FRIDAY_10_EST, False),
        ("customer", facts(tags=()), FRIDAY_10_EST, False),
        ("desk", facts(), FRIDAY_10_EST, True),
        ("desk", facts(), FRIDAY_09_EST, True),
        ("desk", facts(), FRIDAY_17_EST, False),
        ("desk", facts(), FRIDAY_18_EST, False),
        ("desk", facts(), SATURDAY_10_EST, False),
        ("desk", facts(), THANKSGIVING_10_EST, False),
        ("night", facts(), FRIDAY_10_EST, False),
        ("night", facts(), FRIDAY_18_EST, True),
        ("night", facts(), THANKSGIVING_10_EST, True),
        ("night", facts(severity=3), FRIDAY_18_EST, False),
        ("escalations", facts(kind=NoticeKind.OPENED), FRIDAY_10_EST, False),
        ("escalations", facts(kind=NoticeKind.ESCALATION), FRIDAY_10_EST, True),
        ("escalations", facts(kind=NoticeKind.BREACH), FRIDAY_10_EST, True),
        # A route test's ticket is about the alert path: check and tag filters let it by.
        ("canaries", facts(check="route-test:desk"), FRIDAY_10_EST, True),
        ("customer", facts(check="route-test:desk"), FRIDAY_10_EST, True),
        ("sev1", facts(check="route-test:desk"), FRIDAY_10_EST, False),
    ],
)
def test_route_matches(route: str, ticket: NoticeFacts, now: datetime, expected: bool) -> None:
    assert route_matches(ROUTES[route], ticket, now) is expected


ROUTE_TESTS = routes_from(
    """
    [routes.chat]
    urls = ["json://localhost"]
    test_every = "7d"
    fallback = "pager"

    [routes.pager]
    urls = ["json://localhost"]

    [routes.lonely]
    urls = ["json://localhost"]
    test_every = "1d"

    [routes.mail]
    urls = ["json://localhost"]
    """
)


@pytest.mark.parametrize(
    ("check", "expected"),
    [
        ("route-test:chat", ["pager"]),
        ("route-test:lonely", ["chat", "pager", "mail"]),
        ("canary-main", None),
    ],
)
def test_route_test_tickets_go_to_the_fallback_never_the_failing_route(
    check: str, expected: list[str] | None
) -> None:
    targets = route_test_targets(ROUTE_TESTS, check)
    assert (list(targets) if targets is not None else None) == expected


def test_route_test_settings_load(tmp_path: Path) -> None:
    config = load_config(
        write(
            tmp_path,
            """
            [routes.chat]
            urls = ["json://localhost"]
            test_every = "1w"
            test_failure_severity = 1
            """,
        )
    )
    chat = config.routes["chat"]
    assert (chat.test_every, chat.test_failure_severity) == (timedelta(days=7), 1)
