"""``/metrics`` of a real ``mailwatch run`` with a check of every kind against the harness's
Postfix, Dovecot and dnsmasq: promtool finds nothing to lint, the Grafana dashboard asks only
for metrics and labels the daemon exports, every figure a result carries is declared, and a
check removed by a reload takes all its series with it."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from harness import dnsmasq as zones
from harness.dnsmasq import DnsServer
from harness.mailservers import MailServers
from helpers.daemon import DaemonProcess, free_port, wait_for
from helpers.resources import LEVELS_OFF_TOML
from helpers.roundtrip_config import roundtrip_toml
from mailwatch.config.checks.registry import KINDS

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "contrib" / "grafana" / "mailwatch.json"
KIND_NAMES = sorted(kind.name for kind in KINDS)
TARGET_LABELS = {"job", "instance"}
"""Labels Prometheus attaches to every series it scrapes; the daemon does not export them."""


def checks_toml(servers: MailServers, dns: DnsServer) -> str:
    resolver = f'{{ nameservers = ["127.0.0.1"], port = {dns.port}, query_timeout_s = 2.0 }}'
    return f"""
[[checks.service]]
name = "smtp-banner"
protocol = "smtp"
host = "127.0.0.1"
port = {servers.smtp_port}
interval_s = 2

[[checks.resources]]
name = "host"
interval_s = 2
interfaces = ["lo"]
{LEVELS_OFF_TOML}

[[checks.tls]]
name = "smtp-tls"
protocol = "smtp-starttls"
host = "127.0.0.1"
port = {servers.smtp_port}
sni = "mail.example.test"
ca_file = "{servers.ca_file}"
interval_s = 5

[[checks.queue]]
name = "postfix-queue"
postfix_config_dir = "{servers.postfix_dir}"
interval_s = 2

[[checks.mx]]
name = "mx-good"
domain = "{zones.GOOD}"
resolver = {resolver}
interval_s = 2

[[checks.dnsbl]]
name = "blocklists"
ips = ["{zones.LISTED_IPV4}"]
use_default_zones = false
zones = [{{ zone = "{zones.IP_ZONE}" }}]
resolver = {resolver}
interval_s = 2
"""


class MetricsDaemon(DaemonProcess):
    def __init__(self, tmp_path: Path, servers: MailServers, dns: DnsServer) -> None:
        self.metrics_port = free_port()
        roundtrip = roundtrip_toml(
            servers,
            "route-second",
            user=servers.second,
            deadline_s=20,
            check={"interval_s": 2.0},
            imap={"poll_interval_s": 0.5},
        )
        self.checks = checks_toml(servers, dns)
        self.head = f"""
[daemon]
state_dir = "{tmp_path / "state"}"
status_interval_s = 1
start_spread_s = 0.5
shutdown_grace_s = 1

[metrics]
listen = ":{self.metrics_port}"
{roundtrip}"""
        super().__init__(tmp_path, self.head + self.checks, {"MW_TEST_PASSWORD": servers.password})

    def scrape(self) -> str | None:
        try:
            url = f"http://127.0.0.1:{self.metrics_port}/metrics"
            with urllib.request.urlopen(url, timeout=2) as response:
                text: str = response.read().decode()
        except OSError:
            return None
        return text


@pytest.fixture(scope="module")
def daemon(
    mail_servers: MailServers, dns_server: DnsServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[MetricsDaemon]:
    mail_servers.release_delivery()
    mail_servers.clear_queue()
    mail_servers.park_a_message()  # a queued message, for the queue's age and parts
    running = MetricsDaemon(tmp_path_factory.mktemp("metrics"), mail_servers, dns_server)
    running.start()
    yield running
    running.stop()
    mail_servers.clear_queue()
    for path in mail_servers.maildir_files("second"):
        path.unlink(missing_ok=True)


@dataclass
class Exported:
    """What one scrape exports: the sample names each family may have, and the labels seen."""

    names: set[str] = field(default_factory=set)
    labels: dict[str, set[str]] = field(default_factory=dict)
    samples: list[tuple[str, dict[str, str], float]] = field(default_factory=list)


SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "summary": ("_sum", "_count", "_created"),
}


def exported(text: str) -> Exported:
    found = Exported()
    for family in text_string_to_metric_families(text):
        names = {family.name} | {family.name + s for s in SUFFIXES.get(family.type, ())}
        found.names |= names
        for name in names:
            found.labels.setdefault(name, set())
        for sample in family.samples:
            found.names.add(sample.name)
            found.labels.setdefault(sample.name, set()).update(sample.labels)
            found.samples.append((sample.name, sample.labels, sample.value))
    return found


def full_scrape(daemon: MetricsDaemon) -> str | None:
    """A scrape once every check has reported: each kind's figures have samples."""
    text = daemon.scrape()
    if text is None:
        return None
    names = {name for name, _, _ in exported(text).samples}
    have = {
        s: s in names
        for s in (
            "mailwatch_roundtrip_last_latency_seconds",
            "mailwatch_roundtrip_hop_delay_seconds",
            "mailwatch_service_banner_seconds",
            "mailwatch_resources_network_receive_bytes_per_second",
            "mailwatch_tls_cert_expiry_timestamp_seconds",
            "mailwatch_mx_lookup_seconds",
            "mailwatch_dnsbl_listings",
            "mailwatch_queue_oldest_message_age_seconds",
        )
    }
    parked = not re.search(
        r'^mailwatch_queue_part_messages\{check="postfix-queue",queue="hold"\} 0\.0$', text, re.M
    )
    return text if all(have.values()) and parked else None


