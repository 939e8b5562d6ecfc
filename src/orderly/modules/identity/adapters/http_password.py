"""``POST /v1/me/password``: a signed-in customer or staff member changes their password.

A wrong ``current_password`` is 403, not 422. The request is well-formed;
what failed is the proof that the caller is the account's owner, which is
an authorization refusal. The answer names no field and does not depend on
the new password (that one is only looked at once the current one is
right), so it says exactly one thing: that guess was wrong. Each wrong guess
is counted against the account's sign-in limit, and past it the answer is
429. Not 401: the access token itself is fine, and a client that took a 401
for an expired token would refresh and retry on its own.
"""

from __future__ import annotations

import uuid
from typing import Annotated

import structlog
from fastapi import APIRouter, Depends, Response, status
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from starlette.exceptions import HTTPException

from orderly.modules.identity.application.authorize import SignInThrottled
from orderly.modules.identity.application.commands import ChangePassword
from orderly.modules.identity.application.passwords import PasswordService, WrongCurrentPassword
from orderly.modules.identity.domain.scopes import ME_WRITE
from orderly.platform.auth import Principal, requires
from orderly.platform.http.problems import problem_response, problem_responses, scope_problems
from orderly.platform.http.types import SafeStr
from orderly.shared_kernel.errors import NotFound

log = structlog.get_logger(module="identity.passwords")

Password = Annotated[SafeStr, StringConstraints(min_length=1, max_length=256)]


class PasswordChangeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    current_password: Password = Field(description="The password the account has now.")
    new_password: Password = Field(
        description="At least 12 characters, not a common password, not built on the e-mail "
        "address, and not the current password."
    )


def _responses() -> dict[int | str, dict[str, object]]:
    documented = {**problem_responses(404, 409, 422, 429), **scope_problems(ME_WRITE)}
    documented[403] = {
        **documented[403],
        "description": "The access token lacks the `me:write` scope or is not a customer's or a staff "
        "member's (`forbidden`), or `current_password` is wrong (`wrong-current-password`).",
    }
    documented[429] = {
        **documented[429],
        "description": "Too many wrong passwords for this account lately, here or on the sign-in "
        "page (`too-many-sign-in-attempts`); see `Retry-After`.",
    }
    return documented


def build_password_router(*, passwords: PasswordService) -> APIRouter:
    router = APIRouter(tags=["customers"])

    @router.post(
        "/v1/me/password",
        status_code=status.HTTP_204_NO_CONTENT,
        responses=_responses(),
        summary="Change my password",
    )
    async def change_password(
        body: PasswordChangeIn, principal: Annotated[Principal, Depends(requires(ME_WRITE))]
    ) -> Response:
        """Change the signed-in customer's or staff member's password (204).

        The current password must be right (403 `wrong-current-password`
        otherwise). Wrong ones count against the account's sign-in limit,
        and past it the answer is 429 with `Retry-After`, even for the right
        password. The new one follows the registration rule and must differ
        from the current one (422 naming `new_password`).

        Every other sign-in of the account ends: its refresh tokens are
        refused (`invalid_grant`), and introspection reports its access
        tokens inactive. The sign-in this access token came from stays,
        refresh token included, when Orderly issued the token. For a token
        it has no record of (another issuer's), no sign-in is kept, and the
        caller signs in again once its access token expires. Access tokens
        already handed out stay valid at other resource servers until they
        expire (at most `ORDERLY_IDENTITY_ACCESS_TOKEN_TTL_S`), since those
        servers check signatures, not a list.

        With an `Idempotency-Key`, a retry gets the first answer back. A
        retry without one sends a current password that is no longer
        current, and gets 403.
        """
        command = _command(principal, body)
        try:
            outcome = await passwords.change(command)
        except SignInThrottled as exc:
            return problem_response(
                429,
                "too-many-sign-in-attempts",
                "Too many sign-in attempts",
                detail="Too many wrong passwords for this account; try again later.",
                headers={"Retry-After": str(exc.retry_after)},
                retry_after=exc.retry_after,
            )
        except WrongCurrentPassword:
            return problem_response(
                403,
                "wrong-current-password",
                "Wrong current password",
                detail="current_password is not this account's password.",
            )
        log.info(
            "password changed",
            subject_kind=command.subject_kind,
            kept_session=outcome.kept_family is not None,
            ended_sessions=outcome.ended_sessions,
        )
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    return router


def _command(principal: Principal, body: PasswordChangeIn) -> ChangePassword:
    if principal.kind == "service":
        raise HTTPException(403, "Only a customer's or a staff member's own access token can be used here.")
    try:
        subject = uuid.UUID(principal.subject)
    except ValueError:
        raise NotFound("no account for this token's subject") from None
    return ChangePassword(
        subject=subject,
        subject_kind=principal.kind,
        current_password=body.current_password,
        new_password=body.new_password,
        session=_uuid(principal.token_id),
    )


def _uuid(value: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(value) if value else None
    except ValueError:
        return None
