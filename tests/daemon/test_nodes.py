"""Several ``mailwatch run`` processes with one config on one database (PostgreSQL, the
engine of a cluster; the first test also on a SQLite file): each check runs on one node; a
node killed hands its checks over within ``lease_s`` + ``interval_s`` with one ticket and each
notice delivered once; SIGTERM hands them over at once; a node starting while another is
mid-send leaves that notice alone.

The checks are ``service`` checks of a port on loopback: nobody listening is a failure (the
kernel refuses the connection), and a small SMTP greeter started on that port by the test is a
recovery. Notices go to the tests' HTTP receiver through apprise's ``json://``.
"""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from harness.mailservers import MailServers
from harness.postgres import PASSWORD, PostgresCluster
from helpers.daemon import DaemonProcess, free_port, wait_for
from helpers.http_receiver import HttpReceiver
from helpers.roundtrip_config import roundtrip_toml
from helpers.store_engines import postgresql_only
from mailwatch.daemon.node import fair_share
from mailwatch.store.store import Store

LEASE_S = 2.0
INTERVAL_S = 1.0
WAIT_S = 40.0
TAKEOVER_SLACK_S = 1.0
"""Beyond ``lease_s`` + ``interval_s``: the new owner's look after the lapse, its process and
the probe's start on a busy 2-core machine."""


def service_check(name: str, port: int, **extra: Any) -> str:
    keys = "".join(f"{key} = {json.dumps(value)}\n" for key, value in extra.items())
    return f"""
[[checks.service]]
name = "{name}"
protocol = "smtp"
host = "127.0.0.1"
port = {port}
interval_s = {INTERVAL_S}
retry_interval_s = {INTERVAL_S}
timeout_s = 3
{keys}"""


class Node(DaemonProcess):
    """One node: the shared part of the config (``body``) is the same for every node; only
    ``[node] name`` and the state directory (status files) differ."""

    def __init__(
        self,
        tmp_path: Path,
        name: str,
        url: str,
        body: str,
        lease_s: float = LEASE_S,
        env: dict[str, str] | None = None,
    ) -> None:
        home = tmp_path / name
        home.mkdir()
        self.name = name
        self.url = url
        config = f"""
[node]
name = "{name}"
lease_s = {lease_s}

[store]
url = "{url}"

[daemon]
state_dir = "{home / "state"}"
status_interval_s = 1
start_spread_s = 0
shutdown_grace_s = 1
{body}"""
        super().__init__(home, config, env or {})

    def nodes(self) -> list[dict[str, Any]]:
        proc = self.mailwatch("nodes", "--json")
        if proc.returncode != 0:
            return []
        found: list[dict[str, Any]] = json.loads(proc.stdout)
        return found

    def ready(self) -> bool:
        return any(line == "READY=1" for line in self.read_notify())


def holders(node: Node) -> dict[str, list[str]]:
    """Check → the live nodes holding its lease, as ``mailwatch nodes --json`` says."""
    held: dict[str, list[str]] = {}
    for entry in node.nodes():
        if entry["state"] == "live":
            for lease in entry["checks"]:
                held.setdefault(lease["check"], []).append(entry["name"])
    return held


def query(url: str, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    async def run() -> list[tuple[Any, ...]]:
        store = await Store.open(url, create=False)
        try:
            async with store.read() as conn:
                return [tuple(row) for row in (await conn.execute(text(sql), params)).all()]
        finally:
            await store.close()

    return asyncio.run(run())


def results(url: str, check: str) -> list[tuple[int, str, datetime]]:
    """(id, node, started_at) of every stored result of ``check``, oldest first."""
    rows = query(
        url,
        "SELECT id, node, started_at FROM check_results WHERE check_name = :check ORDER BY id",
        check=check,
    )
    return [(int(i), str(n), _instant(s)) for i, n, s in rows]


def _instant(value: Any) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    assert isinstance(value, datetime)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def outbox_statuses(url: str) -> list[str]:
    return [str(status) for (status,) in query(url, "SELECT status FROM outbox ORDER BY id")]


class Greeter:
    """An SMTP server that only greets and says goodbye, on a port chosen before it listens:
    the check of that port fails until the greeter starts."""

    def __init__(self, port: int) -> None:
        self.port = port
        self._sock = socket.socket()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="greeter")

    def start(self) -> Greeter:
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", self.port))
        self._sock.listen()
        self._sock.settimeout(0.1)
        self._thread.start()
        return self

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._sock.accept()
            except TimeoutError:
                continue
            with client:
                client.settimeout(2)
                try:
                    client.sendall(b"220 greeter ESMTP\r\n")
                    client.recv(1024)
                    client.sendall(b"221 bye\r\n")
                except OSError:
                    pass

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5)
        self._sock.close()


