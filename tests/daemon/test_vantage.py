"""Vantage points that vote, end to end: three real ``mailwatch run`` processes, one per site,
on one shared database (a throwaway PostgreSQL database: the engine of a cluster), each running the
same round trip through the harness's real Postfix and Dovecot, with alerts to a real HTTP
receiver.

Breaking the mail route of one site (its node's config points SMTP at a port that refuses)
shows below quorum and pages nobody; breaking it for a second site opens one ticket with one
notice; repairing both resolves it with one recovery notice.
"""

from __future__ import annotations

import signal
import socket
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.mailservers import MailServers
from harness.postgres import PASSWORD
from helpers.daemon import DaemonProcess, free_port, wait_for
from helpers.http_receiver import HttpReceiver
from helpers.roundtrip_config import roundtrip_toml
from helpers.store_engines import postgresql_only

pytestmark = postgresql_only

SITES = ("a", "b", "c")


def refusing_port() -> int:
    """A loopback port nothing listens on: connecting is refused at once."""
    port = free_port()
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0
    return port


def node_config(
    servers: MailServers,
    site: str,
    tmp_path: Path,
    store_url: str,
    receiver: HttpReceiver,
    smtp_port: int | None = None,
    metrics_port: int | None = None,
) -> str:
    roundtrip = roundtrip_toml(
        servers,
        "flow",
        user=servers.second,
        deadline_s=3,
        check={"interval_s": 1.5, "run_from": [f"site-{s}" for s in SITES]},
        smtp={"command_timeout_s": 3},
        imap={"poll_interval_s": 0.5, "command_timeout_s": 3},
    )
    if smtp_port is not None:
        # This site's route to the mail server: refused, while the other sites' still works.
        roundtrip = roundtrip.replace(f"port = {servers.smtp_port}\n", f"port = {smtp_port}\n")
    metrics = f'[metrics]\nlisten = "127.0.0.1:{metrics_port}"\n' if metrics_port else ""
    return f"""
[daemon]
state_dir = "{tmp_path / f"node-{site}" / "state"}"
status_interval_s = 1
start_spread_s = 0
shutdown_grace_s = 0

[store]
url = "{store_url}"

[node]
name = "node-{site}"
site = "site-{site}"
lease_s = 30

[incidents]
open_after = 2
resolve_after = 2

[outbox]
group_wait_s = 0
retry_initial_s = 1
poll_interval_s = 0.2

[routes.team]
urls = ["{receiver.url("/team")}"]

[escalation.sev1]
steps = [{{ after = "0m", routes = ["team"] }}]
{metrics}{roundtrip}"""


class Cluster:
    """Three nodes, one per site; ``route(site, port)`` rewrites a node's config and reloads."""

    def __init__(
        self, servers: MailServers, tmp_path: Path, store_url: str, receiver: HttpReceiver
    ) -> None:
        self.servers, self.tmp_path, self.store_url = servers, tmp_path, store_url
        self.receiver = receiver
        self.metrics_port = free_port()
        self.nodes: dict[str, DaemonProcess] = {}
        for site in SITES:
            where = tmp_path / f"node-{site}"
            where.mkdir()
            self.nodes[site] = DaemonProcess(
                where, self.config(site), {"MW_TEST_PASSWORD": servers.password}
            )

    def config(self, site: str, smtp_port: int | None = None) -> str:
        metrics = self.metrics_port if site == "a" else None
        return node_config(
            self.servers, site, self.tmp_path, self.store_url, self.receiver, smtp_port, metrics
        )

    def route(self, site: str, smtp_port: int | None) -> None:
        node = self.nodes[site]
        node.config.write_text(self.config(site, smtp_port))
        node.send(signal.SIGHUP)

    def stop(self) -> None:
        for node in self.nodes.values():
            node.stop()


@pytest.fixture
def cluster(
    mail_servers: MailServers, tmp_path: Path, store_url: str
) -> Iterator[tuple[Cluster, HttpReceiver]]:
    _empty(mail_servers)
    with HttpReceiver() as receiver:
        made = Cluster(mail_servers, tmp_path, store_url, receiver)
        try:
            # One after the other: three nodes' first lease transactions at the same instant
            # on PostgreSQL can fail to serialize, which i14-nodes' start does not retry yet.
            for site, node in made.nodes.items():
                node.start()
                wait_for(f"node {site} started", node.status, timeout_s=30)
            yield made, receiver
        finally:
            made.stop()
            _empty(mail_servers)
            for site, node in made.nodes.items():  # shown by pytest when the test failed
                print(f"--- node-{site} stderr ---\n{node.stderr[-6000:]}")
    # The store password (PostgreSQL's) never reaches a log.
    for node in made.nodes.values():
        assert PASSWORD not in node.stderr


