"""DNS settings shared by the checks that resolve names: which nameservers, how long to wait,
and the domain-name type their config fields use."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, Field, IPvAnyAddress

from mailwatch.config.base import StrictModel

_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")


def normalise_domain(value: str) -> str:
    """Lower case, no trailing dot, IDNA (punycode) labels; errors say which part is wrong."""
    text = value.strip().rstrip(".").lower()
    if not text:
        raise ValueError("must be a domain name, not empty")
    if not text.isascii():
        # Imported only for the rare non-ASCII name: `mailwatch check` starts faster without it.
        import dns.exception
        import dns.name

        try:
            # IDNA 2008, as dnspython applies it: "bücher.example" -> "xn--bcher-kva.example".
            text = dns.name.from_text(text).to_text(omit_final_dot=True)
        except dns.exception.DNSException as exc:
            raise ValueError(f"{value!r} is not a valid domain name ({exc})") from None
    bad = [label for label in text.split(".") if not _LABEL.match(label)]
    if bad:
        raise ValueError(f"{value!r} is not a valid domain name (bad label {bad[0]!r})")
    if len(text) > 253:
        raise ValueError(f"{value!r} is longer than 253 characters")
    return text


DomainName = Annotated[str, AfterValidator(normalise_domain)]
"""A DNS name as written in config: compared case-insensitively, with or without the final dot."""


class ResolverConfig(StrictModel):
    """Where a check sends its DNS queries.

    No ``nameservers``: the system's (``/etc/resolv.conf``). ``port`` applies to every
    nameserver in the list. ``query_timeout_s`` bounds one lookup, retries and fail-over to the
    next nameserver included; a lookup that runs out of it is reported as unknown, not critical.
    """

    nameservers: list[IPvAnyAddress] = Field(default_factory=list)
    port: int = Field(default=53, ge=1, le=65535)
    query_timeout_s: float = Field(default=5.0, gt=0)
