"""The web server of a real ``mailwatch run``: started by ``[web] listen``, ``/healthz``
answered without login, and a port it cannot bind refused at start."""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from helpers.daemon import DaemonProcess, free_port, wait_for


def get(url: str) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[tuple[DaemonProcess, int]]:
    port = free_port()
    config = f"""
[daemon]
state_dir = "{tmp_path / "state"}"
status_interval_s = 1

[web]
listen = "127.0.0.1:{port}"
"""
    process = DaemonProcess(tmp_path, config, {}).start()
    try:
        yield process, port
    finally:
        process.stop()


def _answers(url: str) -> tuple[int, dict[str, Any]] | None:
    try:
        return get(url)
    except (urllib.error.URLError, ConnectionError):
        return None


def test_healthz_reports_a_fresh_heartbeat_without_login(
    daemon: tuple[DaemonProcess, int],
) -> None:
    process, port = daemon
    url = f"http://127.0.0.1:{port}/healthz"
    _, body = wait_for(
        "a fresh heartbeat on /healthz",
        lambda: (found := _answers(url)) and found[0] == 200 and found,
    )
    assert body["status"] == "ok"
    assert 0 <= body["heartbeat_age_s"] <= 60
    assert "web pages on http://127.0.0.1:" in process.stderr


def test_a_port_in_use_stops_the_start_with_the_key_named(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = f"""
[daemon]
state_dir = "{tmp_path / "state"}"

[web]
listen = "127.0.0.1:{port}"
"""
        process = DaemonProcess(tmp_path, config, {}).start()
        try:
            assert process.proc is not None
            assert process.proc.wait(30) == 1
        finally:
            process.stop()
    assert f"[web] listen = '127.0.0.1:{port}': cannot listen there" in process.stderr