@pytest.fixture
def cluster(tmp_path: Path, store_url: str) -> Iterator[Callable[..., Node]]:
    """Makes nodes on one database (``store_url``: each engine); kills leftovers at the end."""
    made: list[Node] = []

    def make(name: str, body: str, **kwargs: Any) -> Node:
        node = Node(tmp_path, name, store_url, body, **kwargs)
        made.append(node)
        return node

    yield make
    for node in made:
        node.stop()


def start_all(first: Node, *others: Node) -> None:
    """The first node creates the database; the others join once it is there."""
    first.start()
    wait_for(f"{first.name} ready", first.ready, WAIT_S)
    for node in others:
        node.start()
    for node in others:
        wait_for(f"{node.name} ready", node.ready, WAIT_S)


def test_three_nodes_one_config_each_check_runs_on_exactly_one_node(
    cluster: Callable[..., Node], store_engine: str, request: pytest.FixtureRequest
) -> None:
    checks = ["svc-1", "svc-2", "svc-3"]
    body = "".join(service_check(name, free_port()) for name in checks)
    nodes = [cluster(name, body) for name in ("node-a", "node-b", "node-c")]
    start_all(*nodes)

    def balanced() -> dict[str, list[str]] | None:
        held = holders(nodes[0])
        owners = [owner for check in checks for owner in held.get(check, [])]
        return held if sorted(owners) == ["node-a", "node-b", "node-c"] else None

    held = wait_for("each node holding one check", balanced, WAIT_S)
    since = {
        check: max((r[0] for r in results(nodes[0].url, check)), default=0) for check in checks
    }

    def three_more_runs_each() -> bool:
        return all(
            len([r for r in results(nodes[0].url, check) if r[0] > since[check]]) >= 3
            for check in checks
        )

    wait_for("three more results of each check", three_more_runs_each, WAIT_S)
    for check in checks:
        ran_on = {node for i, node, _ in results(nodes[0].url, check) if i > since[check]}
        assert ran_on == set(held[check]), (check, ran_on, held)

    # Every node's status file describes every check, the ones the others run included: the
    # owner's last stored result, named by its node (item 9 of issue 14).
    def whole_cluster(node: Node) -> list[dict[str, Any]] | None:
        document = node.status()
        if document is None:
            return None
        shown = [c for c in document["checks"] if c["last_run_at"] is not None]
        return shown if len(shown) == len(checks) else None

    for node in nodes:
        shown = wait_for(f"{node.name}'s status with every check run", partial(whole_cluster, node))
        for entry in shown:
            owner = held[entry["name"]][0]
            assert (entry["node"], entry["site"]) == (owner, owner), (node.name, entry)
            # Nobody listens on the checks' ports: the owner's failure, not "not run yet".
            assert entry["state"] == "critical", (node.name, entry)
            assert entry["stage"] is not None
        text = (node.state_dir / "status.txt").read_text()
        assert f"ran on {held['svc-1'][0]}" in text

    if store_engine == "postgresql":
        # The database server stops under the running nodes and starts again: each node
        # says so once, keeps running, and stores results again once it is back.
        server: PostgresCluster = request.getfixturevalue("postgres_cluster")
        last = max(r[0] for check in checks for r in results(nodes[0].url, check))
        server.pause()
        try:
            for node in nodes:
                wait_for(f"{node.name} telling the outage", partial(_told_outage, node))
            # The nodes stay alive for systemd too: their watchdog is still pinged, so an
            # outage longer than WatchdogSec does not turn into restarts that exit 74.
            pings = {node.name: _watchdog_pings(node) for node in nodes}
            for node in nodes:
                wait_for(
                    f"{node.name} pinging the watchdog during the outage",
                    partial(_pinged_since, node, pings[node.name] + 2),
                )
        finally:
            server.resume()
        for node in nodes:
            wait_for(f"{node.name} telling the database back", partial(_told_back, node))

        def stored_again() -> bool:
            return all(any(r[0] > last for r in results(nodes[0].url, check)) for check in checks)

        wait_for("every check's results stored again", stored_again, WAIT_S)
        for node in nodes:
            assert node.proc is not None and node.proc.poll() is None, node.name
            assert node.stderr.count(OUTAGE) == 1, node.stderr
            assert PASSWORD not in node.stderr
    for node in nodes:
        assert "Traceback" not in node.stderr


