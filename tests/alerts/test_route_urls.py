"""Route URLs apprise cannot use: named by key, never echoed, refused by ``validate`` and at
daemon start (exit 78), while loading the config alone does not ask apprise."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from mailwatch.alerts.route_urls import check_route_urls
from mailwatch.config import load_config
from mailwatch.domain.errors import ConfigError

UNUSABLE = """
[routes.team]
urls = ["json://localhost", "bogus://user:TopSecretPass@example.org/TOKENTOKEN", "ntfy-topic"]
"""

EXPECTED = [
    "routes.team.urls[1]: apprise cannot use this bogus:// URL: the scheme is unknown, or a "
    "part the service needs is missing or malformed (see the apprise wiki for its URL format)",
    "routes.team.urls[2]: not an apprise URL: expected SCHEME://..., e.g. "
    "ntfys://ntfy.example.org/topic or mailtos://user:password@smtp.example.org",
]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "mailwatch.toml"
    path.write_text(textwrap.dedent(text))
    return path


def problems(tmp_path: Path, text: str) -> list[str]:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        check_route_urls(path, load_config(path))
    return caught.value.problems


def test_a_url_apprise_cannot_use_is_rejected_without_echoing_it(tmp_path: Path) -> None:
    found = problems(tmp_path, UNUSABLE)
    assert found == EXPECTED
    assert not any("TopSecretPass" in p or "TOKENTOKEN" in p or "ntfy-topic" in p for p in found)


def test_usable_urls_pass(tmp_path: Path) -> None:
    path = write(tmp_path, '[routes.team]\nurls = ["json://localhost"]\n')
    check_route_urls(path, load_config(path))


@pytest.mark.parametrize("command", ["validate", "run"])
def test_validate_and_run_refuse_an_unusable_url_with_exit_78(tmp_path: Path, command: str) -> None:
    path = write(tmp_path, f'[daemon]\nstate_dir = "{tmp_path / "state"}"\n{UNUSABLE}')
    proc = subprocess.run(
        [sys.executable, "-m", "mailwatch", command, "-c", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 78, proc.stdout + proc.stderr
    assert proc.stderr.splitlines()[1:] == [f"  {problem}" for problem in EXPECTED]
    assert "TopSecretPass" not in proc.stderr
    assert not (tmp_path / "state").exists()
