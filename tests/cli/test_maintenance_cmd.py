"""``mailwatch maintenance list`` as an operator runs it (a subprocess), before the daemon has
run and after its announcer told a real local HTTP receiver of a window."""

from __future__ import annotations

import asyncio
import json
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from helpers.cli import in_process
from helpers.http_receiver import HttpReceiver
from mailwatch.alerts.announcer import Announcer
from mailwatch.config.loader import load_config
from mailwatch.store.store import Store


def write_config(tmp_path: Path, receiver_url: str, start: datetime) -> Path:
    path = tmp_path / "mailwatch.toml"
    path.write_text(
        f"""
[daemon]
state_dir = "{tmp_path / "state"}"

[routes.team]
urls = ["{receiver_url}"]

[[checks.service]]
name = "smtp-in"
protocol = "smtp"
host = "127.0.0.1"

[[maintenance]]
name = "upgrade"
checks = ["smtp-in"]
start = "{start.isoformat()}"
end = "{(start + timedelta(hours=2)).isoformat()}"
announce_before = "3d"

[[maintenance]]
name = "nightly"
days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
from = "03:00"
to = "03:30"
timezone = "UTC"
""",
        encoding="utf-8",
    )
    return path


def mailwatch(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return in_process(["maintenance", "list", "-c", str(config), *args])


def upgrade(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return next(r for r in rows if r["window"] == "upgrade")


async def announce(config_path: Path, now: datetime) -> None:
    config = load_config(config_path)
    store = await Store.open(config.store.resolved_url(config.daemon.state_dir))
    try:
        await Announcer(store, lambda: config).run_once(now)
    finally:
        await store.close()


def test_lists_the_planned_windows_and_what_was_announced(tmp_path: Path) -> None:
    # Two days ahead: inside the 3-day lead, so the "ahead" notice is due already.
    start = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0)
    with HttpReceiver() as receiver:
        config = write_config(tmp_path, receiver.url("/team"), start)

        before = mailwatch(config, "--json")
        assert before.returncode == 0, before.stderr
        rows = json.loads(before.stdout)
        row = upgrade(rows)
        assert row["starts_at"] == start.isoformat()
        assert row["announce_at"] == (start - timedelta(days=3)).isoformat()
        assert (row["checks"], row["routes"], row["announced"]) == (["smtp-in"], ["team"], False)
        assert row["announcements"] == {"ahead": {}, "started": {}, "ended": {}}
        # The nightly window is planned (no announce_before): listed, announced to nobody.
        nightly = [r for r in rows if r["window"] == "nightly"]
        assert 28 <= len(nightly) <= 31
        assert all(r["announce_at"] is None and r["routes"] == [] for r in nightly)

        asyncio.run(announce(config, datetime.now(UTC)))
        assert len(receiver.requests) == 1

    after = mailwatch(config, "--json")
    row = upgrade(json.loads(after.stdout))
    assert row["announced"] is True
    assert row["announcements"]["ahead"]["team"]["status"] == "delivered"
    text = mailwatch(config, "--days", "3")
    assert text.returncode == 0, text.stderr
    line = next(x for x in text.stdout.splitlines() if x.startswith("upgrade"))
    assert "smtp-in" in line and "ahead: delivered to team" in line
    assert text.stdout.splitlines()[0].split() == [
        "WINDOW", "STARTS", "ENDS", "CHECKS", "ANNOUNCE", "AT", "ANNOUNCED"
    ]  # fmt: skip


def test_a_bad_days_value_is_a_usage_error(tmp_path: Path) -> None:
    config = write_config(tmp_path, "json://127.0.0.1:9/", datetime.now(UTC))
    proc = mailwatch(config, "--days", "0")
    assert proc.returncode == 2
    assert "--days must be 1 to 366, got 0" in proc.stderr
