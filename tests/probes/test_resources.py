"""The resources check: the verdict logic on made-up readings, the probe on this machine."""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from collections import namedtuple
from pathlib import Path
from typing import Any

import psutil
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailwatch.config.checks.levels import Limits, classify
from mailwatch.config.checks.resources import (
    DEFAULT_LEVELS,
    LOWER_IS_WORSE,
    ResourcesCheck,
    metric_slug,
)
from mailwatch.config.model import MailwatchConfig
from mailwatch.domain.results import State, worst
from mailwatch.probes.resources import NicDelta, counter_deltas
from mailwatch.probes.resources.verdict import (
    FAMILIES,
    Finding,
    Reading,
    evaluate,
    human_bytes,
    metric_slugs,
)
from mailwatch.runner import run_check

OFF = {"warning": "off", "critical": "off"}
ALL_OFF = {key: OFF for key in DEFAULT_LEVELS}
"""Every level off, for tests about one figure or about what cannot be measured: a busy
machine (the suite's own load) must not turn their verdict into critical/cpu."""
DEFAULTS = ResourcesCheck(name="defaults").limits()


def resources_check(**overrides: Any) -> ResourcesCheck:
    data: dict[str, Any] = {"name": "host", "cpu_sample_s": 0.2, **overrides}
    return MailwatchConfig.model_validate({"checks": {"resources": [data]}}).checks.resources[0]


# --- the verdict on made-up readings ------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "limits", "lower_is_worse", "state"),
    [
        (84.9, Limits(85, 95), False, State.OK),
        (85.0, Limits(85, 95), False, State.WARNING),
        (94.9, Limits(85, 95), False, State.WARNING),
        (95.0, Limits(85, 95), False, State.CRITICAL),
        (100.0, Limits(85, None), False, State.WARNING),
        (100.0, Limits(None, None), False, State.OK),
        (0.0, Limits(1, None), False, State.OK),
        (1.0, Limits(1, None), False, State.WARNING),
        (2 * 2**30, Limits(2**30, 2**29), True, State.OK),
        (2**30, Limits(2**30, 2**29), True, State.WARNING),
        (2**28, Limits(2**30, 2**29), True, State.CRITICAL),
        (float("nan"), Limits(85, 95), False, State.OK),
    ],
)
def test_classify(value: float, limits: Limits, lower_is_worse: bool, state: State) -> None:
    assert classify(value, limits, lower_is_worse) is state


@pytest.mark.parametrize(
    ("readings", "state", "stage", "summary"),
    [
        pytest.param(
            [Reading("disk", 96.4, "/var/spool"), Reading("disk", 40, "/")],
            State.CRITICAL,
            "disk",
            "/var/spool 96% full",
            id="one full spool",
        ),
        pytest.param(
            [
                Reading("cpu", 99),
                Reading("memory", 96),
                Reading("disk", 96, "/var/spool"),
                Reading("disk", 86, "/"),
            ],
            State.CRITICAL,
            "disk",
            "/var/spool 96% full; 3 other problems",
            id="disk outranks memory and cpu at the same state",
        ),
        pytest.param(
            [Reading("disk", 86, "/"), Reading("memory", 96)],
            State.CRITICAL,
            "memory",
            "memory 96% used; 1 other problem",
            id="a critical beats a warning of a more urgent family",
        ),
        pytest.param(
            [Reading("disk", 97, "/"), Reading("disk", 99, "/var")],
            State.CRITICAL,
            "disk",
            "/var 99% full; 1 other problem",
            id="the fuller of two critical mounts is named",
        ),
        pytest.param(
            [Reading("inodes", 95.2, "/var/spool")],
            State.CRITICAL,
            "inodes",
            "/var/spool 95% of inodes used",
            id="inodes",
        ),
        pytest.param([Reading("swap", 60)], State.WARNING, "swap", "swap 60% used", id="swap"),
        pytest.param(
            [Reading("load", 4.5)], State.CRITICAL, "load", "load 4.50 per core", id="load"
        ),
        pytest.param(
            [Reading("cpu", 94.6)], State.WARNING, "cpu", "cpu 94% busy", id="rounded down"
        ),
        pytest.param(
            [Reading("net_errors", 12, "eth0")],
            State.WARNING,
            "net_errors",
            "eth0 12 new network errors",
            id="network errors grew",
        ),
        pytest.param(
            [Reading("net_errors", 0, "eth0"), Reading("net_drops", 500, "eth0")],
            State.OK,
            None,
            "within limits",
            id="drops are off by default",
        ),
    ],
)
def test_verdict_names_the_worst_offender(
    readings: list[Reading], state: State, stage: str | None, summary: str
) -> None:
    verdict = evaluate(readings, DEFAULTS)
    assert (verdict.state, verdict.stage, verdict.summary) == (state, stage, summary)


