"""Reading the procfs mount's options from mountinfo, as the kernel writes them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mailwatch.probes.procfs import hides_other_users, proc_options, subset_pid

# Lines as /proc/self/mountinfo has them: a systemd service with ProtectProc=invisible and
# ProcSubset=pid gets its own procfs mounted over the host's.
MOUNTINFO = """\
22 1 259:1 / / rw,relatime shared:1 - ext4 /dev/root rw
23 22 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw
24 23 0:22 / /proc/sys/fs/binfmt_misc rw,relatime shared:13 - autofs systemd-1 rw,fd=30
301 22 0:61 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw,hidepid=invisible,subset=pid
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "mountinfo"
    path.write_text(text)
    return path


def test_the_last_procfs_mounted_on_proc_wins(tmp_path: Path) -> None:
    options = proc_options(write(tmp_path, MOUNTINFO))
    assert {"hidepid=invisible", "subset=pid"} <= options
    assert subset_pid(options)
    assert hides_other_users(options)


def test_a_plain_proc_hides_nothing(tmp_path: Path) -> None:
    options = proc_options(write(tmp_path, "\n".join(MOUNTINFO.splitlines()[:3])))
    assert options == {"rw"}
    assert not subset_pid(options)
    assert not hides_other_users(options)


def test_unreadable_mountinfo_means_no_options(tmp_path: Path) -> None:
    assert proc_options(tmp_path / "missing") == frozenset()


@pytest.mark.parametrize(
    ("hidepid", "hides"),
    [("hidepid=off", False), ("hidepid=0", False), ("hidepid=invisible", True),
     ("hidepid=2", True), ("hidepid=noaccess", True), ("hidepid=ptraceable", True)],
)  # fmt: skip
def test_hidepid_values(hidepid: str, hides: bool) -> None:
    assert hides_other_users(frozenset({"rw", hidepid})) is hides


def test_the_exempt_group_sees_everything() -> None:
    mine = os.getegid()
    assert not hides_other_users(frozenset({"hidepid=invisible", f"gid={mine}"}))
    others = max({mine, *os.getgroups()}) + 1
    assert hides_other_users(frozenset({"hidepid=invisible", f"gid={others}"}))
