"""The ``resources`` kind: CPU, load, memory, swap, mounts and network counters of this host.

Its config (what to sample, the warning and critical levels), its stages, its severity rule.
The probe is ``mailwatch.probes.resources``.
"""

from __future__ import annotations

import enum
import re
import socket
from collections import Counter
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from mailwatch.config.base import StrictModel
from mailwatch.config.checks.base import CheckBase, CheckKind
from mailwatch.config.checks.levels import Level, Limits
from mailwatch.domain.kinds import ANY, CRITICAL_ONLY, Figure, SeverityRule
from mailwatch.domain.results import State


class ResourcesStage(enum.StrEnum):
    """A reading's family (the stage when it is the worst offender), a thing that could not be
    measured, or the step a run was at when its timeout cut it off."""

    DISK = "disk"
    INODES = "inodes"
    DISK_FREE = "disk_free"
    MEMORY = "memory"
    SWAP = "swap"
    LOAD = "load"
    CPU = "cpu"
    NET_ERRORS = "net_errors"
    NET_DROPS = "net_drops"
    MOUNT_MISSING = "mount_missing"
    MOUNT_UNREADABLE = "mount_unreadable"
    INTERFACE_MISSING = "interface_missing"
    NETWORK = "network"
    EVALUATE = "evaluate"


LOWER_IS_WORSE = frozenset({ResourcesStage.DISK_FREE})
"""Families whose levels are floors (free space), not ceilings."""

_NOT_NAME = re.compile(r"[^A-Za-z0-9]+")


def metric_slug(name: str) -> str:
    """A mount path or interface name as part of a metric name: ``/var/spool`` -> ``var_spool``,
    ``/`` -> ``root``."""
    return _NOT_NAME.sub("_", name).strip("_") or "root"


class LevelPair(StrictModel):
    """``{ warning = 85, critical = 95 }``; either level may be ``"off"``."""

    warning: Level = None
    critical: Level = None

    def limits(self) -> Limits:
        return Limits(self.warning, self.critical)


DEFAULT_LEVELS: dict[str, tuple[float | None, float | None]] = {
    "cpu_percent": (90.0, 98.0),
    "load_per_core": (2.0, 4.0),
    "memory_percent": (90.0, 95.0),
    "swap_percent": (50.0, 80.0),
    "disk_percent": (85.0, 95.0),
    "inodes_percent": (85.0, 95.0),
    "disk_free_bytes": (None, None),
    "net_errors": (1.0, None),
    "net_drops": (None, None),
}
"""Defaults per level key. Network drops are off: Linux counts frames of protocols the host
does not speak (LLDP, stray VLANs) as drops, so they grow on healthy hosts."""

FAMILY_OF_KEY: dict[str, ResourcesStage] = {
    "cpu_percent": ResourcesStage.CPU,
    "load_per_core": ResourcesStage.LOAD,
    "memory_percent": ResourcesStage.MEMORY,
    "swap_percent": ResourcesStage.SWAP,
    "disk_percent": ResourcesStage.DISK,
    "inodes_percent": ResourcesStage.INODES,
    "disk_free_bytes": ResourcesStage.DISK_FREE,
    "net_errors": ResourcesStage.NET_ERRORS,
    "net_drops": ResourcesStage.NET_DROPS,
}


def _pair(key: str) -> Any:
    warning, critical = DEFAULT_LEVELS[key]
    return Field(default_factory=lambda: LevelPair(warning=warning, critical=critical))


