"""The figure catalogue matches what the kinds declare: every figure it draws is one a kind's
results carry, every threshold key is a config key of that kind, every kind has graphs, and a
check's figures become the series an operator expects."""

from __future__ import annotations

import typing

import pytest
from pydantic import BaseModel

from mailwatch.charts.catalogue import AVAILABILITY, CATALOGUE, GraphSpec, graphs_for, series_for
from mailwatch.config.checks.registry import KINDS, kind_named


def _models(config: object) -> list[type[BaseModel]]:
    """The config models of a kind (a queue check is one of three, by its ``mta``)."""
    if isinstance(config, type) and issubclass(config, BaseModel):
        return [config]
    found: list[type[BaseModel]] = []
    for arg in typing.get_args(config):
        found.extend(_models(arg))
    return found


def _has_path(model: type[BaseModel], path: str) -> bool:
    head, _, rest = path.partition(".")
    field = model.model_fields.get(head)
    if field is None:
        return False
    if not rest:
        return True
    inner = field.annotation
    return isinstance(inner, type) and issubclass(inner, BaseModel) and _has_path(inner, rest)


def test_every_kind_has_graphs_and_nothing_else_does() -> None:
    assert set(CATALOGUE) == {kind.name for kind in KINDS}


@pytest.mark.parametrize(
    ("kind", "spec"), [(k, s) for k, specs in CATALOGUE.items() for s in specs]
)
def test_figures_are_declared_and_thresholds_are_config_keys(kind: str, spec: GraphSpec) -> None:
    declared = kind_named(kind).exported
    for plot in spec.plots:
        assert any(f.key == plot.figure for f in declared), f"{kind} does not carry {plot.figure}"
    models = _models(kind_named(kind).config)
    for path in (spec.warning, spec.critical):
        if path is not None:
            assert any(_has_path(m, path) for m in models), f"{kind} has no config key {path}"


def test_graph_idents_are_unique_per_kind() -> None:
    for kind in CATALOGUE:
        idents = [spec.ident for spec in graphs_for(kind)]
        assert len(idents) == len(set(idents))
        assert idents[-1] == AVAILABILITY.ident


def test_hops_become_one_series_each_in_order() -> None:
    (hops,) = [s for s in CATALOGUE["roundtrip"] if s.ident == "hops"]
    figures = ["latency_s", "hop_10_delay_s", "hop_2_delay_s", "hop_1_delay_s", "duration_s"]
    found = series_for(hops, "roundtrip", figures)
    assert [(s.figure, s.label) for s in found] == [
        ("hop_1_delay_s", "hop 1"),
        ("hop_2_delay_s", "hop 2"),
        ("hop_10_delay_s", "hop 10"),
    ]


def test_the_queue_total_is_not_a_part() -> None:
    (parts,) = [s for s in CATALOGUE["queue"] if s.ident == "parts"]
    found = series_for(parts, "queue", ["total_messages", "deferred_messages", "active_messages"])
    assert [s.label for s in found] == ["active", "deferred"]


def test_network_pairs_in_and_out_per_interface() -> None:
    (network,) = [s for s in CATALOGUE["resources"] if s.ident == "network"]
    figures = ["net_eth0_rx_bytes_per_s", "net_eth0_tx_bytes_per_s", "net_eth0_errors"]
    assert [s.label for s in series_for(network, "resources", figures)] == ["eth0 in", "eth0 out"]


def test_levels_read_from_the_check_config() -> None:
    from mailwatch.config.checks.resources import LevelPair, ResourcesCheck

    (cpu,) = [s for s in CATALOGUE["resources"] if s.ident == "cpu"]
    check = ResourcesCheck(name="host", cpu_percent=LevelPair(warning=70, critical=None))
    assert cpu.level(check, cpu.warning) == 70.0
    assert cpu.level(check, cpu.critical) is None, "a level switched off draws no line"
    assert cpu.level(check, "no_such.key") is None