def _empty(servers: MailServers) -> None:
    for path in servers.maildir_files("second"):
        path.unlink(missing_ok=True)


def flow(node: DaemonProcess) -> dict[str, Any] | None:
    return node.check_status("flow")


def sites_in(check: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    if check is None or check.get("vote") is None:
        return {}
    return {s["site"]: s for s in check["vote"]["sites"] if s["current"]}


def posts(receiver: HttpReceiver) -> list[str]:
    return [str(r.json()["title"]) for r in list(receiver.requests) if r.path == "/team"]


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
        text: str = answer.read().decode()
        return text


def test_one_site_failing_is_below_quorum_two_open_one_ticket_repair_resolves_it(
    cluster: tuple[Cluster, HttpReceiver],
) -> None:
    nodes, receiver = cluster
    a = nodes.nodes["a"]
    wait_for(
        "every site's round trip ok, as node a sees it",
        lambda: (
            (s := sites_in(flow(a))) and len(s) == 3 and all(v["state"] == "ok" for v in s.values())
        ),
        timeout_s=60,
    )

    # One site's route breaks: the mark shows on every node, nobody is paged.
    nodes.route("c", refusing_port())
    seen: set[str] = set()

    def site_c_failed_often() -> bool:
        site = sites_in(flow(a)).get("site-c")
        if site is not None and site["state"] == "critical":
            seen.add(site["at"])
        return len(seen) >= 4  # twice open_after: well past site c's own confirmation

    wait_for("site c failing, result after result", site_c_failed_often, timeout_s=60)
    check = flow(a)
    assert check is not None
    assert check["below_quorum"] is True, check
    assert check["state"] == "ok", check
    assert check["vote"]["sites_failing"] == 1
    assert "below quorum: failing at 1 of 3 sites (site-c), quorum 2" in check["summary"]
    assert sites_in(check)["site-c"]["node"] == "node-c"
    assert a.tickets() == []
    assert receiver.requests == []
    shown = a.mailwatch("status")
    assert "BELOW QUORUM: 1 site(s) failing, quorum 2" in shown.stdout, shown
    assert "site site-c (node-c): critical" in shown.stdout
    metrics = scrape(nodes.metrics_port)
    assert 'mailwatch_check_below_quorum{check="flow"} 1.0' in metrics
    assert 'mailwatch_check_sites_failing{check="flow"} 1.0' in metrics

    # A second site's route breaks: a quorum fails, one ticket, one notice.
    nodes.route("b", refusing_port())
    [ticket] = wait_for(
        "a ticket", lambda: [t for t in a.tickets() if t["status"] != "resolved"], timeout_s=45
    )
    assert ticket["check"] == "flow"
    assert ticket["last_stage"] == "smtp_connect", ticket
    [opened] = wait_for("the opened notice", lambda: posts(receiver), timeout_s=30)
    assert opened.startswith(f"[{ticket['ticket']}] SEV1 flow")
    check = wait_for(
        "the check critical by the vote",
        lambda: (c := flow(a)) and c["state"] == "critical" and c,
        timeout_s=30,
    )
    assert check["below_quorum"] is False

    # Both routes repaired: the ticket resolves, one recovery notice.
    nodes.route("b", None)
    nodes.route("c", None)
    wait_for(
        "the automatic resolve",
        lambda: [t for t in a.tickets() if t["status"] == "resolved"],
        timeout_s=60,
    )
    titles = wait_for("the recovery notice", lambda: posts(receiver)[1:] and posts(receiver))
    assert len(titles) == 2, titles
    assert "resolved" in titles[1].lower() or "recovered" in titles[1].lower(), titles
    # Every node has written its status since (senders have had their turn): still one
    # ticket, and the receiver heard of it exactly twice.
    before = {site: (n.status() or {}).get("generated_at") for site, n in nodes.nodes.items()}
    wait_for(
        "a status rewrite on every node",
        lambda: all(
            (n.status() or {}).get("generated_at") != before[site]
            for site, n in nodes.nodes.items()
        ),
        timeout_s=15,
    )
    assert len(a.tickets()) == 1
    assert posts(receiver) == titles


def test_nodes_list_their_sites(cluster: tuple[Cluster, HttpReceiver]) -> None:
    """Each node ran the check for its own site: every site's result is stored with it."""
    nodes, _receiver = cluster
    a = nodes.nodes["a"]
    wait_for("three sites voting", lambda: len(sites_in(flow(a))) == 3, timeout_s=60)
    for site, vote in sites_in(flow(a)).items():
        assert vote["node"] == f"node-{site.removeprefix('site-')}"
    listed = a.mailwatch("nodes")
    assert listed.returncode == 0, listed.stderr
    for site in SITES:
        assert f"site-{site}" in listed.stdout
