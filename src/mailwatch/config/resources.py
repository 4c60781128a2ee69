"""Config of the host resources check: what to sample, and the warning and critical levels."""

from __future__ import annotations

import socket
from collections import Counter
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, field_validator, model_validator

from mailwatch.config.base import StrictModel
from mailwatch.config.checks import CheckBase
from mailwatch.resource_thresholds import LOWER_IS_WORSE, Limits, metric_slug


def _off_is_none(value: object) -> object:
    # TOML has no null: a level is switched off with the string "off".
    return None if value == "off" else value


Level = Annotated[Annotated[float, Field(ge=0)] | None, BeforeValidator(_off_is_none)]


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

FAMILY_OF_KEY = {
    "cpu_percent": "cpu",
    "load_per_core": "load",
    "memory_percent": "memory",
    "swap_percent": "swap",
    "disk_percent": "disk",
    "inodes_percent": "inodes",
    "disk_free_bytes": "disk_free",
    "net_errors": "net_errors",
    "net_drops": "net_drops",
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
        """Levels by reading family, as ``mailwatch.resource_thresholds.evaluate`` wants them."""
        return {FAMILY_OF_KEY[key]: getattr(self, key).limits() for key in DEFAULT_LEVELS}

    @property
    def target(self) -> str:
        return socket.gethostname()
