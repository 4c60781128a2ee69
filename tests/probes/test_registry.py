"""The probe registry: every check kind the config accepts has a probe, under its own name."""

from __future__ import annotations

from mailwatch.config.checks.registry import ChecksConfig
from mailwatch.probes import PROBE_MODULES, probe_spec


def test_every_configurable_kind_has_a_probe() -> None:
    assert set(PROBE_MODULES) == set(ChecksConfig.model_fields)


def test_each_module_probes_the_kind_it_is_registered_for() -> None:
    for kind in PROBE_MODULES:
        assert probe_spec(kind).kind == kind
