"""The daemon's metrics as an operator reads them: which series a result makes, how states
rank, what a reload removes, the names each kind's declaration gives its figures, and the
``[metrics] listen`` forms. Results are built by hand here; tests/daemon/test_metrics_scrape.py
scrapes a real daemon."""

from __future__ import annotations

import socket
import urllib.request
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client import generate_latest
from pydantic import ValidationError

from helpers.daemon import DaemonProcess, free_port
from mailwatch.config.checks.registry import KINDS
from mailwatch.config.metrics import MetricsConfig
from mailwatch.daemon.metrics import DaemonMetrics, figure_metrics
from mailwatch.domain.results import CheckResult, State
from mailwatch.domain.sites import site_after
from mailwatch.incidents.policy import IncidentPolicy
from mailwatch.incidents.vote import count_votes
from mailwatch.status.live import CheckStatus
from mailwatch.status.model import DaemonInfo, StoredFacts, assemble

NOW = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)


def result(
    check: str,
    kind: str,
    state: State = State.OK,
    metrics: Mapping[str, float] | None = None,
    stage: str | None = None,
    took_s: float = 0.5,
) -> CheckResult:
    return CheckResult(
        check=check,
        kind=kind,
        target="t",
        state=state,
        summary="s",
        started_at=NOW - timedelta(seconds=took_s),
        finished_at=NOW,
        stage=stage,
        metrics=metrics or {},
    )


def lines(metrics: DaemonMetrics) -> list[str]:
    return generate_latest(metrics.registry).decode().splitlines()


def value(metrics: DaemonMetrics, series: str) -> float | None:
    for line in lines(metrics):
        if line.startswith(series + " "):
            return float(line.rsplit(" ", 1)[1])
    return None


@pytest.fixture
def metrics() -> DaemonMetrics:
    made = DaemonMetrics()
    made.track([("q", "queue"), ("host", "resources"), ("rt", "roundtrip"), ("cert", "tls")])
    return made


def test_state_ranks_worst_highest_as_mailwatch_does(metrics: DaemonMetrics) -> None:
    ranks = {}
    for state in State:
        metrics.record(result("q", "queue", state, stage=None if state is State.OK else "x"))
        ranks[state] = value(metrics, 'mailwatch_check_state{check="q",kind="queue"}')
    assert ranks == {State.OK: 0, State.WARNING: 1, State.UNKNOWN: 2, State.CRITICAL: 3}
    assert value(metrics, 'mailwatch_check_success{check="q",kind="queue"}') == 0
    metrics.record(result("q", "queue"))
    assert value(metrics, 'mailwatch_check_success{check="q",kind="queue"}') == 1


def test_runs_duration_and_failures(metrics: DaemonMetrics) -> None:
    assert value(metrics, 'mailwatch_check_runs_total{check="q",state="critical"}') == 0
    metrics.record(result("q", "queue", State.CRITICAL, stage="queue_size", took_s=1.25))
    metrics.record(result("q", "queue", State.CRITICAL, stage="queue_size"))
    metrics.record(result("q", "queue", took_s=2.0))
    assert value(metrics, 'mailwatch_check_runs_total{check="q",state="critical"}') == 2
    assert value(metrics, 'mailwatch_check_runs_total{check="q",state="ok"}') == 1
    assert value(metrics, 'mailwatch_probe_failures_total{check="q",stage="queue_size"}') == 2
    assert value(metrics, 'mailwatch_check_duration_seconds{check="q",kind="queue"}') == 2.0
    assert value(metrics, 'mailwatch_check_last_success_timestamp_seconds{check="q"}') == (
        NOW.timestamp()
    )
    metrics.missed_run("q")
    assert value(metrics, 'mailwatch_missed_runs_total{check="q"}') == 1


def test_figures_become_metrics_with_labels_and_units(metrics: DaemonMetrics) -> None:
    metrics.record(
        result(
            "q",
            "queue",
            metrics={"total_messages": 7, "deferred_messages": 5, "oldest_age_s": 90.0},
        )
    )
    assert value(metrics, 'mailwatch_queue_messages{check="q"}') == 7
    assert value(metrics, 'mailwatch_queue_part_messages{check="q",queue="deferred"}') == 5
    # total_messages is the total, not a part called "total"
    assert value(metrics, 'mailwatch_queue_part_messages{check="q",queue="total"}') is None
    assert value(metrics, 'mailwatch_queue_oldest_message_age_seconds{check="q"}') == 90.0
    metrics.record(
        result(
            "host",
            "resources",
            metrics={"disk_var_spool_percent": 41.0, "net_eth0_errors": 3, "cpu_percent": 12.0},
        )
    )
    assert value(
        metrics, 'mailwatch_resources_disk_used_percent{check="host",mount="var_spool"}'
    ) == (41.0)
    assert value(metrics, 'mailwatch_resources_cpu_percent{check="host"}') == 12.0
    metrics.record(result("cert", "tls", metrics={"expiry_timestamp_s": 1.8e9, "days_left": 3}))
    assert value(metrics, 'mailwatch_tls_cert_expiry_timestamp_seconds{check="cert"}') == 1.8e9
    assert not any("days_left" in line for line in lines(metrics))