def test_ok_summary_shows_the_host_figures_and_the_fullest_mount() -> None:
    readings = [
        Reading("cpu", 12.3),
        Reading("load", 0.114),
        Reading("memory", 41.9),
        Reading("swap", 0),
        Reading("disk", 22.5, "/"),
        Reading("disk", 71.0, "/var/spool"),
        Reading("disk_free", 5 * 2**30, "/"),
    ]
    verdict = evaluate(readings, DEFAULTS)
    assert verdict.state is State.OK
    assert verdict.stage is None
    assert verdict.summary == (
        "within limits: cpu 12% busy, load 0.11 per core, memory 41% used, swap 0% used, "
        "fullest /var/spool 71% full"
    )


def test_free_space_threshold_reads_in_bytes() -> None:
    limits = {**DEFAULTS, "disk_free": Limits(warning=2 * 2**30, critical=2**30)}
    verdict = evaluate([Reading("disk_free", 812 * 2**20, "/var/spool")], limits)
    assert (verdict.state, verdict.stage, verdict.summary) == (
        State.CRITICAL,
        "disk_free",
        "/var/spool 812.0 MiB free",
    )


def test_a_missing_mount_is_unknown_unless_something_is_critical() -> None:
    missing = Finding(State.UNKNOWN, "mount_missing", "/srv/mail does not exist")
    alone = evaluate([Reading("disk", 90, "/")], DEFAULTS, [missing])
    assert (alone.state, alone.stage, alone.summary) == (
        State.UNKNOWN,
        "mount_missing",
        "/srv/mail does not exist; 1 other problem",
    )
    with_critical = evaluate([Reading("memory", 99)], DEFAULTS, [missing])
    assert (with_critical.state, with_critical.stage) == (State.CRITICAL, "memory")
    assert with_critical.summary == "memory 99% used; 1 other problem"


readings_strategy = st.lists(
    st.builds(
        Reading,
        family=st.sampled_from(FAMILIES),
        value=st.floats(min_value=0, max_value=1e12, allow_nan=False),
        subject=st.sampled_from(["/", "/var/spool", "eth0"]),
    ),
    max_size=12,
)
limits_strategy = st.builds(
    Limits,
    warning=st.none() | st.floats(min_value=0, max_value=200),
    critical=st.none() | st.floats(min_value=0, max_value=200),
)


@given(readings_strategy, st.dictionaries(st.sampled_from(FAMILIES), limits_strategy))
def test_verdict_is_the_worst_single_reading(
    readings: list[Reading], limits: dict[str, Limits]
) -> None:
    verdict = evaluate(readings, limits)
    states = [
        classify(r.value, limits.get(r.family, Limits()), r.family in LOWER_IS_WORSE)
        for r in readings
    ]
    assert verdict.state is worst(states)
    bad = [s for s in states if s is not State.OK]
    assert len(verdict.findings) == len(bad)
    if not bad:
        assert verdict.stage is None
        assert verdict.summary.startswith("within limits")
    else:
        assert verdict.stage == verdict.findings[0].stage
        assert verdict.summary.startswith(verdict.findings[0].text)
        others = len(bad) - 1
        if others:
            assert verdict.summary.endswith(f"; {others} other problem{'s' * (others > 1)}")
        else:
            assert verdict.summary == verdict.findings[0].text


@given(
    st.floats(min_value=0, max_value=1e6, allow_nan=False),
    st.floats(min_value=0, max_value=1e6, allow_nan=False),
    limits_strategy,
    st.booleans(),
)
def test_a_worse_figure_never_gives_a_better_state(
    a: float, b: float, limits: Limits, lower_is_worse: bool
) -> None:
    better, worse = sorted((a, b), reverse=lower_is_worse)
    assert (
        classify(better, limits, lower_is_worse).badness
        <= classify(worse, limits, lower_is_worse).badness
    )


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("/", "root"),
        ("/var/spool", "var_spool"),
        ("/var/spool/", "var_spool"),
        ("/srv/mail-store", "srv_mail_store"),
        ("/mnt/My Disk", "mnt_My_Disk"),
        ("eth0", "eth0"),
        ("br-lan.10", "br_lan_10"),
    ],
)
def test_metric_slug(name: str, slug: str) -> None:
    assert metric_slug(name) == slug


