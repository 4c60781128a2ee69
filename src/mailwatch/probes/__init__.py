"""The probe registry: one line per check kind."""

from __future__ import annotations

from typing import Any

from mailwatch.probes import dnsbl, mx, queue, resources, roundtrip, service, tls
from mailwatch.probes.base import ProbeContext, ProbeFailure, ProbeSpec

PROBES: dict[str, ProbeSpec[Any]] = {
    spec.kind: spec
    for spec in (
        roundtrip.SPEC,
        resources.SPEC,
        service.SPEC,
        mx.SPEC,
        dnsbl.SPEC,
        tls.SPEC,
        queue.SPEC,
    )
}

__all__ = ["PROBES", "ProbeContext", "ProbeFailure", "ProbeSpec"]