OUTAGE = "mailwatch keeps running and trying"


def _told_outage(node: Node) -> bool:
    return OUTAGE in node.stderr


def _watchdog_pings(node: Node) -> int:
    return node.read_notify().count("WATCHDOG=1")


def _pinged_since(node: Node, pings: int) -> bool:
    return _watchdog_pings(node) >= pings


def _told_back(node: Node) -> bool:
    return " is back after " in node.stderr


@postgresql_only
def test_sigkill_of_the_owner_of_a_failing_check_moves_it_with_one_ticket_and_one_notice_each(
    cluster: Callable[..., Node],
) -> None:
    port = free_port()
    with HttpReceiver() as receiver:
        body = (
            service_check("smtp-in", port)
            + f"""
[incidents]
open_after = 2
resolve_after = 1

[routes.ops]
urls = ["{receiver.url("/ops")}"]
"""
        )
        nodes = [cluster(name, body) for name in ("node-a", "node-b", "node-c")]
        start_all(*nodes)
        receiver.wait_for(1, WAIT_S)  # the opening notice
        # Settled before the kill: a kill mid-send would rightly send it again.
        wait_for("the notice delivered", lambda: outbox_statuses(nodes[0].url) == ["delivered"])
        owner_name = wait_for("the check's owner", lambda: holders(nodes[1]).get("smtp-in"))[0]
        owner = next(node for node in nodes if node.name == owner_name)
        others = [node for node in nodes if node is not owner]
        assert owner.proc is not None
        owner.proc.kill()
        killed_at = datetime.now(UTC)
        owner.proc.wait(10)

        def taken_over() -> tuple[int, str, datetime] | None:
            later = [r for r in results(others[0].url, "smtp-in") if r[2] > killed_at]
            return next((r for r in later if r[1] != owner_name), None)

        _, new_owner, first_run = wait_for("another node running the check", taken_over, WAIT_S)
        takeover_s = (first_run - killed_at).total_seconds()
        assert takeover_s <= LEASE_S + INTERVAL_S + TAKEOVER_SLACK_S, takeover_s

        greeter = Greeter(port).start()
        try:
            receiver.wait_for(2, WAIT_S)  # the recovery notice

            def all_settled() -> bool:
                statuses = outbox_statuses(others[0].url)
                return bool(statuses) and all(s == "delivered" for s in statuses)

            wait_for("every notice delivered", all_settled, WAIT_S)
            # Read while the service still answers: once the greeter stops, two failed runs
            # rightly open a new ticket, which a slow machine may get to before these reads.
            tickets = others[0].tickets()
            notices = outbox_statuses(others[0].url)
            received = len(receiver.requests)
        finally:
            greeter.stop()
        assert [(t["check"], t["status"]) for t in tickets] == [("smtp-in", "resolved")]
        assert len(notices) == 2
        assert received == 2
        assert new_owner in {node.name for node in others}


@postgresql_only
def test_sigterm_hands_the_checks_over_at_once(cluster: Callable[..., Node]) -> None:
    lease_s = 9.0
    body = service_check("smtp-in", free_port())
    first, second = (cluster(name, body, lease_s=lease_s) for name in ("node-a", "node-b"))
    start_all(first, second)
    owner_name = wait_for("the check's owner", lambda: holders(first).get("smtp-in"))[0]
    owner, other = (first, second) if owner_name == first.name else (second, first)
    owner.send(signal.SIGTERM)
    stopped_at = datetime.now(UTC)
    assert owner.proc is not None
    assert owner.proc.wait(20) == 0

    def acquired() -> datetime | None:
        rows = query(
            other.url,
            "SELECT acquired_at FROM leases WHERE check_name = 'smtp-in' AND owner = :owner",
            owner=other.name,
        )
        return _instant(rows[0][0]) if rows else None

    taken_at = wait_for("the other node holding the check", acquired, WAIT_S)
    # Renewed every lease_s / 3, a lease that lapsed would have had at least 2/3 of it left.
    assert (taken_at - stopped_at).total_seconds() < lease_s * 2 / 3
    states = {entry["name"]: entry["state"] for entry in other.nodes()}
    assert states == {owner.name: "stopped", other.name: "live"}


