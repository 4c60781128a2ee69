"""The optional ``[metrics]`` section: a Prometheus endpoint served by the daemon."""

from __future__ import annotations

from pydantic import field_validator

from mailwatch.config.base import StrictModel


class MetricsConfig(StrictModel):
    """``listen = "127.0.0.1:9187"`` serves ``/metrics``; unset, no endpoint is opened."""

    listen: str | None = None

    @field_validator("listen")
    @classmethod
    def _host_port(cls, value: str | None) -> str | None:
        if value is None:
            return value
        host, sep, port = value.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"listen must be HOST:PORT, e.g. 127.0.0.1:9187; got {value!r}")
        return value

    @property
    def address(self) -> tuple[str, int] | None:
        if self.listen is None:
            return None
        host, _, port = self.listen.rpartition(":")
        return host.strip("[]"), int(port)
