"""Whether the delivered canary was authenticated: the receiver's Authentication-Results
(``expect_authentication``) and mailwatch's own DKIM check (``verify_dkim``), as the figures,
details and summary note of one run."""

from __future__ import annotations

from dataclasses import dataclass, field
from email.message import Message
from typing import Any

from mailwatch.config.checks.roundtrip import RoundtripCheck
from mailwatch.dns import DnsResolver
from mailwatch.domain.errors import ProbeFailure
from mailwatch.probes.roundtrip.authresults import (
    MethodResult,
    ReceiverVerdict,
    receiver_verdict,
    shortfalls,
)
from mailwatch.probes.roundtrip.dkimcheck import verify_dkim
from mailwatch.protocols.imap import ImapSession

MAX_CANARY_BYTES = 1_000_000
"""Fetched at most for ``verify_dkim``: a canary is a few kilobytes; a message cut here would
fail its body hash, which is the truth about a canary that grew this much on the way."""


@dataclass
class AuthOutcome:
    """``note`` is "" when everything expected passed, else the words for the summary."""

    note: str = ""
    metrics: dict[str, float] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)


def wanted(check: RoundtripCheck) -> bool:
    return bool(check.expect_authentication) or check.verify_dkim


async def judge(
    check: RoundtripCheck, imap: ImapSession, uid: int, headers: Message | None
) -> AuthOutcome:
    """Read the canary at ``uid`` (its ``headers`` already fetched; None if they could not be)."""
    outcome = AuthOutcome()
    notes: list[str] = []
    if check.expect_authentication:
        items = [(str(k), str(v)) for k, v in headers.items()] if headers is not None else []
        verdict = receiver_verdict(items, check.authserv_ids)
        outcome.details["authentication"] = _receiver_details(check, verdict)
        missing = shortfalls(verdict, check.expect_authentication)
        failed = {s.method for s in missing}
        for method in check.expect_authentication:
            outcome.metrics[f"auth_{method}_pass"] = 0.0 if method in failed else 1.0
        if missing:
            notes.append(_receiver_note(check, verdict, [s.described() for s in missing]))
    if check.verify_dkim:
        own = await _own_dkim(check, imap, uid)
        outcome.details["dkim_verified"] = own.to_dict()
        outcome.metrics["dkim_verified"] = 1.0 if own.result == "pass" else 0.0
        if own.result != "pass":
            notes.append(f"{own.described()} checked by mailwatch for {check.sending_domain}")
    outcome.note = "; ".join(notes)
    return outcome


async def _own_dkim(check: RoundtripCheck, imap: ImapSession, uid: int) -> MethodResult:
    raw = await imap.fetch_message(uid, MAX_CANARY_BYTES)
    if raw is None:
        return MethodResult(
            "dkim", "temperror", f"the canary could not be fetched from {imap.where}"
        )
    try:
        resolver = await DnsResolver.from_config(check.resolver)
    except ProbeFailure as failure:
        return MethodResult("dkim", "temperror", failure.summary)
    return await verify_dkim(raw, check.sending_domain, resolver)


def _ids_text(ids: list[str]) -> str:
    return ", ".join(i or "(no authserv-id)" for i in ids)


def _receiver_note(check: RoundtripCheck, verdict: ReceiverVerdict, failed: list[str]) -> str:
    configured = _ids_text(check.authserv_ids)
    if verdict.counted:
        return f"{', '.join(failed)} from {_ids_text(verdict.authserv_ids)}"
    methods = ", ".join(check.expect_authentication)
    note = f"{methods} not reported: no Authentication-Results from {configured}"
    others = [i for i in verdict.seen_ids if i not in {c.lower() for c in check.authserv_ids}]
    if others:
        note += f" (the canary has some from {_ids_text(others)}: see authserv_id)"
    return note


def _receiver_details(check: RoundtripCheck, verdict: ReceiverVerdict) -> dict[str, Any]:
    return {
        "authserv_ids": check.authserv_ids,
        "results": [r.to_dict() for header in verdict.counted for r in header.results],
        "seen_authserv_ids": list(verdict.seen_ids),
        "ignored_below": verdict.ignored,
    }
