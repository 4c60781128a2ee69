"""``mailwatch web hash-password``: the hash it prints logs alice in; the password comes from
stdin (or a terminal), never from the command line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from argon2 import PasswordHasher

from mailwatch.config import load_config


def hash_password(stdin: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mailwatch", "web", "hash-password"],
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        env={**os.environ},
    )


def test_the_printed_hash_checks_the_password_and_loads_as_config(tmp_path: Path) -> None:
    done = hash_password("s3cret phrase\n")
    assert done.returncode == 0, done.stderr
    printed = done.stdout.strip()
    assert printed.startswith("$argon2id$")
    assert PasswordHasher().verify(printed, "s3cret phrase")
    assert "s3cret" not in done.stdout + done.stderr
    config = tmp_path / "mailwatch.toml"
    config.write_text(f"[web.users.alice]\npassword_hash = '{printed}'\n")
    assert load_config(config).web.users["alice"].password_hash.get_secret_value() == printed


def test_an_empty_password_is_refused() -> None:
    done = hash_password("\n")
    assert done.returncode == 2
    assert done.stdout == ""
    assert "empty" in done.stderr


def test_a_password_given_as_an_argument_is_not_accepted() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mailwatch", "web", "hash-password", "hunter2"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 2
    assert "unrecognized arguments" in done.stderr