def test_gauges_hold_the_last_result_and_counters_add_up(metrics: DaemonMetrics) -> None:
    metrics.record(
        result(
            "rt", "roundtrip", metrics={"latency_s": 2.0, "late_canaries": 2, "hop_2_delay_s": 1}
        )
    )
    metrics.record(result("rt", "roundtrip", metrics={"latency_s": 3.0, "late_canaries": 1}))
    assert value(metrics, 'mailwatch_roundtrip_last_latency_seconds{check="rt"}') == 3.0
    assert value(metrics, 'mailwatch_roundtrip_late_canaries_total{check="rt"}') == 3
    # the second result had no hop: its series is gone, not stuck at the old delay
    assert value(metrics, 'mailwatch_roundtrip_hop_delay_seconds{check="rt",hop="2"}') is None
    assert value(metrics, 'mailwatch_roundtrip_latency_seconds_count{check="rt"}') == 2


def test_authentication_results_become_one_series_per_expected_method(
    metrics: DaemonMetrics,
) -> None:
    metrics.record(
        result(
            "rt",
            "roundtrip",
            State.WARNING,
            {"auth_spf_pass": 1, "auth_dkim_pass": 0, "dkim_verified": 0},
            "auth_failed",
        )
    )
    assert value(metrics, 'mailwatch_roundtrip_auth_pass{check="rt",method="spf"}') == 1
    assert value(metrics, 'mailwatch_roundtrip_auth_pass{check="rt",method="dkim"}') == 0
    assert value(metrics, 'mailwatch_roundtrip_dkim_verified{check="rt"}') == 0
    assert value(metrics, 'mailwatch_probe_failures_total{check="rt",stage="auth_failed"}') == 1


def test_a_removed_check_loses_every_series(metrics: DaemonMetrics) -> None:
    metrics.record(result("rt", "roundtrip", State.CRITICAL, {"late_canaries": 1}, "slow"))
    metrics.record(result("q", "queue", metrics={"total_messages": 1}))
    metrics.missed_run("rt")
    assert any('check="rt"' in line for line in lines(metrics))

    metrics.track([("q", "queue"), ("host", "resources"), ("cert", "tls")])

    assert not [line for line in lines(metrics) if 'check="rt"' in line]
    assert value(metrics, 'mailwatch_queue_messages{check="q"}') == 1
    # a result of the removed check that was still running is dropped, not re-added
    metrics.record(result("rt", "roundtrip", metrics={"latency_s": 1.0}))
    assert not [line for line in lines(metrics) if 'check="rt"' in line]


def test_a_check_whose_kind_changed_starts_afresh(metrics: DaemonMetrics) -> None:
    metrics.record(result("q", "queue", State.CRITICAL, {"total_messages": 900}, "queue_size"))
    metrics.track([("q", "service")])
    assert value(metrics, 'mailwatch_queue_messages{check="q"}') is None
    assert value(metrics, 'mailwatch_check_runs_total{check="q",state="critical"}') == 0


def test_build_info_process_and_platform(metrics: DaemonMetrics) -> None:
    text = "\n".join(lines(metrics))
    assert "mailwatch_build_info{" in text
    assert "process_resident_memory_bytes " in text
    assert "python_info{" in text


# --- names from the kinds' declarations --------------------------------------------------------


def test_each_kind_declares_figures_under_distinct_conventional_names() -> None:
    made = figure_metrics()
    names = [m.name for m in made]
    assert len(names) == len(set(names))
    assert {m.kind for m in made} == {kind.name for kind in KINDS}
    units = ("_seconds", "_bytes", "_percent", "_total", "_per_second")
    for m in made:
        assert m.name.endswith("_total") == m.figure.counter, m.name
        if m.figure.key.endswith("_per_s"):
            assert m.name.endswith("_per_second"), m.name
        elif m.figure.key.endswith("_s"):
            assert m.name.endswith("_seconds"), m.name
        if m.figure.key.endswith("_bytes") or m.figure.key.endswith("_percent"):
            assert m.name.endswith(units), m.name


def test_every_key_figure_an_alert_shows_is_exported() -> None:
    for kind in KINDS:
        exported = {f.key for f in kind.exported if f.name is not None}
        for figure in kind.figures:
            assert figure.metric in exported, (kind.name, figure.metric)


def test_a_figure_kept_out_says_why() -> None:
    for kind in KINDS:
        for figure in kind.exported:
            if figure.name is None:
                assert figure.help.startswith("Not exported: "), figure