class ResourcesCheck(CheckBase):
    """CPU, load, memory, swap, mounts and network counters of the host mailwatch runs on."""

    kind = "resources"

    mounts: list[str] = Field(default_factory=lambda: ["/"])
    interfaces: list[str] = Field(default_factory=list)
    cpu_sample_s: float = Field(default=1.0, gt=0, le=60)
    load_minutes: Literal[1, 5, 15] = 5

    cpu_percent: LevelPair = _pair("cpu_percent")
    load_per_core: LevelPair = _pair("load_per_core")
    memory_percent: LevelPair = _pair("memory_percent")
    swap_percent: LevelPair = _pair("swap_percent")
    disk_percent: LevelPair = _pair("disk_percent")
    inodes_percent: LevelPair = _pair("inodes_percent")
    disk_free_bytes: LevelPair = _pair("disk_free_bytes")
    net_errors: LevelPair = _pair("net_errors")
    net_drops: LevelPair = _pair("net_drops")

    @model_validator(mode="before")
    @classmethod
    def _partial_levels(cls, data: Any) -> Any:
        # `memory_percent = { warning = 80 }` keeps the default critical level.
        if not isinstance(data, dict):
            return data
        merged = dict(data)
        for key, (warning, critical) in DEFAULT_LEVELS.items():
            given = data.get(key)
            if isinstance(given, dict):
                merged[key] = {"warning": warning, "critical": critical, **given}
        return merged

    @field_validator("mounts")
    @classmethod
    def _distinct_mounts(cls, mounts: list[str]) -> list[str]:
        for mount in mounts:
            if not mount.startswith("/"):
                raise ValueError(f"{mount!r} is not an absolute path")
        unique = sorted(set(mounts))
        slugs = Counter(metric_slug(mount) for mount in unique)
        clashing = [m for m in unique if slugs[metric_slug(m)] > 1]
        if clashing:
            raise ValueError(
                f"{' and '.join(clashing)} would share the metric name "
                f"disk_{metric_slug(clashing[0])}_percent"
            )
        return mounts

    @model_validator(mode="after")
    def _coherent(self) -> ResourcesCheck:
        for key in DEFAULT_LEVELS:
            pair: LevelPair = getattr(self, key)
            if pair.warning is None or pair.critical is None:
                continue
            if FAMILY_OF_KEY[key] in LOWER_IS_WORSE:
                if pair.warning < pair.critical:
                    raise ValueError(
                        f"{key}: warning ({pair.warning:g}) must not be below critical "
                        f"({pair.critical:g}): less free space is worse"
                    )
            elif pair.warning > pair.critical:
                raise ValueError(
                    f"{key}: warning ({pair.warning:g}) must not exceed critical "
                    f"({pair.critical:g})"
                )
        if self.timeout_s <= self.cpu_sample_s:
            raise ValueError(
                f"timeout_s ({self.timeout_s:g}) must exceed cpu_sample_s ({self.cpu_sample_s:g})"
            )
        return self

    def limits(self) -> dict[str, Limits]:
        """Levels by reading family, as the probe's verdict (``evaluate``) wants them."""
        return {FAMILY_OF_KEY[key]: getattr(self, key).limits() for key in DEFAULT_LEVELS}

    @property
    def target(self) -> str:
        return socket.gethostname()


KIND = CheckKind(
    name="resources",
    config=ResourcesCheck,
    stages=ResourcesStage,
    probe="mailwatch.probes.resources",
    severity=(SeverityRule((ANY,), CRITICAL_ONLY, 2, "host resources over critical"),),
    # A sample that never came back (a hung NFS statvfs) says nothing about the host's health.
    timeout_state=State.UNKNOWN,
    exported=(
        Figure("cpu_percent", "cpu_percent", "CPU busy, percent of all cores"),
        Figure("load_per_core", "load_per_core", "Load average (load_minutes) per core"),
        Figure("memory_percent", "memory_used_percent", "Memory in use, percent"),
        Figure("swap_percent", "swap_used_percent", "Swap in use, percent"),
        Figure(
            "disk_{mount}_percent",
            "disk_used_percent",
            "Space used on a mount, percent (mount: the path as a name, / is root)",
        ),
        Figure("disk_{mount}_free_bytes", "disk_free_bytes", "Space free on a mount"),
        Figure("inodes_{mount}_percent", "inodes_used_percent", "Inodes used on a mount, percent"),
        Figure(
            "net_{interface}_errors",
            "network_errors_total",
            "Receive and transmit errors on an interface, as counted between runs",
            counter=True,
        ),
        Figure(
            "net_{interface}_drops",
            "network_drops_total",
            "Dropped frames on an interface, as counted between runs",
            counter=True,
        ),
        Figure(
            "net_{interface}_rx_bytes_per_s",
            "network_receive_bytes_per_second",
            "Bytes received per second on an interface, averaged between runs",
        ),
        Figure(
            "net_{interface}_tx_bytes_per_s",
            "network_transmit_bytes_per_second",
            "Bytes sent per second on an interface, averaged between runs",
        ),
    ),
)
