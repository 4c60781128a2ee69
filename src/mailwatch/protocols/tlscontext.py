"""TLS client contexts for the probes' connections, built once per trust setting and shared.

Building a context parses every CA certificate it trusts: with the system's bundle (about 140
roots on Debian) that costs some 70 ms of CPU, more than all the rest of a round trip, and it
blocks the event loop meanwhile. A built context is safe to share between connections (the
clients here only read it), so one is kept per (CA file, verify_cert) and built again only
when the file it was loaded from changes on disk: a renewed CA bundle is still picked up
without a restart.

The key is every field of ``TlsClientConfig`` (what ``ssl_context()`` is built from), so a
setting added there later cannot be shared by mistake between endpoints that differ in it.
"""

from __future__ import annotations

import os
import ssl
from pathlib import Path

from mailwatch.config.tls import TlsClientConfig

_Stamp = tuple[int, int, int] | None
_contexts: dict[tuple[tuple[str, str], ...], tuple[_Stamp, ssl.SSLContext]] = {}


def client_context(config: TlsClientConfig) -> ssl.SSLContext:
    """The shared context for ``config``'s trust settings (``TlsClientConfig.ssl_context``)."""
    key = tuple((name, repr(getattr(config, name))) for name in TlsClientConfig.model_fields)
    stamp = _stamp(_trust_file(config.ca_file))
    cached = _contexts.get(key)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    context = config.ssl_context()
    _contexts[key] = (stamp, context)
    return context


def _trust_file(ca_file: Path | None) -> str:
    """The file the context loads its CAs from: ``ca_file``, or OpenSSL's default bundle.

    OpenSSL's default directory (``SSL_CERT_DIR``) is read at handshake time, not when the
    context is built, so changes there need no new context.
    """
    if ca_file is not None:
        return str(ca_file)
    paths = ssl.get_default_verify_paths()
    return os.environ.get(paths.openssl_cafile_env) or paths.openssl_cafile


def _stamp(name: str) -> _Stamp:
    try:
        st = Path(name).stat()
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)
