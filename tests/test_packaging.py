"""What a ``pip install`` of the wheel gives an operator: the licence, the example config and
the systemd unit (printed by ``mailwatch example-config`` and ``example-unit``), the man page,
and metadata under the distribution name mailwatch-monitor. The wheel is built offline from
this checkout (``pip wheel --no-build-isolation``, hatchling from the test extra)."""

from __future__ import annotations

import email.parser
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from mailwatch import __version__
from mailwatch.cli.main import build_parser

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_CONFIG = ROOT / "config" / "mailwatch.example.toml"
UNIT = ROOT / "systemd" / "mailwatch.service"
MANPAGE = ROOT / "man" / "mailwatch.1"
API_DOCUMENT = ROOT / "src" / "mailwatch" / "web" / "openapi.json"
DIST = f"mailwatch_monitor-{__version__}"


def subcommands() -> list[str]:
    parser = build_parser()
    (commands,) = (a for a in parser._actions if a.dest == "command")
    assert commands.choices is not None
    return sorted(commands.choices)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    proc = subprocess.run(
        [
            sys.executable,
            *("-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index"),
            *("--disable-pip-version-check", "-q", "-w", str(out), str(ROOT)),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (built,) = out.glob("*.whl")
    assert built.name == f"{DIST}-py3-none-any.whl"
    return built


def test_the_wheel_ships_licence_example_config_unit_and_man_page(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        read = archive.read
        assert read("mailwatch/shipped/mailwatch.example.toml") == EXAMPLE_CONFIG.read_bytes()
        assert read("mailwatch/shipped/mailwatch.service") == UNIT.read_bytes()
        assert read(f"{DIST}.data/data/share/man/man1/mailwatch.1") == MANPAGE.read_bytes()
        assert read(f"{DIST}.dist-info/licenses/LICENSE") == (ROOT / "LICENSE").read_bytes()
        assert "mailwatch/py.typed" in names
        assert read("mailwatch/web/openapi.json") == API_DOCUMENT.read_bytes()
        metadata = email.parser.Parser().parsestr(read(f"{DIST}.dist-info/METADATA").decode())
        entry_points = read(f"{DIST}.dist-info/entry_points.txt").decode()
    assert metadata["Name"] == "mailwatch-monitor"
    assert metadata["License-Expression"] == "MIT"
    assert "Topic :: System :: Monitoring" in metadata.get_all("Classifier")
    urls = dict(line.split(", ", 1) for line in metadata.get_all("Project-URL"))
    assert set(urls) >= {"Homepage", "Documentation", "Changelog", "Issues"}
    assert "mailwatch = mailwatch.cli:main" in entry_points


def test_installed_wheel_prints_the_shipped_files(wheel: Path, tmp_path: Path) -> None:
    """From an install of the wheel alone (no checkout beside it to fall back on), the
    commands print the very bytes of config/ and systemd/."""
    target = tmp_path / "site"
    install = subprocess.run(
        [
            sys.executable,
            *("-m", "pip", "install", "--no-deps", "--no-index", "--disable-pip-version-check"),
            *("-q", "--target", str(target), str(wheel)),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert install.returncode == 0, install.stdout + install.stderr
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    run = (
        "import sys; sys.path.insert(0, sys.argv[1]); import mailwatch.cli as c; "
        "assert c.__file__.startswith(sys.argv[1]), c.__file__; sys.exit(c.main(sys.argv[2:]))"
    )
    for command, expected in (("example-config", EXAMPLE_CONFIG), ("example-unit", UNIT)):
        proc = subprocess.run(
            [sys.executable, "-c", run, str(target), command],
            capture_output=True,
            check=False,
            timeout=60,
            env=env,
            cwd=tmp_path,
        )
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout == expected.read_bytes()


@pytest.mark.parametrize(
    ("command", "expected"), [("example-config", EXAMPLE_CONFIG), ("example-unit", UNIT)]
)
def test_commands_print_the_files_from_a_checkout(command: str, expected: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "mailwatch", command], capture_output=True, check=False, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == expected.read_bytes()


def test_man_page_is_current_and_names_every_subcommand() -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "manpage"), "--check"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    sections = {line for line in MANPAGE.read_text().splitlines() if line.startswith(".SH ")}
    roff = {name: name.replace("-", "\\-") for name in subcommands()}  # troff escapes a -
    missing = [
        name
        for name, escaped in roff.items()
        if f".SH COMMAND \\fI\\,'mailwatch {escaped}'\\/\\fR" not in sections
    ]
    assert missing == []
    assert f'"mailwatch {__version__}"' in MANPAGE.read_text().splitlines()[0]


@pytest.mark.parametrize("shell", ["bash", "zsh", "tcsh"])
def test_completion_names_every_subcommand(shell: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "mailwatch", "completion", shell],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    missing = [name for name in subcommands() if name not in proc.stdout]
    assert missing == []


def test_bash_completes_subcommands_options_and_config_files(tmp_path: Path) -> None:
    """The bash script, sourced into a real bash, as the shell calls it on TAB."""
    script = tmp_path / "mailwatch.bash"
    script.write_text(
        subprocess.run(
            [sys.executable, "-m", "mailwatch", "completion", "bash"],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        ).stdout
    )
    (tmp_path / "site.toml").write_text("")
    driver = f"""
source {script}
complete_line() {{
  COMP_WORDS=("$@"); COMP_CWORD=$((${{#COMP_WORDS[@]}} - 1))
  COMP_LINE="$*"; COMP_POINT=${{#COMP_LINE}}; COMPREPLY=()
  _shtab_mailwatch mailwatch "${{COMP_WORDS[-1]}}" "${{COMP_WORDS[-2]}}"
  echo "${{COMPREPLY[*]}}"
}}
complete_line mailwatch ""
complete_line mailwatch sil
complete_line mailwatch silence --
complete_line mailwatch tickets -c si
"""
    proc = subprocess.run(
        ["bash", "-c", driver], capture_output=True, text=True, check=False, cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr
    every, sil, options, files = proc.stdout.splitlines()
    assert sorted(every.split()) == subcommands()
    assert sil == "silence"
    assert {"--for", "--reason", "--json", "--config", "--verbose"} <= set(options.split())
    assert files == "site.toml"