@given(st.lists(st.text(max_size=12), max_size=8))
def test_metric_slugs_are_unique_and_plain(names: list[str]) -> None:
    slugs = metric_slugs(names)
    assert set(slugs) == set(names)
    assert len(set(slugs.values())) == len(slugs)
    for slug in slugs.values():
        assert slug
        assert all(c.isascii() and (c.isalnum() or c == "_") for c in slug)


def test_human_bytes() -> None:
    assert [human_bytes(v) for v in (512, 1536, 812 * 2**20, 3.5 * 2**40)] == [
        "512 B",
        "1.5 KiB",
        "812.0 MiB",
        "3.5 TiB",
    ]


# --- network growth between runs ---------------------------------------------------------


def nic(rx: int, tx: int, errors: int = 0, drops: int = 0) -> dict[str, int]:
    return {"rx_bytes": rx, "tx_bytes": tx, "errors": errors, "drops": drops}


@pytest.mark.parametrize(
    ("previous", "current", "now", "expected"),
    [
        pytest.param(None, {"eth0": nic(10, 10)}, 100.0, {}, id="first run: baseline only"),
        pytest.param(
            {"at": 90.0, "counters": {"eth0": nic(1000, 500, 2, 1)}},
            {"eth0": nic(3000, 1500, 5, 1)},
            100.0,
            {"eth0": NicDelta(200.0, 100.0, 3, 0)},
            id="growth over ten seconds",
        ),
        pytest.param(
            {"at": 90.0, "counters": {"eth0": nic(1000, 500)}},
            {"eth0": nic(10, 10), "eth1": nic(5, 5)},
            100.0,
            {},
            id="counters went backwards (reboot) and a new interface: new baseline",
        ),
        pytest.param(
            {"at": 100.0, "counters": {"eth0": nic(1, 1)}},
            {"eth0": nic(2, 2)},
            100.0,
            {},
            id="no time passed",
        ),
        pytest.param(
            {"at": "yesterday", "counters": []},
            {"eth0": nic(2, 2)},
            100.0,
            {},
            id="unreadable memory",
        ),
        pytest.param(
            {"at": 90.0, "counters": {"eth0": {"rx_bytes": "x"}}},
            {"eth0": nic(2, 2)},
            100.0,
            {},
            id="unreadable interface entry",
        ),
    ],
)
def test_counter_deltas(
    previous: Any, current: dict[str, dict[str, int]], now: float, expected: dict[str, NicDelta]
) -> None:
    assert counter_deltas(previous, current, now) == expected


# --- config ------------------------------------------------------------------------------


def test_partial_levels_keep_the_other_default() -> None:
    check = resources_check(memory_percent={"warning": 80}, net_errors={"warning": "off"})
    assert check.limits()["memory"] == Limits(80, 95)
    assert check.limits()["net_errors"] == Limits(None, None)
    assert check.limits()["disk"] == Limits(85, 95)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"memory_percent": {"warning": 99}},
            "memory_percent: warning (99) must not exceed critical (95)",
        ),
        (
            {"disk_free_bytes": {"warning": 1, "critical": 2}},
            "disk_free_bytes: warning (1) must not be below critical (2): less free space is worse",
        ),
        ({"mounts": ["var"]}, "'var' is not an absolute path"),
        (
            {"mounts": ["/a-b", "/a_b"]},
            "/a-b and /a_b would share the metric name disk_a_b_percent",
        ),
        ({"cpu_sample_s": 5, "timeout_s": 5}, "timeout_s (5) must exceed cpu_sample_s (5)"),
    ],
)
def test_incoherent_config_is_refused(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match="1 validation error") as raised:
        resources_check(**overrides)
    assert message in str(raised.value)


# --- the probe on this machine -----------------------------------------------------------


async def test_this_machine_is_within_generous_limits() -> None:
    check = resources_check(**ALL_OFF)
    result = await run_check(check)
    assert result.state is State.OK, result.summary
    assert result.stage is None
    assert result.summary.startswith("within limits: cpu ")
    assert "/ " in result.summary and "% full" in result.summary
    metrics = result.metrics
    assert 0 <= metrics["cpu_percent"] <= 100
    assert 0 < metrics["memory_percent"] <= 100
    assert 0 <= metrics["swap_percent"] <= 100
    cores = os.cpu_count() or 1
    assert metrics["load_per_core"] == pytest.approx(os.getloadavg()[1] / cores, abs=0.5)
    usage = shutil.disk_usage("/")
    assert metrics["disk_root_percent"] == pytest.approx(
        100 * usage.used / (usage.used + usage.free), abs=1
    )
    assert metrics["disk_root_free_bytes"] == pytest.approx(usage.free, rel=0.05)
    if os.statvfs("/").f_files:
        assert 0 < metrics["inodes_root_percent"] <= 100
    # The first run only takes the network baseline.
    assert not [name for name in metrics if name.startswith("net_")]


