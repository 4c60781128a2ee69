"""``verify_dkim``: mailwatch's own check of the delivered canary's DKIM signature (dkimpy).

Only signatures of the sending domain count (``d=`` the domain of ``mail_from``, or a parent
of it, as DMARC's relaxed alignment reads it). The key is looked up through the check's
``resolver`` (``mailwatch.dns``), not dkimpy's own lookup, so the lookup has the check's
nameservers and timeout and its failures read like every other DNS failure of mailwatch.
"""

from __future__ import annotations

import asyncio
import logging

import dkim
from dkim.util import InvalidTagValueList, parse_tag_value
from dns.rdtypes.ANY.TXT import TXT

from mailwatch.dns import DnsResolver, Lookup, Outcome
from mailwatch.probes.roundtrip.authresults import MethodResult

_QUIET = logging.getLogger("mailwatch.dkim")
"""dkimpy's debug lines (header contents) go here, not to its module logger."""
MAX_SIGNATURES = 5
"""Signatures of the sending domain tried at most: each costs a DNS lookup."""


async def verify_dkim(raw: bytes, domain: str, resolver: DnsResolver) -> MethodResult:
    """``dkim=pass`` if a signature of ``domain`` verifies; else the first failure's words."""
    domain = domain.lower().rstrip(".")
    try:
        message = dkim.DKIM(raw, logger=_QUIET)
    except dkim.DKIMException as exc:
        return MethodResult("dkim", "permerror", f"message unreadable: {_said(exc)}")
    signatures = _signatures_of(message, domain)
    if not signatures:
        return MethodResult("dkim", "none", f"no DKIM signature of {domain}")
    tried = signatures[:MAX_SIGNATURES]
    # The keys are looked up at once: the wait is one lookup's, however many signatures.
    lookups = await asyncio.gather(
        *(
            resolver.lookup(f"{selector}._domainkey.{signer}", "TXT")
            for _, selector, signer in tried
        )
    )
    verdicts = [
        _verify_one(message, index, selector, signer, lookup)
        for (index, selector, signer), lookup in zip(tried, lookups, strict=True)
    ]
    return next((v for v in verdicts if v.result == "pass"), verdicts[0])


def _signatures_of(message: dkim.DKIM, domain: str) -> list[tuple[int, str, str]]:
    """(index among the DKIM-Signature headers, selector, d=) for the sending domain's."""
    found: list[tuple[int, str, str]] = []
    headers = [value for name, value in message.headers if name.lower() == b"dkim-signature"]
    for index, value in enumerate(headers):
        try:
            tags = parse_tag_value(value)
        except InvalidTagValueList:
            continue
        signer = tags.get(b"d", b"").decode("ascii", "replace").lower().rstrip(".")
        selector = tags.get(b"s", b"").decode("ascii", "replace")
        if signer and selector and (domain == signer or domain.endswith("." + signer)):
            found.append((index, selector, signer))
    return found


def _verify_one(
    message: dkim.DKIM, index: int, selector: str, signer: str, lookup: Lookup
) -> MethodResult:
    name = lookup.name
    properties = (("header.d", signer), ("header.s", selector))
    if lookup.failed:
        return MethodResult("dkim", "temperror", lookup.describe(), properties)
    if lookup.outcome is not Outcome.ANSWER:
        why = "does not exist" if lookup.outcome is Outcome.NXDOMAIN else "has no TXT record"
        return MethodResult("dkim", "permerror", f"no key: {name} {why}", properties)
    # One key record per name; a second one would make every verifier's answer a guess.
    record = next(b"".join(rdata.strings) for rdata in lookup.records if isinstance(rdata, TXT))

    def published(_name: bytes, timeout: float = 5) -> bytes:
        return record

    try:
        verified = message.verify(idx=index, dnsfunc=published)
    except dkim.DKIMException as exc:
        said = _said(exc)
        if said.startswith("body hash mismatch"):  # then two base64 hashes nobody reads
            said = "body hash mismatch: the body changed after signing"
        return MethodResult("dkim", "fail", said, properties)
    # dkimpy raises more than its own tree on a malformed signature or key (binascii, struct,
    # index errors): a hostile header is a failed signature, not a crashed probe.
    except (ValueError, TypeError, IndexError, KeyError) as exc:
        return MethodResult("dkim", "permerror", f"malformed signature or key ({exc})", properties)
    if verified:
        return MethodResult("dkim", "pass", "", properties)
    return MethodResult(
        "dkim", "fail", f"signature does not verify with the key at {name}", properties
    )


def _said(exc: Exception) -> str:
    text = " ".join(str(exc).split())
    return text[:120] or type(exc).__name__