# --- PromQL, as far as a dashboard's queries need it --------------------------------------

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_SELECTOR = re.compile(r"([A-Za-z_:][A-Za-z0-9_:]*)?\s*\{([^}]*)\}")
_GROUPING = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)")
_RANGE = re.compile(r"\[[^\]]*\]")
_IDENT = re.compile(r"(?<![\w$.])([A-Za-z_:][A-Za-z0-9_:]*)\b(?!\s*\()")
_KEYWORDS = {"and", "or", "unless", "bool", "offset", "inf", "nan", "group_left", "group_right"}
_LABEL_NAME = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*(?:=~|!~|!=|=)")


@dataclass(frozen=True)
class Query:
    metrics: frozenset[str]
    selectors: tuple[tuple[str, frozenset[str]], ...]
    """Each metric named with a label matcher, and the labels it matches on."""
    grouping: frozenset[str]


def parse_query(expr: str) -> Query:
    text = _RANGE.sub(" ", expr)
    selectors = []
    for match in _SELECTOR.finditer(_STRING.sub('""', text)):
        if match[1]:
            selectors.append((match[1], frozenset(_LABEL_NAME.findall(match[2]))))
    bare = _SELECTOR.sub(lambda m: f" {m[1] or ''} ", _STRING.sub('""', text))
    grouping: set[str] = set()
    for match in _GROUPING.finditer(bare):
        grouping |= {label.strip() for label in match[2].split(",") if label.strip()}
    bare = _GROUPING.sub(" ", bare)
    names = {
        name
        for name in _IDENT.findall(bare)
        if name.lower() not in _KEYWORDS and not re.fullmatch(r"\d\w*", name)
    }
    return Query(frozenset(names), tuple(selectors), frozenset(grouping))


def dashboard_queries() -> list[str]:
    document = json.loads(DASHBOARD.read_text())
    queries: list[str] = []

    def walk(panels: list[dict[str, object]]) -> None:
        for panel in panels:
            for target in panel.get("targets", []):  # type: ignore[attr-defined]
                queries.append(target["expr"])
            walk(panel.get("panels", []))  # type: ignore[arg-type]

    walk(document["panels"])
    for variable in document["templating"]["list"]:
        query = variable.get("query")
        if isinstance(query, dict):
            query = query["query"]
        found = re.fullmatch(r"label_values\((.+),\s*(\w+)\)", query or "")
        if found:  # label_values(selector, label): the label must be on the selector's metric
            queries.append(f"count by ({found[2]}) ({found[1]})")
    return queries


def test_parse_query_finds_metrics_labels_and_grouping() -> None:
    query = parse_query(
        'histogram_quantile(0.95, sum by (le, check) (rate(mailwatch_x_bucket{check=~"$a{b}"}'
        "[$__rate_interval]))) / on (check) group_left mailwatch_y - time() / 86400 * 2^30"
    )
    assert query.metrics == {"mailwatch_x_bucket", "mailwatch_y"}
    assert query.selectors == (("mailwatch_x_bucket", frozenset({"check"})),)
    assert query.grouping == {"le", "check"}


# --- the scrape ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def scrape(daemon: MetricsDaemon) -> str:
    return wait_for("a scrape with every kind's figures", lambda: full_scrape(daemon), 60.0)


def test_promtool_finds_nothing_to_lint(scrape: str) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        reason = "promtool not installed (Debian: apt-get install prometheus; scripts/bootstrap)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    proc = subprocess.run(
        [promtool, "check", "metrics"],
        input=scrape,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert proc.returncode == 0 and not proc.stderr.strip(), proc.stdout + proc.stderr


