"""One sentence for a failed TLS handshake, whichever protocol it happened in."""

from __future__ import annotations

import ssl


def is_tls_error(exc: BaseException) -> bool:
    return isinstance(exc, ssl.SSLError) or isinstance(exc.__cause__, ssl.SSLError)


def describe_tls_error(exc: BaseException, where: str) -> str:
    cause = exc if isinstance(exc, ssl.SSLError) else exc.__cause__
    if isinstance(cause, ssl.SSLCertVerificationError):
        reason = cause.verify_message or cause.reason or "verification failed"
        return f"certificate of {where} not accepted: {reason}"
    if isinstance(cause, ssl.SSLError):
        return f"TLS handshake with {where} failed: {cause.reason or cause}"
    return f"TLS handshake with {where} failed: {exc}"
