"""The kind registry: every check kind the config accepts has a probe, under its own name."""

from __future__ import annotations

import importlib

from mailwatch.config.checks.registry import KINDS, ChecksConfig, kind_named
from mailwatch.probes import probe_for


def test_every_configurable_kind_has_a_probe() -> None:
    assert [kind.name for kind in KINDS] == list(ChecksConfig.model_fields)
    for kind in KINDS:
        assert callable(probe_for(kind.name))


def test_each_kind_is_probed_by_the_module_named_after_it() -> None:
    for kind in KINDS:
        assert kind.probe == f"mailwatch.probes.{kind.name}"
        assert probe_for(kind.name) is importlib.import_module(kind.probe).probe
        assert kind_named(kind.name) is kind


def test_a_kind_declares_only_its_own_stages_and_figures() -> None:
    for kind in KINDS:
        stages = {stage.value for stage in kind.stages}
        for rule in kind.severity:
            assert set(rule.stages) <= stages | {"*"}, kind.name
        assert len({figure.metric for figure in kind.figures}) == len(kind.figures)
