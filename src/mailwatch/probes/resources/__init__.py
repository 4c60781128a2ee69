"""The resources check: samples this host with psutil, always in a worker thread, and judges the
figures with the pure ``.verdict``.

Network figures are growth since the previous run: the counters are kept in ``ctx.memory``.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import psutil

from mailwatch.config.checks.resources import ResourcesCheck, ResourcesStage
from mailwatch.domain.probing import ProbeContext
from mailwatch.domain.results import CheckResult, State
from mailwatch.probes import procfs, stuckable
from mailwatch.probes.resources.verdict import Finding, Reading, evaluate, metric_slugs

MOUNT_WAIT_S = 5.0
"""How long a mount gets to answer ``statvfs``; one that takes longer is reported as hung."""

NicCounters = dict[str, int]
"""``rx_bytes``, ``tx_bytes``, ``errors`` (in + out), ``drops`` (in + out) of one interface."""


@dataclass(frozen=True, slots=True)
class MountFigures:
    path: str
    percent: float
    free_bytes: float
    inodes_percent: float | None
    """None on filesystems without an inode table (btrfs, some FUSE): they report zero inodes."""


@dataclass(frozen=True, slots=True)
class NicDelta:
    """What one interface did between two runs."""

    rx_bytes_per_s: float
    tx_bytes_per_s: float
    errors: int
    drops: int


async def probe(check: ResourcesCheck, ctx: ProbeContext) -> CheckResult:
    # Every psutil call may block (cpu_percent sleeps for the sampling window, statvfs on a
    # dead NFS server hangs), so each goes to a thread; the stage names the one that hung.
    # Mounts go to guarded threads of their own: a hung one can never return.
    # Host-wide figures come from /proc; one that cannot be read (systemd's ProcSubset=pid
    # hides /proc/stat, /proc/meminfo and /proc/net) is an unknown finding saying what to
    # change, and the rest is still measured.
    readings: list[Reading] = []
    metrics: dict[str, float] = {}
    unread: list[Finding] = []
    ctx.stage = ResourcesStage.CPU
    try:
        cpu_percent = await asyncio.to_thread(psutil.cpu_percent, interval=check.cpu_sample_s)
    except OSError as exc:
        unread.append(_unreadable(ResourcesStage.CPU, "CPU use", exc))
    else:
        readings.append(Reading(ResourcesStage.CPU, cpu_percent))
        metrics["cpu_percent"] = cpu_percent
    ctx.stage = ResourcesStage.MEMORY
    try:
        memory_percent, swap_percent, load_per_core = await asyncio.to_thread(
            _memory_and_load, check.load_minutes
        )
    except OSError as exc:
        unread.append(_unreadable(ResourcesStage.MEMORY, "memory, swap and load", exc))
    else:
        readings += [
            Reading(ResourcesStage.LOAD, load_per_core),
            Reading(ResourcesStage.MEMORY, memory_percent),
            Reading(ResourcesStage.SWAP, swap_percent),
        ]
        metrics |= {
            "load_per_core": load_per_core,
            "memory_percent": memory_percent,
            "swap_percent": swap_percent,
        }
    ctx.stage = ResourcesStage.DISK
    mounts, problems = await _sample_mounts(check.mounts, _mount_wait_s(ctx))
    ctx.stage = ResourcesStage.NETWORK
    try:
        counters, nic_problems = await asyncio.to_thread(_sample_nics, check.interfaces)
    except OSError as exc:
        counters, nic_problems = {}, [_unreadable(ResourcesStage.NETWORK, "network counters", exc)]
    sampled_at = time.time()
    deltas = counter_deltas(ctx.memory.get("network"), counters, sampled_at)
    ctx.memory["network"] = {"at": sampled_at, "counters": counters}
    ctx.stage = ResourcesStage.EVALUATE

    mount_slugs = metric_slugs(m.path for m in mounts)
    for mount in mounts:
        slug = mount_slugs[mount.path]
        readings += [
            Reading(ResourcesStage.DISK, mount.percent, mount.path),
            Reading(ResourcesStage.DISK_FREE, mount.free_bytes, mount.path),
        ]
        metrics[f"disk_{slug}_percent"] = mount.percent
        metrics[f"disk_{slug}_free_bytes"] = mount.free_bytes
        if mount.inodes_percent is not None:
            readings.append(Reading(ResourcesStage.INODES, mount.inodes_percent, mount.path))
            metrics[f"inodes_{slug}_percent"] = mount.inodes_percent
    nic_slugs = metric_slugs(deltas)
    for name, delta in sorted(deltas.items()):
        slug = nic_slugs[name]
        readings += [
            Reading(ResourcesStage.NET_ERRORS, delta.errors, name),
            Reading(ResourcesStage.NET_DROPS, delta.drops, name),
        ]
        metrics[f"net_{slug}_errors"] = delta.errors
        metrics[f"net_{slug}_drops"] = delta.drops
        metrics[f"net_{slug}_rx_bytes_per_s"] = delta.rx_bytes_per_s
        metrics[f"net_{slug}_tx_bytes_per_s"] = delta.tx_bytes_per_s

    verdict = evaluate(readings, check.limits(), [*unread, *problems, *nic_problems])
    details: dict[str, Any] = {
        "findings": [
            {"state": f.state.label, "stage": f.stage, "text": f.text} for f in verdict.findings
        ],
        "network_baseline": sorted(set(counters) - set(deltas)),
    }
    return ctx.result(
        verdict.state, verdict.summary, stage=verdict.stage, metrics=metrics, details=details
    )


def _unreadable(stage: ResourcesStage, what: str, exc: OSError) -> Finding:
    return Finding(State.UNKNOWN, stage, procfs.unreadable(what, exc))


def _memory_and_load(load_minutes: int) -> tuple[float, float, float]:
    memory = psutil.virtual_memory()
    swap = psutil.swap_memory()
    load = psutil.getloadavg()[{1: 0, 5: 1, 15: 2}[load_minutes]]
    cores = psutil.cpu_count() or 1
    return float(memory.percent), float(swap.percent), load / cores


async def _sample_mounts(
    paths: Iterable[str], wait_s: float
) -> tuple[list[MountFigures], list[Finding]]:
    """Every mount at once, each in a guarded thread (``stuckable``): a mount that does not
    answer within ``wait_s`` (a hung network filesystem) is reported and the others are still
    measured; while its call stays stuck, later runs report it at once, without a new thread."""
    outcomes = await asyncio.gather(*(_sample_guarded(p, wait_s) for p in dict.fromkeys(paths)))
    figures = [o for o in outcomes if isinstance(o, MountFigures)]
    problems = [o for o in outcomes if isinstance(o, Finding)]
    return figures, problems


async def _sample_guarded(path: str, wait_s: float) -> MountFigures | Finding:
    key = f"statvfs {path}"
    stuck_s = stuckable.running_for(key)
    if stuck_s is not None and stuck_s >= wait_s:
        return Finding(
            State.UNKNOWN,
            ResourcesStage.MOUNT_UNREADABLE,
            f"{path} does not answer: its statvfs has been stuck for {stuck_s:.0f} s "
            "(a hung network filesystem?)",
        )
    try:
        return await asyncio.wait_for(stuckable.call(key, partial(_sample_mount, path)), wait_s)
    except TimeoutError:
        return Finding(
            State.UNKNOWN,
            ResourcesStage.MOUNT_UNREADABLE,
            f"{path} does not answer: no statvfs reply within {wait_s:.2g} s "
            "(a hung network filesystem?)",
        )


def _mount_wait_s(ctx: ProbeContext) -> float:
    """``MOUNT_WAIT_S``, shortened so that a hung mount is named before the check's timeout
    cuts the whole run off (network sampling after it needs a moment too)."""
    if ctx.deadline is None:
        return MOUNT_WAIT_S
    remaining = ctx.deadline - asyncio.get_running_loop().time()
    return max(0.1, min(MOUNT_WAIT_S, remaining - 1.0))


def _sample_mount(path: str) -> MountFigures | Finding:
    """One mount's figures, or why there are none. Blocks for as long as the filesystem does."""
    try:
        # A path that exists but is not a mount point is reported, not measured: measuring it
        # would silently watch the filesystem underneath an unmounted spool.
        if not Path(path).exists():
            return Finding(State.UNKNOWN, ResourcesStage.MOUNT_MISSING, f"{path} does not exist")
        if not Path(path).is_mount():
            return Finding(
                State.UNKNOWN,
                ResourcesStage.MOUNT_MISSING,
                f"{path} is not a mount point (not mounted?)",
            )
        usage = psutil.disk_usage(path)
        inodes = os.statvfs(path)
    except OSError as exc:
        # EIO from a soft NFS mount, ESTALE, ENOTCONN from a dead FUSE daemon, EACCES.
        why = exc.strerror or type(exc).__name__
        return Finding(State.UNKNOWN, ResourcesStage.MOUNT_UNREADABLE, f"cannot read {path}: {why}")
    inodes_percent = None
    if inodes.f_files > 0:
        inodes_percent = 100.0 * (inodes.f_files - inodes.f_ffree) / inodes.f_files
    return MountFigures(path, float(usage.percent), float(usage.free), inodes_percent)