# --- [metrics] listen ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("listen", "address"),
    [
        ("127.0.0.1:9187", ("127.0.0.1", 9187)),
        ("localhost:9187", ("localhost", 9187)),
        ("[::1]:9187", ("::1", 9187)),
        ("[::]:9187", ("::", 9187)),
        (":9187", ("", 9187)),
        ("0.0.0.0:1", ("0.0.0.0", 1)),
    ],
)
def test_listen_forms(listen: str, address: tuple[str, int]) -> None:
    assert MetricsConfig(listen=listen).address == address


@pytest.mark.parametrize(
    "listen", ["9187", "::1:9187", "127.0.0.1", "127.0.0.1:", ":0", ":65536", "[::1]", "a b:1"]
)
def test_listen_refused_with_the_forms_that_work(listen: str) -> None:
    with pytest.raises(ValidationError) as caught:
        MetricsConfig(listen=listen)
    assert '":9187" (every interface)' in str(caught.value)
    assert repr(listen) in str(caught.value)


def _has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.fixture
def serving() -> Iterator[tuple[DaemonMetrics, int]]:
    made = DaemonMetrics()
    port = free_port()
    made.serve(*parse(f":{port}"))
    yield made, port
    made.close()


def parse(listen: str) -> tuple[str, int]:
    address = MetricsConfig(listen=listen).address
    assert address is not None
    return address


def test_listen_on_every_interface_answers_on_ipv4_and_ipv6(
    serving: tuple[DaemonMetrics, int],
) -> None:
    _made, port = serving
    hosts = ["127.0.0.1"] + (["[::1]"] if _has_ipv6_loopback() else [])
    for host in hosts:
        with urllib.request.urlopen(f"http://{host}:{port}/metrics", timeout=5) as response:
            assert b"mailwatch_build_info" in response.read()


def test_a_port_in_use_stops_the_daemon_with_one_line(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        config = (
            f'[daemon]\nstate_dir = "{tmp_path / "state"}"\n\n'
            f'[metrics]\nlisten = "127.0.0.1:{port}"\n'
        )
        daemon = DaemonProcess(tmp_path, config, {}).start()
        assert daemon.proc is not None
        try:
            code = daemon.proc.wait(30)
        finally:
            daemon.stop()
    assert code == 1
    assert f"[metrics] listen = '127.0.0.1:{port}': cannot listen there" in daemon.stderr
    assert "Traceback" not in daemon.stderr


def test_a_voting_check_exports_its_failing_sites_quorum_and_below_quorum_mark(
    metrics: DaemonMetrics,
) -> None:
    sites = [
        site_after(None, name, result("rt", "roundtrip", state, stage="x"), NOW, None)
        for name, state in (("a", State.CRITICAL), ("b", State.OK), ("c", State.OK))
    ]
    vote = count_votes(sites, ["a", "b", "c"], None, IncidentPolicy(), 100.0, NOW)
    metrics.set_votes({"rt": vote})
    assert value(metrics, 'mailwatch_check_sites_failing{check="rt"}') == 1
    assert value(metrics, 'mailwatch_check_quorum{check="rt"}') == 2
    assert value(metrics, 'mailwatch_check_below_quorum{check="rt"}') == 1
    assert value(metrics, 'mailwatch_check_site_state{check="rt",site="a"}') == 3
    assert value(metrics, 'mailwatch_check_site_state{check="rt",site="b"}') == 0
    # A check without run_from has no such series.
    assert value(metrics, 'mailwatch_check_sites_failing{check="q"}') is None
    metrics.set_votes({})
    assert value(metrics, 'mailwatch_check_below_quorum{check="rt"}') is None


def test_a_check_another_node_ran_exports_its_state_figures_and_who_ran_it(
    metrics: DaemonMetrics,
) -> None:
    """The status's view of the cluster (a check whose last result another node stored)
    sets the state, the figures' gauges and ``mailwatch_check_ran_by``; this node's own
    counters stay its own runs."""
    metrics.record(result("q", "queue", metrics={"total_messages": 3}))  # this node's run
    status = CheckStatus("q", "queue", "t")
    status.record(
        result("q", "queue", State.CRITICAL, {"total_messages": 900}, "growth"), "mon-b", "dc2"
    )
    view = assemble(
        NOW,
        DaemonInfo("0", 1, NOW),
        [status],
        StoredFacts((), (), {}),
        {},
        (),
        ticket_prefix="MW-",
    )
    metrics.set_cluster_view(view.checks)
    assert value(metrics, 'mailwatch_check_state{check="q",kind="queue"}') == 3
    assert value(metrics, 'mailwatch_check_success{check="q",kind="queue"}') == 0
    assert value(metrics, 'mailwatch_check_ran_by{check="q",node="mon-b",site="dc2"}') == 1
    assert value(metrics, 'mailwatch_queue_messages{check="q"}') == 900
    assert value(metrics, 'mailwatch_check_runs_total{check="q",state="ok"}') == 1
    assert value(metrics, 'mailwatch_check_runs_total{check="q",state="critical"}') == 0
