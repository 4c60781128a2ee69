"""verify_dkim on hostile signatures: whatever a DKIM-Signature header says, the answer is a
result (pass, fail, none, permerror, temperror), never an exception. The keys are looked up in
the tests' dnsmasq, which publishes a real key at mw._domainkey.example.test."""

from __future__ import annotations

import asyncio

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.dnsmasq import DnsServer
from mailwatch.config.dns import ResolverConfig
from mailwatch.dns import DnsResolver
from mailwatch.probes.roundtrip.dkimcheck import verify_dkim

RESULTS = {"pass", "fail", "none", "permerror", "temperror"}
TAGS = st.sampled_from(
    ["v=1", "a=rsa-sha256", "a=ed25519-sha256", "a=x", "c=relaxed/relaxed", "c=bogus",
     "d=example.test", "s=mw", "s=stale", "s=", "h=from:to", "h=", "bh=", "bh=!!", "b=",
     "b=AAAA", "l=5", "l=-1", "l=x", "t=1", "x=0", "i=@example.test", "q=dns/txt"]
)  # fmt: skip


def _message(signature: str) -> bytes:
    return (
        f"DKIM-Signature: {signature}\r\nFrom: mailwatch@example.test\r\n"
        "To: canary@example.test\r\nSubject: x\r\n\r\nbody\r\n"
    ).encode("utf-8", "surrogateescape")


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    tags=st.lists(TAGS, max_size=12),
    noise=st.text(max_size=40),
)
def test_any_signature_is_a_result(dns_server: DnsServer, tags: list[str], noise: str) -> None:
    config = ResolverConfig.model_validate(dns_server.resolver())

    async def verify() -> str:
        resolver = await DnsResolver.from_config(config)
        verdict = await verify_dkim(_message("; ".join([*tags, noise])), "example.test", resolver)
        assert "\n" not in verdict.reason
        return verdict.result

    assert asyncio.run(verify()) in RESULTS