def test_every_kind_has_its_figures_and_the_check_families(scrape: str) -> None:
    found = exported(scrape)
    for kind in KIND_NAMES:
        assert any(name.startswith(f"mailwatch_{kind}_") for name, _, _ in found.samples), kind
    for name, labels, _ in found.samples:
        if name.startswith("mailwatch_") and name not in {
            "mailwatch_build_info",
            "mailwatch_open_tickets",
            "mailwatch_outbox_backlog",
        }:
            assert "check" in labels, (name, labels)
    lines = scrape.splitlines()
    assert 'mailwatch_check_success{check="smtp-banner",kind="service"} 1.0' in lines
    assert 'mailwatch_check_state{check="smtp-banner",kind="service"} 0.0' in lines
    # dnsbl: the listed test address is critical, the worst rank
    assert 'mailwatch_check_state{check="blocklists",kind="dnsbl"} 3.0' in lines
    assert 'mailwatch_check_success{check="blocklists",kind="dnsbl"} 0.0' in lines
    assert 'mailwatch_dnsbl_listings{check="blocklists"} 1.0' in lines
    assert any(
        line.startswith('mailwatch_check_runs_total{check="smtp-banner",state="ok"} ')
        and float(line.split()[-1]) >= 1
        for line in lines
    )
    assert any(line.startswith("mailwatch_build_info{") for line in lines)
    assert any(line.startswith("process_resident_memory_bytes ") for line in lines)
    assert any(line.startswith("python_info{") for line in lines)
    assert any(
        line.startswith('mailwatch_resources_disk_used_percent{check="host",mount="root"}')
        for line in lines
    )


def test_the_dashboard_asks_only_for_exported_metrics_and_labels(scrape: str) -> None:
    found = exported(scrape)
    queries = dashboard_queries()
    assert len(queries) > 20
    named: set[str] = set()
    for expr in queries:
        query = parse_query(expr)
        assert query.metrics, expr
        named |= query.metrics
        unknown = query.metrics - found.names
        assert not unknown, f"{expr}: not exported: {sorted(unknown)}"
        for metric, labels in query.selectors:
            missing = labels - found.labels[metric] - TARGET_LABELS
            assert not missing, f"{expr}: {metric} has no label {sorted(missing)}"
        on_any = set().union(*(found.labels[m] for m in query.metrics)) | {"le"}
        missing = query.grouping - on_any - TARGET_LABELS
        assert not missing, f"{expr}: grouped by labels no metric has: {sorted(missing)}"
    for kind in KIND_NAMES:
        assert any(name.startswith(f"mailwatch_{kind}_") for name in named), kind


def test_every_figure_a_result_carries_is_declared(daemon: MetricsDaemon, scrape: str) -> None:
    status = wait_for("status.json", daemon.status)
    declared = {kind.name: kind.exported for kind in KINDS}
    seen_kinds = set()
    for check in status["checks"]:
        seen_kinds.add(check["kind"])
        for key in check["metrics"]:
            assert any(f.match(key) is not None for f in declared[check["kind"]]), (
                check["name"],
                key,
            )
    assert seen_kinds == set(KIND_NAMES)


def test_a_check_removed_by_a_reload_loses_every_series(daemon: MetricsDaemon, scrape: str) -> None:
    assert 'check="smtp-banner"' in scrape
    assert 'check="host"' in scrape
    kept = re.sub(
        r"\[\[checks\.(service|resources)\]\].*?(?=\n\[\[|\Z)", "", daemon.checks, flags=re.S
    )
    assert "smtp-banner" not in kept and "postfix-queue" in kept
    daemon.config.write_text(daemon.head + kept)
    daemon.send(signal.SIGHUP)

    def gone() -> str | None:
        text = daemon.scrape()
        if text is None or 'check="smtp-banner"' in text or 'check="host"' in text:
            return None
        return text

    after = wait_for("the removed checks' series to go", gone)
    assert 'mailwatch_check_state{check="postfix-queue",kind="queue"}' in after
    assert 'mailwatch_roundtrip_latency_seconds_count{check="route-second"}' in after


def test_docs_list_every_metric_the_daemon_exports_and_no_other(scrape: str) -> None:
    documented = set(
        re.findall(r"`(mailwatch_[a-z0-9_]+)`", (ROOT / "docs/metrics.md").read_text())
    )
    families = set()
    for family in text_string_to_metric_families(scrape):
        # the text parser reads the histogram's _created samples as a family of their own
        if family.name.startswith("mailwatch_") and not family.name.endswith("_created"):
            families.add(family.name + ("_total" if family.type == "counter" else ""))
    assert families - documented == set()
    assert documented - families == set()
