"""pytest plugin: the session-scoped ``mail_servers`` fixture, and ``serve_for_session``, how
every harness server is started for a session.

Enable with ``pytest_plugins = ["harness.fixtures"]`` in ``tests/conftest.py``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Protocol, TypeVar

import pytest

from .mailservers import MailServers


class _Server(Protocol):
    def start(self) -> object: ...

    def stop(self) -> None: ...


_S = TypeVar("_S", bound=_Server)


def serve_for_session(server: _S, what: str) -> Iterator[_S]:
    """Start ``server``, yield it, stop it at the end: the body of a session fixture.

    If it cannot start, the test fails under CI (``CI=true``), where the servers are
    required, and is skipped elsewhere (e.g. not root).
    """
    try:
        server.start()
    except Exception as exc:  # any failure to start is reported the same way
        reason = f"{what} could not start: {type(exc).__name__}: {exc}"
        if os.environ.get("CI") == "true":
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def mail_servers() -> Iterator[MailServers]:
    """Started Postfix + Dovecot, shared by the whole session, stopped at the end.

    Skipped when they cannot start, failed instead under CI (see ``serve_for_session``).
    """
    yield from serve_for_session(MailServers(), "mail servers")
