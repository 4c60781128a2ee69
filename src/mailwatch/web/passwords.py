"""Password hashes of ``[web.users.NAME]``: argon2id (argon2-cffi's defaults, RFC 9106's
second recommendation), made by ``mailwatch web hash-password`` and checked at login."""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_HASHER = PasswordHasher()
_DUMMY = _HASHER.hash("mailwatch: no such user")
"""Checked for an unknown user, so a login takes as long whether the user exists or not."""


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def _verify(stored_hash: str | None, password: str) -> bool:
    try:
        return _HASHER.verify(stored_hash or _DUMMY, password) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False


async def verify_password(stored_hash: str | None, password: str) -> bool:
    """Does ``password`` match ``stored_hash`` (None: no such user, always False)? Runs in a
    thread: one check takes tens of milliseconds of CPU, which the event loop must not wait."""
    return await asyncio.to_thread(_verify, stored_hash, password)
