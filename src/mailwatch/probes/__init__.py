"""The probe registry: one line per check kind, naming the module whose ``SPEC`` probes it.

A kind's module is imported the first time it is asked for, so a ``mailwatch check`` started
per Nagios probe loads dnspython, cryptography or the mail protocols only for the kinds it runs.
"""

from __future__ import annotations

import importlib
from typing import Any

from mailwatch.probes.base import ProbeSpec

PROBE_MODULES: dict[str, str] = {
    "roundtrip": "mailwatch.probes.roundtrip",
    "resources": "mailwatch.probes.resources",
    "service": "mailwatch.probes.service",
    "mx": "mailwatch.probes.mx",
    "dnsbl": "mailwatch.probes.dnsbl",
    "tls": "mailwatch.probes.tls",
    "queue": "mailwatch.probes.queue",
}


def probe_spec(kind: str) -> ProbeSpec[Any]:
    """The probe of a check kind, importing its module on first use; ``KeyError`` for a kind
    nobody registered."""
    spec: ProbeSpec[Any] = importlib.import_module(PROBE_MODULES[kind]).SPEC
    return spec


def __getattr__(name: str) -> Any:
    # ``PROBES``, every kind's spec by name, as this module offered before its imports were
    # deferred; asking for it imports every probe.
    if name == "PROBES":
        return {kind: probe_spec(kind) for kind in PROBE_MODULES}
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["PROBES", "PROBE_MODULES", "ProbeSpec", "probe_spec"]