async def test_second_run_reports_network_growth_per_interface() -> None:
    check = resources_check(**ALL_OFF)
    memory: dict[str, Any] = {}
    first = await run_check(check, memory)
    interfaces = [name for name in psutil.net_io_counters(pernic=True) if name != "lo"]
    assert sorted(first.details["network_baseline"]) == sorted(interfaces)
    second = await run_check(check, memory)
    assert second.state is State.OK
    for name in interfaces:
        slug = metric_slug(name)
        assert second.metrics[f"net_{slug}_rx_bytes_per_s"] >= 0
        assert second.metrics[f"net_{slug}_tx_bytes_per_s"] >= 0
        assert second.metrics[f"net_{slug}_errors"] >= 0
        assert second.metrics[f"net_{slug}_drops"] >= 0
    assert "net_lo_rx_bytes_per_s" not in second.metrics


async def test_a_missing_mount_is_unknown_and_the_rest_is_still_measured(tmp_path: Path) -> None:
    check = resources_check(**ALL_OFF, mounts=["/", "/srv/no-such-mount-for-mailwatch"])
    result = await run_check(check)
    assert (result.state, result.stage) == (State.UNKNOWN, "mount_missing")
    assert result.summary == "/srv/no-such-mount-for-mailwatch does not exist"
    assert "disk_root_percent" in result.metrics


async def test_a_directory_that_is_not_mounted_is_unknown(tmp_path: Path) -> None:
    not_mounted = tmp_path / "spool"
    not_mounted.mkdir()
    result = await run_check(resources_check(**ALL_OFF, mounts=[str(not_mounted)]))
    assert (result.state, result.stage) == (State.UNKNOWN, "mount_missing")
    assert result.summary == f"{not_mounted} is not a mount point (not mounted?)"


async def test_a_missing_interface_is_unknown() -> None:
    result = await run_check(resources_check(**ALL_OFF, interfaces=["mw-nonexistent0"]))
    assert (result.state, result.stage) == (State.UNKNOWN, "interface_missing")
    assert result.summary == "network interface mw-nonexistent0 not found"


async def test_sampling_never_blocks_the_event_loop() -> None:
    check = resources_check(**ALL_OFF, cpu_sample_s=1.0)
    gaps: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        last = time.monotonic()
        while not done.is_set():
            await asyncio.sleep(0.01)
            now = time.monotonic()
            gaps.append(now - last)
            last = now

    ticking = asyncio.create_task(ticker())
    result = await run_check(check)
    done.set()
    await ticking
    assert result.state is State.OK
    assert result.duration_s >= 1.0  # the CPU window really was sampled ...
    assert max(gaps) < 0.25  # ... while the loop kept running


SDiskUsage = namedtuple("SDiskUsage", "total used free percent")


async def test_figures_reach_the_verdict(monkeypatch: pytest.MonkeyPatch) -> None:
    """Wiring from psutil's figures to the summary, with a full disk that this machine does not
    have (making one needs a loop mount, which a test container cannot do): only
    ``psutil.disk_usage`` is replaced; everything else is read from the machine."""
    real = psutil.disk_usage

    def full_root(path: str) -> Any:
        if path == "/":
            return SDiskUsage(100 * 2**30, 96 * 2**30, 4 * 2**30, 96.0)
        return real(path)

    monkeypatch.setattr(psutil, "disk_usage", full_root)
    off_but_disk = {**ALL_OFF, "disk_percent": {"warning": 85, "critical": 95}}
    result = await run_check(resources_check(**off_but_disk))
    assert (result.state, result.stage, result.summary) == (
        State.CRITICAL,
        "disk",
        "/ 96% full",
    )
    assert result.metrics["disk_root_percent"] == 96.0
    assert result.metrics["disk_root_free_bytes"] == 4 * 2**30
    assert result.details["findings"] == [
        {"state": "critical", "stage": "disk", "text": "/ 96% full"}
    ]
