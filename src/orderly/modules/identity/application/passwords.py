"""A signed-in person changes their password, which ends their other sessions.

The current password is checked against the same per-account counter as
sign-in (a stolen access token must not become a way to guess the password
behind it), before anything about the new one is looked at: a wrong guess
gets the same answer whatever new password came with it.

Hashing takes ~0.1 s, so both hashes are computed outside the transaction;
the transaction then locks the account and stores the new hash only if the
one that was verified is still there (otherwise another change, or a
sign-in's rehash, came first and the caller is asked to try again).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from orderly.modules.identity.application.authorize import SignInThrottled, account_limit
from orderly.modules.identity.application.commands import ChangePassword
from orderly.modules.identity.application.ports import (
    AttemptLimiter,
    IdentityUnitOfWork,
    PasswordHasher,
)
from orderly.modules.identity.domain.accounts import (
    MAX_PASSWORD_LENGTH,
    Customer,
    StaffMember,
    check_new_password,
)
from orderly.shared_kernel.domain import utcnow
from orderly.shared_kernel.errors import ConcurrencyConflict, NotFound

REVOKED_REASON = "password changed"


class WrongCurrentPassword(Exception):
    """``current_password`` is not the account's password (the attempt was counted)."""


@dataclass(frozen=True)
class AttemptPolicy:
    """The sign-in form's per-account limit: this many wrong passwords per window."""

    account_limit: int
    window_s: int


@dataclass(frozen=True)
class PasswordChanged:
    """What the change did: the sign-in it kept (None if unknown) and how many others it ended."""

    kept_family: uuid.UUID | None
    ended_sessions: int


class PasswordService:
    def __init__(
        self,
        *,
        uow_factory: Callable[[], IdentityUnitOfWork],
        hasher: PasswordHasher,
        limiter: AttemptLimiter,
        policy: AttemptPolicy,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._uow_factory = uow_factory
        self._hasher = hasher
        self._limiter = limiter
        self._policy = policy
        self._clock = clock

    async def change(self, command: ChangePassword) -> PasswordChanged:
        """Verify, replace, and end every other sign-in of the account.

        Raises SignInThrottled (too many wrong passwords lately, even if this
        one is right), WrongCurrentPassword, WeakPassword (``new_password``),
        NotFound (no active account behind the token) or ConcurrencyConflict.
        """
        async with self._uow_factory() as uow:
            account = await _account(uow, command)
        limit = account_limit(
            account.email.key, max_attempts=self._policy.account_limit, window_s=self._policy.window_s
        )
        retry_after = await self._limiter.retry_after([limit])
        if retry_after is not None:
            raise SignInThrottled(retry_after)
        if not await self._verify(command.current_password, account.password_hash):
            await self._limiter.record([limit])
            raise WrongCurrentPassword()
        await self._limiter.clear(limit)
        check_new_password(command.new_password, current=command.current_password, email=account.email)
        # A new hash is made with the hasher's current parameters, so a change
        # also upgrades a hash made with weaker ones.
        new_hash = await self._hasher.hash(command.new_password)
        now = self._clock()
        async with self._uow_factory() as uow:
            locked = await _account(uow, command, for_update=True)
            if locked.password_hash != account.password_hash:
                raise ConcurrencyConflict("the password changed while this request ran; send it again")
            locked.change_password(new_hash)
            await uow.accounts.save_password_hash(locked)
            keep = await _session_family(uow, command)
            subject = str(command.subject)
            # Codes first: one issued by a sign-in with the old password and
            # redeemed meanwhile has started a family the next statement sees.
            await uow.grants.expire_codes_of(subject=subject, subject_kind=command.subject_kind)
            ended = await uow.grants.revoke_families_of(
                subject=subject, subject_kind=command.subject_kind, keep=keep, now=now, reason=REVOKED_REASON
            )
            await uow.commit()
        return PasswordChanged(kept_family=keep, ended_sessions=ended)

    async def _verify(self, password: str, password_hash: str) -> bool:
        if len(password) > MAX_PASSWORD_LENGTH:
            return False
        valid, _ = await self._hasher.verify(password, password_hash)
        return valid


async def _account(
    uow: IdentityUnitOfWork, command: ChangePassword, *, for_update: bool = False
) -> Customer | StaffMember:
    account: Customer | StaffMember | None
    if command.subject_kind == "customer":
        account = await uow.accounts.customer(command.subject, for_update=for_update)
    else:
        account = await uow.accounts.staff(command.subject, for_update=for_update)
        if account is not None and not account.active:
            account = None
    if account is None:
        raise NotFound("no account for this token's subject")
    return account


async def _session_family(uow: IdentityUnitOfWork, command: ChangePassword) -> uuid.UUID | None:
    """The token family of the sign-in the request came from, if its access token is on record.

    Tokens this server issued are recorded by ``jti`` with their family; a
    token from elsewhere (another issuer, a test kit) has no record, and then
    no sign-in is kept.
    """
    if command.session is None:
        return None
    record = await uow.grants.access_token(command.session)
    if record is None or record.subject != str(command.subject):
        return None
    return record.family_id
