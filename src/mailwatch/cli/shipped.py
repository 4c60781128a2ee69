"""The files mailwatch ships beside its code: the example config and the systemd unit.

In a wheel they are package data under ``mailwatch/shipped/`` (pyproject's ``force-include``
copies them from ``config/`` and ``systemd/``); in a checkout (an editable install, the tests)
they are read where they live in the repository, so both print the same bytes.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

SHIPPED = {
    "mailwatch.example.toml": "config/mailwatch.example.toml",
    "mailwatch.service": "systemd/mailwatch.service",
}
"""Each shipped file's name in the package, and its path in the repository."""


def shipped_bytes(name: str) -> bytes:
    """The bytes of a shipped file; ``FileNotFoundError`` if this install has lost it."""
    packaged = resources.files("mailwatch").joinpath("shipped", name)
    if packaged.is_file():
        return packaged.read_bytes()
    checkout = Path(__file__).resolve().parents[3] / SHIPPED[name]
    if checkout.is_file():
        return checkout.read_bytes()
    raise FileNotFoundError(f"{name} is missing from this installation of mailwatch")
