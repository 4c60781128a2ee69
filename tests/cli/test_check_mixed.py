"""One ``mailwatch check`` over every check kind at once, against the real servers: the
checks run concurrently and come back as one table, worst first, with the worst exit code."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from harness.dnsmasq import GOOD, IP_ZONE, DnsServer
from harness.mailservers import MailServers
from helpers.resources import LEVELS_OFF_TOML
from helpers.roundtrip_config import roundtrip_toml

KINDS = ("roundtrip", "mx", "dnsbl", "tls", "queue", "resources", "service")


def mixed_config(servers: MailServers, dns: DnsServer) -> str:
    resolver = f'nameservers = ["127.0.0.1"]\nport = {dns.port}'
    return f"""{roundtrip_toml(servers, "a-roundtrip")}
[[checks.mx]]
name = "b-mx"
domain = "{GOOD}"
[checks.mx.resolver]
{resolver}

[[checks.dnsbl]]
name = "c-dnsbl"
ips = ["127.0.0.1"]
use_default_zones = false
[[checks.dnsbl.zones]]
zone = "{IP_ZONE}"
type = "ip"
[checks.dnsbl.resolver]
{resolver}

[[checks.tls]]
name = "d-tls"
protocol = "smtps"
host = "127.0.0.1"
port = {servers.smtps_port}
sni = "localhost"
ca_file = "{servers.ca_file}"

[[checks.queue]]
name = "e-queue"
postfix_config_dir = "{servers.postfix_dir}"

[[checks.resources]]
name = "f-resources"
mounts = ["/"]
cpu_sample_s = 0.5
# Levels off: the service check must be the one critical row, on a busy machine too.
{LEVELS_OFF_TOML}

[[checks.service]]
name = "g-service"
protocol = "smtp"
host = "127.0.0.1"
port = 1
timeout_s = 5
"""


def test_every_kind_in_one_run(
    mail_servers: MailServers, dns_server: DnsServer, tmp_path: Path
) -> None:
    config = tmp_path / "mailwatch.toml"
    config.write_text(mixed_config(mail_servers, dns_server))
    proc = mailwatch_check(config, mail_servers)
    lines = proc.stdout.splitlines()
    assert lines[0].split() == ["STATE", "CHECK", "KIND", "STAGE", "SUMMARY"], proc.stdout
    rows = {line.split()[1]: line.split() for line in lines[1:]}
    assert sorted(row[2] for row in rows.values()) == sorted(KINDS), proc.stdout
    # The service check points at a closed port: the one critical row, first, and exit 2.
    assert lines[1].split()[:4] == ["CRITICAL", "g-service", "service", "connect"], proc.stdout
    assert proc.returncode == 2, proc.stdout + proc.stderr
    for name in ("a-roundtrip", "b-mx", "c-dnsbl", "d-tls", "e-queue"):
        assert rows[name][0] == "OK", proc.stdout

    # Concurrently: the round trip and the CPU sampling (0.5 s) overlap in time.
    results = {
        r["check"]: r for r in json.loads(mailwatch_check(config, mail_servers, "--json").stdout)
    }
    roundtrip, resources = results["a-roundtrip"], results["f-resources"]
    assert roundtrip["started_at"] < resources["finished_at"]
    assert resources["started_at"] < roundtrip["finished_at"]


def mailwatch_check(
    config: Path, servers: MailServers, *args: str
) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": os.environ.get("PYTHONPATH", ""),  # this checkout's mailwatch
        "MW_TEST_PASSWORD": servers.password,
    }
    return subprocess.run(
        [sys.executable, "-m", "mailwatch", "check", "-c", str(config), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        env=env,
    )
