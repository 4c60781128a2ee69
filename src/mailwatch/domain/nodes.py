"""A node: one running ``mailwatch run`` among several sharing one database.

Its name and site come from ``[node]``; leases of checks are held by a node's name.
"""

from __future__ import annotations

from dataclasses import dataclass

OWNER_SITE = ""
"""The site of an ordinary check's lease: one owner in the whole cluster. A check run from
several sites (``run_from``) has one lease per site, keyed by that site's name instead."""


@dataclass(frozen=True, slots=True)
class NodeIdentity:
    """Who this daemon is in the cluster: its ``name`` (unique) and its ``site``."""

    name: str
    site: str
