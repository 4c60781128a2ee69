"""What this process's /proc lets it see, and the words for what to change when it hides
something a check needs (systemd's ``ProcSubset=pid`` and ``ProtectProc=``, or a hand-made
``hidepid=`` mount)."""

from __future__ import annotations

import os
from pathlib import Path

MOUNTINFO = Path("/proc/self/mountinfo")
"""Readable under every procfs option: ``self`` is always there."""


def proc_options(mountinfo: Path = MOUNTINFO, mount_point: str = "/proc") -> frozenset[str]:
    """The superblock options of the procfs mounted at ``mount_point`` (``hidepid=invisible``,
    ``subset=pid``, ``gid=...``); empty when it cannot be read or nothing is mounted there."""
    try:
        lines = mountinfo.read_text().splitlines()
    except OSError:
        return frozenset()
    options: frozenset[str] = frozenset()
    for line in lines:
        # "36 35 0:5 / /proc rw,nosuid - proc proc rw,hidepid=invisible": the last mount wins.
        before, sep, after = line.partition(" - ")
        fields, tail = before.split(), after.split()
        if sep and len(fields) >= 5 and fields[4] == mount_point and tail[:1] == ["proc"]:
            options = frozenset(tail[2].split(",")) if len(tail) >= 3 else frozenset()
    return options


def subset_pid(options: frozenset[str]) -> bool:
    return "subset=pid" in options


def hides_other_users(options: frozenset[str]) -> bool:
    """Whether /proc hides (or locks) other users' processes from this process: a ``hidepid``
    other than ``off``, unless this process is in the mount's exempt ``gid=`` group."""
    hidepid = next((o.partition("=")[2] for o in options if o.startswith("hidepid=")), "off")
    if hidepid in {"off", "0"}:
        return False
    exempt = next((o.partition("=")[2] for o in options if o.startswith("gid=")), None)
    if exempt is not None and exempt.isdigit():
        return int(exempt) not in {os.getegid(), *os.getgroups()}
    return True


def hidepid_value(options: frozenset[str]) -> str:
    return next((o for o in options if o.startswith("hidepid=")), "hidepid")


SUBSET_PID_FIX = (
    "/proc is mounted with subset=pid (systemd's ProcSubset=pid), which hides it; "
    "remove ProcSubset=pid from the unit (docs/install.md)"
)


def hidden_processes_fix(options: frozenset[str]) -> str:
    return (
        f"/proc hides other users' processes ({hidepid_value(options)}, systemd's "
        "ProtectProc=); set ProtectProc=default in the unit (docs/install.md)"
    )


def unreadable(what: str, exc: OSError) -> str:
    """``cannot read /proc/stat for CPU use: ...``, with what to change when the mount's
    options explain it."""
    path = exc.filename if isinstance(exc.filename, str) else "/proc"
    why = SUBSET_PID_FIX if subset_pid(proc_options()) else exc.strerror or str(exc)
    return f"cannot read {path} for {what}: {why}"
