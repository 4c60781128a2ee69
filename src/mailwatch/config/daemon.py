"""The ``[daemon]`` section: where ``mailwatch run`` keeps its state, and how it runs checks."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

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
    """A dead man's switch: pinged every ``deadman_interval_s`` while mailwatch is healthy;
    the failure URL when it is not (store not writable, alerts stuck in the outbox). Silence
    from it means mailwatch itself is down. ``{reason}`` in either URL becomes the reason,
    URL-encoded (Uptime Kuma's ``msg=``)."""
    deadman_fail_url: Secret | None = None
    """Pinged instead of ``deadman_url`` when mailwatch is unhealthy, e.g. Uptime Kuma's push
    URL with ``?status=down``. Unset: ``deadman_url`` + ``deadman_fail_suffix``."""
    deadman_interval_s: float = Field(default=60.0, gt=0)
    deadman_fail_suffix: str = "/fail"
    """Deprecated in favour of ``deadman_fail_url``; still honoured when that is unset
    (healthchecks.io's ``/fail``)."""
    deadman_method: Literal["POST", "GET"] = "POST"
    """``POST`` sends the reason as the body (healthchecks.io logs it); ``GET`` for services
    that take only GET (Uptime Kuma before 2.0)."""
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

    @model_validator(mode="after")
    def _one_failure_url(self) -> DaemonConfig:
        given = self.model_fields_set
        if "deadman_fail_url" in given and self.deadman_url is None:
            raise ValueError("deadman_fail_url needs deadman_url (the ping while healthy)")
        if "deadman_fail_url" in given and "deadman_fail_suffix" in given:
            raise ValueError(
                "deadman_fail_url and deadman_fail_suffix both say where failures go: keep one"
            )
        return self

    def deadman_targets(self) -> tuple[str, str] | None:
        """The URLs pinged when healthy and when not; None without a dead man's switch."""
        if self.deadman_url is None:
            return None
        ok_url = self.deadman_url.get_secret_value()
        if self.deadman_fail_url is not None:
            return ok_url, self.deadman_fail_url.get_secret_value()
        return ok_url, ok_url.rstrip("/") + self.deadman_fail_suffix
