"""pytest plugin: the session-scoped ``mail_servers`` fixture.

Enable with ``pytest_plugins = ["harness.fixtures"]`` in ``tests/conftest.py``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from .mailservers import MailServers


@pytest.fixture(scope="session")
def mail_servers() -> Iterator[MailServers]:
    """Started Postfix + Dovecot, shared by the whole session, stopped at the end.

    If they cannot start, the test fails under CI (``CI=true``), where the
    servers are required, and is skipped elsewhere (e.g. not root).
    """
    servers = MailServers()
    try:
        servers.start()
    except Exception as exc:  # any failure to start is reported the same way
        reason = f"mail servers could not start: {type(exc).__name__}: {exc}"
        if os.environ.get("CI") == "true":
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    try:
        yield servers
    finally:
        servers.stop()
