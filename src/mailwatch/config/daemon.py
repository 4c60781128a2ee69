"""The ``[daemon]`` section: where the long-running process keeps its state.

Only ``state_dir`` for now; the daemon's own keys (status file, shutdown grace) join it later.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import field_validator

from mailwatch.config.base import StrictModel

DEFAULT_STATE_DIR = Path("/var/lib/mailwatch")


class DaemonConfig(StrictModel):
    """``state_dir`` holds the ticket database (unless ``[store] url`` points elsewhere)."""

    state_dir: Path = DEFAULT_STATE_DIR

    @field_validator("state_dir")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        # A relative path would depend on the directory the daemon or the CLI was started in,
        # and the two would then use different databases.
        if not value.is_absolute():
            raise ValueError(f"state_dir must be an absolute path, got {str(value)!r}")
        return value
