"""Real-server test harness: a dedicated Postfix and Dovecot on 127.0.0.1.

``MailServers`` (in ``harness.mailservers``) runs the servers, ``harness.certs``
makes test certificates and ``harness.fixtures`` is the pytest plugin with the
session fixture ``mail_servers``.
"""

from __future__ import annotations

from .certs import CA, make_ca, make_self_signed
from .mailservers import HarnessError, MailServers

__all__ = ["CA", "HarnessError", "MailServers", "make_ca", "make_self_signed"]
