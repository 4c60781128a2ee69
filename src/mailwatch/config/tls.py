"""How a client reaches a server over TLS: the mode, and whose certificates it trusts."""

from __future__ import annotations

import ssl
from typing import Literal

from pydantic import FilePath

from mailwatch.config.base import StrictModel

TlsMode = Literal["none", "starttls", "tls"]
"""``none``: plain; ``starttls``: upgrade after the greeting; ``tls``: TLS from the first byte."""


class TlsClientConfig(StrictModel):
    """TLS settings shared by every client endpoint. Certificates are verified by default."""

    tls: TlsMode = "starttls"
    verify_cert: bool = True
    ca_file: FilePath | None = None

    def ssl_context(self) -> ssl.SSLContext:
        """A client context: system trust (or ``ca_file``); hostname checked unless opted out."""
        context = ssl.create_default_context(cafile=str(self.ca_file) if self.ca_file else None)
        if not self.verify_cert:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context
