"""ssl's errors in words: one sentence for a failed TLS handshake, whichever protocol it
happened in, and a refused certificate chain for a probe that judges the chain itself."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from contextlib import contextmanager

from mailwatch.domain.errors import CertificateRejected


def is_tls_error(exc: BaseException) -> bool:
    return isinstance(exc, ssl.SSLError) or isinstance(exc.__cause__, ssl.SSLError)


def describe_tls_error(exc: BaseException, where: str) -> str:
    cause = exc if isinstance(exc, ssl.SSLError) else exc.__cause__
    if isinstance(cause, ssl.SSLCertVerificationError):
        return f"certificate of {where} not accepted: {_verify_reason(cause)}"
    if isinstance(cause, ssl.SSLError):
        return f"TLS handshake with {where} failed: {cause.reason or cause}"
    return f"TLS handshake with {where} failed: {exc}"


@contextmanager
def certificate_rejections() -> Iterator[None]:
    """Around a verifying handshake: a refused chain raises ``CertificateRejected`` (OpenSSL's
    code and reason) instead of failing; every other error passes unchanged."""
    try:
        yield
    except ssl.SSLCertVerificationError as exc:
        raise CertificateRejected(exc.verify_code, _verify_reason(exc)) from None


def _verify_reason(exc: ssl.SSLCertVerificationError) -> str:
    return exc.verify_message or exc.reason or "verification failed"
