"""The round trip's verdict on what a run found, without servers: late canaries are told, not
counted, unless where they landed is news (a spam folder). The runs themselves, against the
real Postfix and Dovecot, are in test_roundtrip.py."""

from __future__ import annotations

from typing import Any

import pytest

from mailwatch.config.checks.roundtrip import RoundtripCheck
from mailwatch.domain.probing import ProbeContext
from mailwatch.domain.results import State
from mailwatch.probes.roundtrip import (
    Arrival,
    SweepReport,
    _verdict,
    confirmation_wait_s,
    deadline_for,
)


def check() -> RoundtripCheck:
    endpoint = {"host": "mail.example.test", "username": "u", "password": "p"}
    return RoundtripCheck.model_validate(
        {
            "name": "rt",
            "mail_from": "mailwatch@example.test",
            "rcpt_to": "canary@example.test",
            "smtp": {"host": "mail.example.test"},
            "imap": {**endpoint, "spam_folders": ["Junk"]},
        }
    )


def late(folder: str) -> dict[str, Any]:
    return {
        "canary": "c1",
        "folder": folder,
        "sent_at": "2026-11-22T07:00:00+00:00",
        "arrived_at": "2026-11-22T07:01:00+00:00",
        "delay_s": 60.0,
    }


def verdict(sweep: SweepReport) -> tuple[State, str | None, str]:
    ctx = ProbeContext(check="rt", kind="roundtrip", target="canary@example.test")
    result = _verdict(check(), ctx, 0.5, Arrival("INBOX", 7, 0.0), sweep, None, {}, {})
    return result.state, result.stage, result.summary


def test_a_late_canary_in_the_inbox_is_told_and_the_run_stays_ok() -> None:
    state, stage, summary = verdict(SweepReport(late=[late("INBOX")]))
    assert (state, stage) == (State.OK, None)
    assert summary == (
        "canary delivered in 0.50 s; 1 earlier canary(ies) arrived after their run gave up "
        "(up to 60 s after sending; next wait 120 s)"
    )


def test_a_late_canary_in_a_spam_folder_is_a_misfiled_canary() -> None:
    state, stage, summary = verdict(SweepReport(late=[late("INBOX"), late("Junk")]))
    assert (state, stage) == (State.WARNING, "delivered_to_spam")
    assert summary.endswith("next wait 120 s), in spam folder Junk")


@pytest.mark.parametrize(
    ("slowest_s", "samples", "expected_s"),
    [
        pytest.param(0.5, 5, 5.0, id="LAN: the 5 s floor, not the 20 s one"),
        pytest.param(0.5, 4, 120.0, id="nothing learned yet: deadline_s"),
        pytest.param(2.0, 5, 10.0, id="5 x the slowest, below the 20 s floor"),
        pytest.param(6.0, 5, 30.0, id="above the 20 s floor anyway: the same wait"),
        pytest.param(30.0, 5, 120.0, id="capped at deadline_s, as the learned wait is"),
    ],
)
def test_a_confirmation_waits_the_learned_deadline_with_its_own_floor(
    slowest_s: float, samples: int, expected_s: float
) -> None:
    memory = {"healthy_latencies_s": [0.1] * (samples - 1) + [slowest_s]}
    deadline_s, _ = deadline_for(check(), memory)
    assert confirmation_wait_s(check(), memory, deadline_s) == expected_s
