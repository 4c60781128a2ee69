"""The ``[node]`` section: this daemon's name and site among nodes sharing one database,
and how long a lease on a check lasts."""

from __future__ import annotations

import platform
import re

from pydantic import Field, field_validator, model_validator

from mailwatch.config.base import StrictModel
from mailwatch.domain.nodes import NodeIdentity

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
NAME_FORM = "1-63 letters, digits, '.', '_' or '-', starting with a letter or digit"

MIN_LEASE_S = 2.0
"""Below this a busy node could miss a renewal (renewed every lease_s / 3) and drop its checks."""
MAX_LEASE_S = 3600.0
"""Above this a dead node's checks would wait more than an hour for another node."""


def host_name() -> str:
    """This machine's short host name, the default node name ("node" if it has none)."""
    return platform.node().split(".", 1)[0] or "node"


class NodeConfig(StrictModel):
    """Unset, the node is named after the host, its site is its name and leases last 30 s.

    One node alone behaves as mailwatch always has: it holds every lease."""

    name: str = Field(default_factory=host_name)
    """This node's name, unique among nodes on one database (default: the host name)."""
    site: str = ""
    """Where this node watches from (default: its name); nodes of one site stand in for each
    other, and a check with ``run_from`` runs once in each listed site."""
    lease_s: float = Field(default=30.0, ge=MIN_LEASE_S, le=MAX_LEASE_S)
    """How long a node's claim on a check lasts unless renewed (every lease_s / 3). A node that
    dies or loses the database loses its checks; another takes them over within lease_s plus
    the check's interval_s."""

    @field_validator("name")
    @classmethod
    def _plain_name(cls, value: str) -> str:
        if not _NAME.fullmatch(value):
            raise ValueError(f"must be {NAME_FORM}; got {value!r}")
        return value

    @field_validator("site")
    @classmethod
    def _plain_site(cls, value: str) -> str:
        # "" is the default: the name, filled in below once the name is known to be good.
        return value if value == "" else cls._plain_name(value)

    @model_validator(mode="after")
    def _site_defaults_to_name(self) -> NodeConfig:
        if not self.site:
            # The model is frozen; this is the one place its value is completed.
            object.__setattr__(self, "site", self.name)
        return self

    @property
    def identity(self) -> NodeIdentity:
        return NodeIdentity(name=self.name, site=self.site)