@postgresql_only
def test_a_node_starting_while_another_is_mid_send_leaves_the_notice_alone(
    cluster: Callable[..., Node],
) -> None:
    """The receiver holds the one notice for 8 s (four lease periods): the second node starts,
    settles what it takes for interrupted, and looks again every lease_s / 3 meanwhile."""
    with HttpReceiver(hold_s=8.0) as receiver:
        body = (
            service_check("smtp-in", free_port())
            + f"""
[incidents]
open_after = 1

[routes.ops]
urls = ["{receiver.url("/ops")}?rto=30"]
"""
        )
        first, second = (cluster(name, body) for name in ("node-a", "node-b"))
        first.start()
        receiver.wait_for(1, WAIT_S)
        second.start()
        wait_for("the second node ready", second.ready, WAIT_S)
        assert receiver.answered == [], "the second node started after the send ended"
        receiver.wait_until("the answer", lambda: len(receiver.answered) == 1, WAIT_S)
        wait_for(
            "the notice delivered", lambda: outbox_statuses(first.url) == ["delivered"], WAIT_S
        )
        # A resend would have been claimed while the first attempt was held: none was made.
        assert len(receiver.requests) == 1
        assert "interrupted" not in second.stderr


@postgresql_only
def test_the_learned_deadline_carries_on_on_the_next_owner(
    cluster: Callable[..., Node], mail_servers: MailServers
) -> None:
    deadline_s = 30.0
    body = roundtrip_toml(
        mail_servers,
        "canary",
        deadline_s=deadline_s,
        check={"interval_s": INTERVAL_S, "learned_deadline_min_s": 1.0, "timeout_s": 40.0},
        imap={"poll_interval_s": 0.2},
    )
    env = {"MW_TEST_PASSWORD": mail_servers.password}
    first, second = (cluster(name, body, env=env) for name in ("node-a", "node-b"))
    start_all(first, second)

    def learned() -> list[float] | None:
        rows = query(first.url, "SELECT memory FROM check_memory WHERE check_name = 'canary'")
        if not rows:
            return None
        memory = rows[0][0] if isinstance(rows[0][0], dict) else json.loads(rows[0][0])
        latencies: list[float] = memory.get("healthy_latencies_s", [])
        return latencies if len(latencies) >= 5 else None

    wait_for("five healthy round trips remembered", learned, 60)
    owner_name = wait_for("the check's owner", lambda: holders(first).get("canary"))[0]
    owner, other = (first, second) if owner_name == first.name else (second, first)
    assert owner.proc is not None
    owner.proc.kill()
    owner.proc.wait(10)

    def next_owners_result() -> dict[str, Any] | None:
        rows = query(
            other.url,
            "SELECT metrics FROM check_results WHERE check_name = 'canary' AND node = :node "
            "ORDER BY id LIMIT 1",
            node=other.name,
        )
        if not rows:
            return None
        metrics = rows[0][0]
        return metrics if isinstance(metrics, dict) else dict(json.loads(metrics))

    metrics = wait_for("a result of the next owner", next_owners_result, WAIT_S)
    # Its very first run waited the learned deadline, not the configured one.
    assert metrics["deadline_s"] < deadline_s, metrics
    assert "latency_s" in metrics


@postgresql_only
def test_two_nodes_with_one_name_are_told_apart(tmp_path: Path, store_url: str) -> None:
    body = service_check("smtp-in", free_port())
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    twins = [Node(tmp_path / where, "twin", store_url, body) for where in ("one", "two")]
    try:
        start_all(*twins)
        wait_for(
            "the name clash logged",
            lambda: any("another node named twin" in twin.stderr for twin in twins),
            WAIT_S,
        )
    finally:
        for twin in twins:
            twin.stop()


@pytest.mark.parametrize(
    ("wanted", "live", "share"), [(3, 3, 1), (4, 3, 2), (1000, 3, 334), (5, 0, 5), (0, 2, 0)]
)
def test_fair_share(wanted: int, live: int, share: int) -> None:
    assert fair_share(wanted, live) == share
