"""Password hashing with argon2id (pwdlib), off the event loop and bounded in concurrency."""

from __future__ import annotations

import asyncio
import secrets

from pwdlib import PasswordHash
from pwdlib.exceptions import UnknownHashError
from pwdlib.hashers.argon2 import Argon2Hasher


class Argon2PasswordHasher:
    """argon2id with pwdlib's recommended parameters (64 MiB, t=3, p=4: ~0.1 s here).

    Each hash costs a thread and 64 MiB for ~0.1 s, so at most
    ``max_concurrent`` run at once: a burst of sign-ins queues instead of
    exhausting memory (docs/identity/threat-model.md, denial of service).
    """

    def __init__(self, *, max_concurrent: int = 4, hasher: Argon2Hasher | None = None) -> None:
        self._hash = PasswordHash((hasher or Argon2Hasher(),))
        self._slots = asyncio.Semaphore(max_concurrent)
        self._dummy: str | None = None

    async def hash(self, password: str) -> str:
        async with self._slots:
            return await asyncio.to_thread(self._hash.hash, password)

    async def verify(self, password: str, password_hash: str | None) -> tuple[bool, str | None]:
        if password_hash is None:
            # Same work as a real check, so "no such account" is not faster.
            await self._verify(password, await self._dummy_hash())
            return False, None
        return await self._verify(password, password_hash)

    async def _verify(self, password: str, password_hash: str) -> tuple[bool, str | None]:
        async with self._slots:
            try:
                return await asyncio.to_thread(self._hash.verify_and_update, password, password_hash)
            except (UnknownHashError, ValueError):
                return False, None

    async def _dummy_hash(self) -> str:
        if self._dummy is None:
            self._dummy = await self.hash(secrets.token_urlsafe(16))
        return self._dummy