def _sample_nics(wanted: Iterable[str]) -> tuple[dict[str, NicCounters], list[Finding]]:
    wanted = list(dict.fromkeys(wanted))
    io = psutil.net_io_counters(pernic=True)
    if wanted:
        names = [name for name in wanted if name in io]
        problems = [
            Finding(
                State.UNKNOWN,
                ResourcesStage.INTERFACE_MISSING,
                f"network interface {name} not found",
            )
            for name in wanted
            if name not in io
        ]
    else:
        stats = psutil.net_if_stats()
        names = [name for name in io if not _is_loopback(name, stats.get(name))]
        problems = []
    counters = {
        name: {
            "rx_bytes": io[name].bytes_recv,
            "tx_bytes": io[name].bytes_sent,
            "errors": io[name].errin + io[name].errout,
            "drops": io[name].dropin + io[name].dropout,
        }
        for name in names
    }
    return counters, problems


def _is_loopback(name: str, stats: Any) -> bool:
    flags = str(getattr(stats, "flags", ""))
    return name == "lo" or "loopback" in flags.split(",")


def counter_deltas(
    previous: Any, current: Mapping[str, Mapping[str, int]], now: float
) -> dict[str, NicDelta]:
    """Growth per interface since the previous sample (``{"at": epoch_s, "counters": ...}``).

    An interface without a previous sample, or whose counters went backwards (reboot, driver
    reload, interface recreated), gets no figures this run: its sample becomes the baseline.
    Anything unreadable in ``previous`` counts as no previous sample.
    """
    if not isinstance(previous, dict):
        return {}
    at, before = previous.get("at"), previous.get("counters")
    if not isinstance(at, int | float) or not isinstance(before, dict) or now <= at:
        return {}
    elapsed_s = now - at
    deltas: dict[str, NicDelta] = {}
    for name, counters in current.items():
        old = before.get(name)
        if not isinstance(old, dict):
            continue
        try:
            growth = {key: counters[key] - int(old[key]) for key in counters}
        except (KeyError, TypeError, ValueError):
            continue
        if any(value < 0 for value in growth.values()):
            continue
        deltas[name] = NicDelta(
            rx_bytes_per_s=growth["rx_bytes"] / elapsed_s,
            tx_bytes_per_s=growth["tx_bytes"] / elapsed_s,
            errors=growth["errors"],
            drops=growth["drops"],
        )
    return deltas
