"""The resources and process checks under the /proc the unit's sandbox gives them.

systemd's ``ProcSubset=pid`` mounts a procfs with ``subset=pid`` and ``ProtectProc=invisible``
one with ``hidepid=invisible``. Each test here makes that mount for real: ``mailwatch check``
runs in a mount namespace of its own (``unshare --mount``) with a fresh procfs over /proc, as
an unprivileged user (nobody, standing in for the unit's ``mailwatch``). The checks must work
under the shipped unit's /proc, and say what to change in the unit under a /proc that hides
what they read. Needs root; without it the tests skip, and fail under CI.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from helpers.resources import LEVELS_OFF_TOML
from systemd_unit.test_unit import service_section

NOBODY = 65534


def _unavailable(why: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"a procfs in a mount namespace is needed: {why}")
    pytest.skip(f"a procfs in a mount namespace is needed: {why}")


def in_namespace(proc_options: str, command: list[str]) -> subprocess.CompletedProcess[str]:
    """``command`` as nobody, in a new mount namespace whose /proc is a fresh procfs mounted
    with ``proc_options`` ("" for the defaults)."""
    mount = "mount -t proc " + (f"-o {proc_options} " if proc_options else "") + "proc /proc"
    namespace = ["unshare", "--mount", "--fork", "--", "sh", "-c", f'{mount} && exec "$@"', "sh"]
    as_nobody = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
    return subprocess.run(
        [*namespace, *as_nobody, *command],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        env={
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            **({"PYTHONPATH": os.environ["PYTHONPATH"]} if os.environ.get("PYTHONPATH") else {}),
        },
    )


@pytest.fixture(scope="module")
def namespaces() -> None:
    if shutil.which("unshare") is None or shutil.which("setpriv") is None:
        _unavailable("unshare and setpriv (util-linux) are not installed")
    if os.geteuid() != 0:
        _unavailable("mounting a procfs in a new mount namespace needs root")
    for options in ("subset=pid", "hidepid=invisible"):
        probe = in_namespace(options, ["cat", "/proc/self/mountinfo"])
        if probe.returncode != 0 or options not in probe.stdout:
            _unavailable(f"mount -t proc -o {options} failed: {probe.stderr.strip()}")


@pytest.fixture
def root_process() -> Iterator[str]:
    """A process of root's (as Postfix's master is), named ``sleep``, with a token of its own
    in its command line; yields the token."""
    token = f"mailwatch-sandbox-{uuid.uuid4().hex[:8]}"
    proc = subprocess.Popen([token, "600"], executable=shutil.which("sleep"))
    try:
        yield token
    finally:
        proc.kill()
        proc.wait(10)


@pytest.fixture
def config() -> Iterator[Path]:
    """A config nobody may read: pytest's tmp_path is root's alone."""
    where = Path(tempfile.mkdtemp(prefix="mailwatch-sandbox-"))
    where.chmod(0o755)
    path = where / "mailwatch.toml"
    try:
        yield path
    finally:
        shutil.rmtree(where)


def write_config(path: Path, token: str) -> None:
    path.write_text(
        f"""
[daemon]
state_dir = "{path.parent / "state"}"

[[checks.resources]]
name = "host"
cpu_sample_s = 0.2
mounts = ["/"]
{LEVELS_OFF_TOML}

[[checks.service]]
name = "postfix-master"
protocol = "process"
process_name = "sleep"
cmdline_contains = "{token}"
"""
    )
    path.chmod(0o644)


def check(proc_options: str, config: Path) -> dict[str, dict[str, Any]]:
    proc = in_namespace(
        proc_options, [sys.executable, "-m", "mailwatch", "check", "--json", "-c", str(config)]
    )
    assert proc.stdout, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    return {result["check"]: result for result in json.loads(proc.stdout)}


def unit_proc_options() -> str:
    """The procfs options the shipped unit's ProtectProc= and ProcSubset= ask systemd for."""
    service = service_section()
    options = []
    protect = service.get("ProtectProc", ["default"])[-1]
    if protect != "default":
        options.append(f"hidepid={protect}")
    if service.get("ProcSubset", ["all"])[-1] == "pid":
        options.append("subset=pid")
    return ",".join(options)


@pytest.mark.usefixtures("namespaces")
def test_resources_and_process_checks_work_under_the_shipped_units_proc(
    config: Path, root_process: str
) -> None:
    write_config(config, root_process)
    results = check(unit_proc_options(), config)
    host, master = results["host"], results["postfix-master"]
    assert host["state"] == "ok", host["summary"]
    assert {"cpu_percent", "memory_percent", "load_per_core"} <= set(host["metrics"])
    assert master["state"] == "ok", master["summary"]
    assert master["metrics"]["process_count"] == 1


@pytest.mark.usefixtures("namespaces")
def test_resources_check_under_proc_subset_pid_says_what_to_change(
    config: Path, root_process: str
) -> None:
    write_config(config, root_process)
    results = check("subset=pid", config)
    host = results["host"]
    assert host["state"] == "unknown"
    assert host["stage"] == "cpu"
    assert host["summary"].startswith("cannot read /proc/stat for CPU use: ")
    assert "remove ProcSubset=pid from the unit" in host["summary"]
    # What /proc still shows is measured: the mount's figures come from statvfs.
    assert "disk_root_percent" in host["metrics"]
    unread = {f["stage"]: f["text"] for f in host["details"]["findings"]}
    assert unread["memory"].startswith("cannot read /proc/meminfo for memory, swap and load: ")
    assert unread["network"].startswith("cannot read /proc/net/dev for network counters: ")
    # Processes are still listed under subset=pid.
    assert results["postfix-master"]["state"] == "ok"


@pytest.mark.usefixtures("namespaces")
def test_process_check_under_hidepid_says_what_to_change(config: Path, root_process: str) -> None:
    write_config(config, root_process)
    results = check("hidepid=invisible", config)
    master = results["postfix-master"]
    # Root's process is out of sight, not known to be gone: unknown, not critical.
    assert master["state"] == "unknown"
    assert master["stage"] == "process"
    assert master["summary"] == (
        f"0 processes named 'sleep' with {root_process!r} in the command line visible, "
        "expected at least 1: /proc hides other users' processes (hidepid=invisible, "
        "systemd's ProtectProc=); set ProtectProc=default in the unit (docs/install.md)"
    )
    # The host's figures are not per-process: hidepid leaves them readable.
    assert results["host"]["state"] == "ok", results["host"]["summary"]


@pytest.mark.usefixtures("namespaces")
def test_a_process_that_is_gone_is_still_critical_under_a_proc_that_hides_nothing(
    config: Path,
) -> None:
    write_config(config, f"mailwatch-sandbox-{uuid.uuid4().hex[:8]}")
    master = check("", config)["postfix-master"]
    assert master["state"] == "critical"
    assert master["stage"] == "process_missing"
