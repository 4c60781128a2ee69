"""``mailwatch check --nagios`` as Nagios, Icinga and Checkmk run it: against the real servers,
its output read by a strict parser of the Monitoring Plugins guidelines' perfdata grammar and by
Monitoring::Plugin's own (Debian's libmonitoring-plugin-perl), and every failure an UNKNOWN
status line on stdout with exit 3."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from cli.test_check_mixed import mixed_config
from harness.dnsmasq import DnsServer
from harness.mailservers import MailServers
from helpers.hung_mount import hung_mount_or_skip
from helpers.resources import LEVELS_OFF_TOML
from helpers.roundtrip_config import roundtrip_toml
from mailwatch.cli.nagios.perfdata import plain, uom_for

# The guidelines' grammar (monitoring-plugins.org/doc/guidelines.html, "Performance data"):
# 'label'=value[UOM];[warn];[crit];[min];[max], value/min/max in [-0-9.], warn and crit in the
# range format [@][start:][end] (start may be ~), UOM one of the listed units.
NUMBER = r"-?[0-9]+(?:\.[0-9]+)?"
RANGE = rf"@?(?:(?:~|{NUMBER})?:)?(?:{NUMBER})?"
UOMS = ("", "s", "ms", "us", "%", "B", "KB", "MB", "TB", "c")
DATUM = re.compile(
    rf"(?:'(?P<quoted>[^'=]+)'|(?P<bare>[^'= ]+))=(?P<value>{NUMBER})(?P<uom>[a-zA-Z%]*)"
    rf"(?:;(?P<warn>{RANGE})(?:;(?P<crit>{RANGE})(?:;(?P<min>{NUMBER})?(?:;(?P<max>{NUMBER})?)?)?)?)?"
)


@dataclass(frozen=True)
class Datum:
    label: str
    value: str
    uom: str
    warn: str
    crit: str
    min: str
    max: str


def strict_perfdata(text: str) -> list[Datum]:
    """Every datum of a perfdata string; AssertionError at the first thing the grammar refuses."""
    data, at = [], 0
    while at < len(text):
        match = DATUM.match(text, at)
        assert match, f"not perfdata at {text[at:]!r}"
        end = match.end()
        assert end == len(text) or text[end] == " ", f"garbage after {match.group(0)!r}"
        assert match["uom"] in UOMS, f"unit {match['uom']!r} is not one of the guidelines'"
        data.append(
            Datum(
                match["quoted"] or match["bare"],
                match["value"],
                match["uom"],
                *(match[key] or "" for key in ("warn", "crit", "min", "max")),
            )
        )
        at = end + 1
    return data


# Monitoring::Plugin's parser, and its verdict on each value against the datum's own levels.
PERL = r"""
use strict; use warnings;
use Monitoring::Plugin::Performance;
my $text = do { local $/; <STDIN> };
my @perf = Monitoring::Plugin::Performance->parse_perfstring($text) or die "unparsable\n";
for my $p (@perf) {
    my @f = map { defined $_ ? $_ : "" }
        ($p->label, $p->value, $p->uom, $p->warning, $p->critical, $p->min, $p->max);
    print join("\t", @f, $p->threshold->get_status($p->value)), "\n";
}
"""


def monitoring_plugin(perfdata: str) -> dict[str, tuple[Datum, int]]:
    """Each datum as Monitoring::Plugin::Performance reads it, with the state (0 to 2) that
    Monitoring::Plugin::Threshold gives its value against its warn and crit ranges."""
    perl = shutil.which("perl")
    assert perl, "perl is missing (scripts/bootstrap installs libmonitoring-plugin-perl)"
    proc = subprocess.run(
        [perl, "-e", PERL], input=perfdata, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    parsed = {}
    for line in proc.stdout.splitlines():
        *fields, status = line.split("\t")
        parsed[fields[0]] = (Datum(*fields), int(status))
    return parsed


@dataclass(frozen=True)
class PluginRun:
    code: int
    stdout: str
    stderr: str

    @property
    def lines(self) -> list[str]:
        return self.stdout.splitlines()

    @property
    def status_line(self) -> str:
        return self.lines[0].partition(" | ")[0]

    @property
    def perfdata(self) -> str:
        return self.lines[0].partition(" | ")[2]

    def data(self) -> dict[str, Datum]:
        """The perfdata, read by both parsers, which must agree datum for datum."""
        strict = strict_perfdata(self.perfdata)
        theirs = monitoring_plugin(self.perfdata)
        assert [d.label for d in strict] == list(theirs), self.perfdata
        for datum in strict:
            assert theirs[datum.label][0] == datum, (datum, theirs[datum.label][0])
        return {datum.label: datum for datum in strict}


def mailwatch(*args: str, password: str = "") -> PluginRun:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": os.environ.get("PYTHONPATH", ""),
        "MW_TEST_PASSWORD": password,
    }
    proc = subprocess.run(
        [sys.executable, "-m", "mailwatch", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        env=env,
    )
    return PluginRun(proc.returncode, proc.stdout, proc.stderr)


def test_every_kind_as_plugin_output(
    mail_servers: MailServers, dns_server: DnsServer, tmp_path: Path
) -> None:
    config = tmp_path / "mailwatch.toml"
    config.write_text(mixed_config(mail_servers, dns_server))
    run = mailwatch("check", "-c", str(config), "--nagios", password=mail_servers.password)

    assert run.code == 2, run.stdout + run.stderr
    assert run.stderr == ""
    assert run.status_line.startswith("MAILWATCH CRITICAL - 1 critical, 6 ok: g-service: "), (
        run.stdout
    )
    # Long output: one line per check, worst first, then by name.
    assert [line.split()[:2] for line in run.lines[1:]] == [
        ["[CRITICAL]", "g-service:"],
        *[["[OK]", f"{name}:"] for name in ("a-roundtrip", "b-mx", "c-dnsbl", "d-tls", "e-queue")],
        ["[OK]", "f-resources:"],
    ], run.stdout
    assert "|" not in "\n".join(run.lines[1:])

    data = run.data()
    # The failed check's run is measured too.
    assert data["g-service.duration_s"].uom == "s"
    assert data["g-service.duration_s"].max == "5"
    # The check's own levels, so graphs draw the lines it alerts at.
    latency = data["a-roundtrip.latency_s"]
    assert (latency.uom, latency.warn, latency.crit, latency.min) == ("s", "30", "90", "0")
    days = data["d-tls.days_left"]
    assert (days.uom, days.warn, days.crit, days.min) == ("", "21:", "7:", "")
    queue = data["e-queue.total_messages"]
    assert (queue.uom, queue.warn, queue.crit, queue.min) == ("", "100", "500", "0")
    assert (data["e-queue.deferred_messages"].warn, data["e-queue.deferred_messages"].crit) == (
        "50",
        "200",
    )
    assert data["e-queue.hold_messages"].warn == ""  # off by default
    cpu = data["f-resources.cpu_percent"]
    assert (cpu.uom, cpu.min, cpu.max) == ("%", "0", "100")
    free = data["f-resources.disk_root_free_bytes"]
    assert (free.uom, free.min) == ("B", "0")
    assert data["b-mx.mx_hosts"].uom == "" and data["c-dnsbl.listings"].uom == ""
    # Figures of every kind, each read alike by both parsers (neither admits an exponent here).
    assert {label.split(".")[0] for label in data} == {
        "a-roundtrip", "b-mx", "c-dnsbl", "d-tls", "e-queue", "f-resources", "g-service",
    }  # fmt: skip

    # Monitoring::Plugin judges each value of an ok check ok against the levels it carries.
    verdicts = monitoring_plugin(run.perfdata)
    for label, (_, status) in verdicts.items():
        if not label.startswith("g-service."):
            assert status == 0, (label, verdicts[label])


def test_levels_in_perfdata_judge_as_the_check_does(tmp_path: Path) -> None:
    """A resources check whose disk level is passed: its state, and Monitoring::Plugin's verdict
    on the disk figure from the levels in the perfdata, are both warning."""
    levels = LEVELS_OFF_TOML.replace(
        'disk_percent = { warning = "off", critical = "off" }',
        "disk_percent = { warning = 0.001, critical = 100 }",
    )
    config = tmp_path / "mailwatch.toml"
    config.write_text(
        f'[[checks.resources]]\nname = "host"\nmounts = ["/"]\ncpu_sample_s = 0.1\n{levels}\n'
    )
    run = mailwatch("check", "-c", str(config), "--nagios")
    assert run.code == 1, run.stdout + run.stderr
    assert run.status_line.startswith("MAILWATCH WARNING - 1 warning: host: "), run.stdout
    verdicts = monitoring_plugin(run.perfdata)
    assert verdicts["host.disk_root_percent"][0].warn == "0.001"
    assert verdicts["host.disk_root_percent"][1] == 1
    assert run.data()["host.disk_root_percent"].crit == "100"


def test_all_ok_is_a_tally_then_one_line_each(tmp_path: Path) -> None:
    config = tmp_path / "mailwatch.toml"
    config.write_text(
        "".join(
            f'[[checks.resources]]\nname = "{name}"\ncpu_sample_s = 0.1\n{LEVELS_OFF_TOML}\n'
            for name in ("one", "two")
        )
    )
    run = mailwatch("check", "-c", str(config), "--nagios")
    assert (run.code, run.status_line) == (0, "MAILWATCH OK - 2 ok"), run
    assert [line.split()[:2] for line in run.lines[1:]] == [["[OK]", "one:"], ["[OK]", "two:"]]


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--nagios", "--colour"], "unrecognized arguments: --colour"),
        (["--nagios", "-t", "soon"], "argument -t/--timeout: not a number of seconds: 'soon'"),
        (["--nagios", "--json"], "not allowed with argument"),
        (["--nag", "nope"], "no such check: nope"),
        (["--nagios", "nope"], "no such check: nope"),
    ],
)
def test_usage_errors_are_unknown_on_stdout(tmp_path: Path, args: list[str], said: str) -> None:
    config = tmp_path / "mailwatch.toml"
    config.write_text('[[checks.service]]\nname = "svc"\nprotocol = "smtp"\nhost = "127.0.0.1"\n')
    run = mailwatch("check", "-c", str(config), *args)
    assert run.code == 3, run
    assert run.stdout.startswith("MAILWATCH UNKNOWN - ") and said in run.stdout, run
    assert len(run.lines) == 1 and run.stderr == ""


def test_config_errors_are_unknown_on_stdout(tmp_path: Path) -> None:
    config = tmp_path / "mailwatch.toml"
    config.write_text('[[checks.service]]\nname = "svc"\nprotocol = "smtp"\ncolour = 1\n')
    run = mailwatch("check", "-c", str(config), "--nagios")
    assert run.code == 3, run
    # Every problem is told: the first on the status line, the others as long output.
    assert run.lines == [
        f"MAILWATCH UNKNOWN - invalid config {config}: checks.service[0].host: "
        "required key is missing (and 1 more)",
        "checks.service[0].colour: unknown key",
    ]
    assert run.stderr == ""

    config.write_text("")
    run = mailwatch("check", "-c", str(config), "--nagios")
    assert (run.code, run.stdout) == (3, f"MAILWATCH UNKNOWN - no checks configured in {config}\n")


@pytest.fixture
def hung_config(tmp_path: Path) -> Path:
    """A config "file" that never finishes opening (a FIFO nobody writes), as one on a hung
    network mount would: what the whole-run time limit is for."""
    fifo = tmp_path / "mailwatch.toml"
    os.mkfifo(fifo)
    return fifo


def test_the_whole_run_is_cut_off_at_the_time_limit(hung_config: Path) -> None:
    run = mailwatch("check", "-c", str(hung_config), "--nagios", "-t", "1.5")
    assert (run.code, run.stdout, run.stderr) == (
        3,
        "MAILWATCH UNKNOWN - timed out after 1.5 s (-t)\n",
        "",
    )
    run = mailwatch("check", "-c", str(hung_config), "-t", "1.5")
    assert (run.code, run.stdout, run.stderr) == (3, "", "mailwatch: timed out after 1.5 s (-t)\n")


def test_a_long_roundtrip_is_fitted_into_the_time_limit(
    mail_servers: MailServers, tmp_path: Path
) -> None:
    """A roundtrip check that would wait 120 s for its canary (150 s in all) reports the canary
    missing within a 10 s limit, with what it measured, rather than being cut off blind."""
    config = tmp_path / "mailwatch.toml"
    config.write_text(roundtrip_toml(mail_servers, "slow", deadline_s=120))
    mail_servers.hold_delivery()
    try:
        run = mailwatch(
            "check", "-c", str(config), "--nagios", "-t", "10", password=mail_servers.password
        )
    finally:
        mail_servers.release_delivery()
        mail_servers.clear_queue()
    assert run.code == 2, run
    assert run.status_line.startswith("MAILWATCH CRITICAL - 1 critical: slow: canary to "), run
    assert "not delivered within" in run.status_line, run
    data = run.data()
    assert data["slow.send_s"].uom == "s"
    waited = float(data["slow.waited_s"].value)
    assert 0 < waited < 10
    assert float(data["slow.duration_s"].max) < 10


@pytest.mark.parametrize(
    ("metric", "uom"),
    [
        ("latency_s", "s"),
        ("oldest_age_s", "s"),
        ("net_eth0_rx_bytes_per_s", ""),
        ("growth_per_min", ""),
        ("disk_root_free_bytes", "B"),
        ("inodes_var_percent", "%"),
        ("late_canaries", ""),
        ("process_count", ""),
        ("days_left", ""),
    ],
)
def test_units_from_metric_names(metric: str, uom: str) -> None:
    assert uom_for(metric) == uom


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (8.2292e-05, "0.000082"),
        (8.4241e10, "84241000000"),
        (3.0, "3"),
        (-2.5, "-2.5"),
        (1e-9, "0"),
        (1e22, "10000000000000000000000"),
    ],
)
def test_numbers_in_plain_decimals(value: float, text: str) -> None:
    assert plain(value) == text


def test_a_hung_mount_is_reported_within_the_time_limit(tmp_path: Path) -> None:
    """A resources check allowed 30 s, on a mount that never answers (a hard NFS mount whose
    server is gone), under -t 4: the check is fitted into the limit and says which mount hung,
    rather than the whole run ending in "timed out"."""
    with hung_mount_or_skip(tmp_path / "nfs") as mount:
        config = tmp_path / "mailwatch.toml"
        config.write_text(
            f'[[checks.resources]]\nname = "host"\ntimeout_s = 30\ncpu_sample_s = 0.1\n'
            f'mounts = ["/", "{mount.path}"]\n{LEVELS_OFF_TOML}\n'
        )
        run = mailwatch("check", "-c", str(config), "--nagios", "-t", "4")
        table = mailwatch("check", "-c", str(config), "-t", "4")
    # Without --nagios too: the table, with the mount named, not "timed out".
    assert table.code == 3 and table.stderr == "", table
    assert table.lines[1].split()[:2] == ["UNKNOWN", "host"] and str(mount.path) in table.lines[1]
    assert run.code == 3, run
    assert run.status_line.startswith("MAILWATCH UNKNOWN - 1 unknown: host: "), run
    assert str(mount.path) in run.status_line, run
    assert float(run.data()["host.duration_s"].max) < 4
