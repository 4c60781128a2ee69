"""``mailwatch nodes``: the nodes sharing this database, their heartbeats and the checks each
holds; a node whose heartbeat is older than ``[node] lease_s`` is marked dead."""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mailwatch.store.nodes import LeaseRow, NodeRow


def add_parser(commands: Any, config_parent: argparse.ArgumentParser) -> None:
    parser = commands.add_parser(
        "nodes",
        parents=[config_parent],
        help="list the nodes sharing the database: heartbeat, version, the checks each runs",
    )
    parser.add_argument("--json", action="store_true", help="print a JSON list")
    parser.set_defaults(handler=run)


@dataclass(frozen=True)
class NodeView:
    node: NodeRow
    state: str
    """``live``, ``stopped`` (a clean stop) or ``dead`` (no heartbeat for ``lease_s``)."""
    leases: list[LeaseRow]


def node_state(node: NodeRow, now: datetime, lease_s: float) -> str:
    if node.stopped_at is not None:
        return "stopped"
    return "live" if now - node.heartbeat_at <= timedelta(seconds=lease_s) else "dead"


def run(args: argparse.Namespace) -> int:
    from mailwatch.cli.loading import load_or_exit
    from mailwatch.cli.store_session import with_store
    from mailwatch.store.nodes import all_leases, all_nodes

    config = load_or_exit(args.config)

    async def work(store: Any) -> tuple[list[NodeRow], list[LeaseRow]]:
        async with store.read() as conn:
            return await all_nodes(conn), await all_leases(conn)

    nodes, leases = with_store(config, work)
    now = datetime.now(UTC)
    views = [
        NodeView(
            node,
            node_state(node, now, config.node.lease_s),
            [lease for lease in leases if lease.owner == node.name and lease.expires_at > now],
        )
        for node in nodes
    ]
    if args.json:
        print(json.dumps([_as_dict(view, now) for view in views], indent=2))
        return 0
    if not views:
        print("no nodes: no daemon (mailwatch run) has started on this database")
        return 0
    print(_table(views, now))
    return 0


def _as_dict(view: NodeView, now: datetime) -> dict[str, Any]:
    from mailwatch.domain.time import iso

    node = view.node
    return {
        "name": node.name,
        "site": node.site,
        "state": view.state,
        "version": node.version,
        "pid": node.pid,
        "started_at": iso(node.started_at),
        "heartbeat_at": iso(node.heartbeat_at),
        "heartbeat_age_s": round((now - node.heartbeat_at).total_seconds(), 1),
        "stopped_at": iso(node.stopped_at) if node.stopped_at else None,
        "checks": [
            {"check": lease.check, "site": lease.site or None, "expires_at": iso(lease.expires_at)}
            for lease in view.leases
        ],
    }


def _table(views: list[NodeView], now: datetime) -> str:
    from mailwatch.domain.time import ago

    rows = [("NODE", "SITE", "STATE", "HEARTBEAT", "VERSION", "CHECKS")]
    for view in views:
        node = view.node
        checks = sorted(
            f"{lease.check}@{lease.site}" if lease.site else lease.check for lease in view.leases
        )
        rows.append(
            (
                node.name,
                node.site,
                view.state.upper() if view.state == "dead" else view.state,
                ago(node.heartbeat_at, now),
                node.version,
                ", ".join(checks) or "-",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    lines = []
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        lines.append("  ".join([*cells, row[-1]]).rstrip())
    return "\n".join(lines)
