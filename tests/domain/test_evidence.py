"""A ticket's evidence record: the server's reply and queue id lifted out, secrets never kept,
and the size bounded however large a result's details are."""

from __future__ import annotations

import json
from datetime import timedelta

from helpers.builders import T0
from mailwatch.domain.evidence import MAX_RECORD_CHARS, MAX_TEXT_CHARS, result_evidence
from mailwatch.domain.results import CheckResult, State
from mailwatch.web.rca_section import _evidence


def a_result(summary: str = "canary late", **details: object) -> CheckResult:
    return CheckResult(
        check="relay",
        kind="roundtrip",
        target="canary@example.org via mx",
        state=State.CRITICAL,
        summary=summary,
        started_at=T0 - timedelta(seconds=3),
        finished_at=T0,
        stage="not_delivered",
        metrics={"send_s": 0.25},
        details=details,
    )


def test_the_reply_and_the_canary_queue_id_are_lifted_out() -> None:
    data = result_evidence(a_result(smtp_reply="250 2.0.0 Ok: queued as 4XyZ1AbC", canary="c0ffee"))
    assert data["server_reply"] == "250 2.0.0 Ok: queued as 4XyZ1AbC"
    assert data["queue_id"] == "4XyZ1AbC"
    assert data["canary"] == "c0ffee"
    assert (data["stage"], data["figures"]) == ("not_delivered", {"send_s": 0.25})


def test_secrets_never_reach_the_record() -> None:
    data = result_evidence(
        a_result(
            "login of canary with hunter2-secret refused",
            password="hunter2-secret",
            oauth2={"access_token": "ya29.token"},
            url="https://bot:s3cr3t-pw@hooks.example/x",
        ),
        secrets=["hunter2-secret"],
    )
    text = json.dumps(data)
    for secret in ("hunter2-secret", "ya29.token", "s3cr3t-pw"):
        assert secret not in text
    assert data["summary"] == "login of canary with **** refused"
    assert data["details"]["password"] == "[removed]"
    assert data["details"]["url"] == "https://bot:****@hooks.example/x"


def test_the_record_stays_bounded() -> None:
    hops = [{"by": f"relay{n}.example", "delay_s": n} for n in range(500)]
    data = result_evidence(a_result("x" * 5000, hops=hops, blob="y" * 100_000))
    assert len(json.dumps(data)) <= MAX_RECORD_CHARS
    assert len(data["summary"]) == MAX_TEXT_CHARS
    assert data["figures"] == {"send_s": 0.25}  # the summary and figures stay


def test_a_late_canarys_received_hops_survive_and_render() -> None:
    hop = {"by": "mx.example.org", "from": "relay.example.org", "with": "ESMTPS", "id": "4XyZ"}
    late = [{"canary": "c0ffee", "folder": "INBOX", "delay_s": 95.0, "hops": [hop]}]
    data = result_evidence(a_result(late=late))
    assert data["details"]["late"][0]["hops"] == [hop]
    rows = dict(_evidence(data))
    assert (
        "<li>by mx.example.org from relay.example.org with ESMTPS id 4XyZ</li>"
        in (rows["late canaries"])
    )
