"""The ``[daemon]`` section: where ``mailwatch run`` keeps its state, and how it runs checks."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator

from mailwatch.config.base import Secret, StrictModel

DEFAULT_STATE_DIR = Path("/var/lib/mailwatch")


class DaemonConfig(StrictModel):
    """``state_dir`` holds the ticket database (unless ``[store] url`` points elsewhere)."""

    state_dir: Path = DEFAULT_STATE_DIR
    status_interval_s: float = Field(default=30.0, gt=0, le=300)
    """The status file is rewritten at least this often, and within a second of a state change."""
    stale_after_s: float = Field(default=120.0, gt=0)
    """``mailwatch status`` calls a heartbeat older than this stale (the daemon is down or hung)."""
    shutdown_grace_s: float = Field(default=10.0, ge=0)
    """On SIGTERM, running checks and deliveries of notices in flight get this long to finish
    before they are cancelled."""
    start_spread_s: float = Field(default=60.0, ge=0)
    """First runs are spread at random over min(interval_s, start_spread_s) after start."""
    max_concurrent_checks: int = Field(default=200, ge=1)
    max_concurrent_per_kind: dict[str, int] = Field(default_factory=dict)
    """e.g. ``{ roundtrip = 50 }``: caps one kind below the global limit."""
    deadman_url: Secret | None = None
    """A dead man's switch (healthchecks.io style): pinged every ``deadman_interval_s`` while
    mailwatch is healthy; ``deadman_url`` + ``deadman_fail_suffix`` when it is not (store not
    writable, alerts stuck in the outbox). Silence from it means mailwatch itself is down."""
    deadman_interval_s: float = Field(default=60.0, gt=0)
    deadman_fail_suffix: str = "/fail"
    outbox_stuck_after_s: float = Field(default=900.0, gt=0)
    """A notice waiting longer than this makes mailwatch report itself unhealthy."""
    event_loop: Literal["uvloop", "asyncio"] = "uvloop"
    """``uvloop`` (compiled, about 12 % less CPU at 1,000 routes, docs/performance.md) or the
    standard library's ``asyncio`` loop, to rule the loop out when chasing a problem."""
    log_format: str = Field(default="text", pattern="^(text|json)$")
    """``text``: readable lines on stderr (journald adds the time); ``json``: one object a line."""

    @field_validator("max_concurrent_per_kind")
    @classmethod
    def _positive_limits(cls, value: dict[str, int]) -> dict[str, int]:
        bad = sorted(kind for kind, limit in value.items() if limit < 1)
        if bad:
            raise ValueError(f"limits must be at least 1: {', '.join(bad)}")
        return value

    @field_validator("state_dir")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        # A relative path would depend on the directory the daemon or the CLI was started in,
        # and the two would then use different databases.
        if not value.is_absolute():
            raise ValueError(f"state_dir must be an absolute path, got {str(value)!r}")
        return value
