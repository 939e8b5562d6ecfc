"""The operators' commands: ``orderly clients create``, ``orderly staff create``, ``orderly keys rotate``."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from orderly.entrypoints.cli import main
from orderly.modules.identity.adapters.tables import clients, signing_keys, staff
from orderly.platform.db import create_engine
from orderly.platform.settings import Settings


def _run(database_url: str, *args: str, stdin: str | None = None, env: dict[str, str] | None = None) -> Any:
    runner = CliRunner()
    return runner.invoke(
        main,
        list(args),
        input=stdin,
        env={"ORDERLY_DATABASE_URL": database_url, "ORDERLY_LOG_LEVEL": "WARNING", **(env or {})},
        catch_exceptions=False,
    )


def _rows(database_url: str, query: Any) -> list[Any]:
    async def fetch() -> list[Any]:
        engine = create_engine(Settings(database_url=database_url), database_url, pool_size=1)
        try:
            async with engine.connect() as conn:
                return list((await conn.execute(query)).all())
        finally:
            await engine.dispose()

    return asyncio.run(fetch())


class TestClientsCreate:
    def test_service_client_json_shows_the_secret_once_and_stores_only_a_digest(
        self, database_url: str
    ) -> None:
        result = _run(
            database_url,
            "clients",
            "create",
            "--name",
            "Warehouse sync",
            "--scopes",
            "inventory:read",
            "--json",
        )
        assert result.exit_code == 0, result.output
        record = json.loads(result.stdout)
        assert record["client_id"].startswith("cli_")
        assert record["client_secret"].startswith("sec_")
        assert record["public"] is False
        assert record["sign_in"] is None
        row = _rows(database_url, select(clients).where(clients.c.client_id == record["client_id"]))[0]
        assert row.secret_hash.startswith("sha256$")
        assert record["client_secret"] not in row.secret_hash

    def test_public_sign_in_client_has_no_secret_and_keeps_its_redirect_uri(self, database_url: str) -> None:
        result = _run(
            database_url,
            "clients",
            "create",
            "--name",
            "Storefront",
            "--scopes",
            "me:read me:write",
            "--redirect-uri",
            "https://shop.example.com/callback",
            "--public",
            "--json",
        )
        assert result.exit_code == 0, result.output
        record = json.loads(result.stdout)
        assert record["client_secret"] is None
        assert record["redirect_uris"] == ["https://shop.example.com/callback"]
        assert record["sign_in"] == "customer"

    @pytest.mark.parametrize(
        "args",
        [
            ["--scopes", "catalog:write", "--redirect-uri", "http://evil.example/cb"],
            ["--scopes", "not-a-scope"],
            ["--scopes", "me:read"],  # a customer scope on a service client
            ["--scopes", "inventory:read", "--public"],  # a service client needs a secret
            ["--scopes", "me:read", "--sign-in", "customer"],  # sign-in without a redirect URI
        ],
    )
    def test_invalid_clients_are_refused_with_a_message(self, database_url: str, args: list[str]) -> None:
        result = _run(database_url, "clients", "create", "--name", "Bad", *args, "--json")
        assert result.exit_code != 0
        assert result.stdout == "" or not result.stdout.startswith("{")


class TestStaffCreate:
    def test_staff_member_is_created_with_a_password_from_stdin(self, database_url: str) -> None:
        email = f"ops-{uuid.uuid4().hex[:6]}@example.com"
        result = _run(
            database_url,
            "staff",
            "create",
            "--email",
            email,
            "--role",
            "inventory_manager",
            "--password-stdin",
            stdin="granite-meadow-echo-31\n",
        )
        assert result.exit_code == 0, result.output
        row = _rows(database_url, select(staff).where(staff.c.email_key == email))[0]
        assert row.role == "inventory_manager"
        assert row.password_hash.startswith("$argon2id$")

    def test_weak_password_and_unknown_role_are_refused(self, database_url: str) -> None:
        weak = _run(
            database_url,
            "staff",
            "create",
            "--email",
            "a@example.com",
            "--role",
            "admin",
            "--password-stdin",
            stdin="password\n",
        )
        assert weak.exit_code != 0
        assert "12 characters" in weak.output
        unknown = _run(
            database_url,
            "staff",
            "create",
            "--email",
            "b@example.com",
            "--role",
            "root",
            "--password-stdin",
            stdin="granite-meadow-echo-31\n",
        )
        assert unknown.exit_code != 0
        assert "unknown role" in unknown.output


class TestKeysRotate:
    def test_rotation_is_refused_before_the_lead_time_then_forced(self, database_url: str) -> None:
        # A lead time no key of this session can have reached yet.
        refused = _run(
            database_url, "keys", "rotate", env={"ORDERLY_IDENTITY_KEY_PUBLISH_LEAD_S": "31536000"}
        )
        assert refused.exit_code != 0
        assert "Wait" in refused.output
        forced = _run(database_url, "keys", "rotate", "--force")
        assert forced.exit_code == 0, forced.output
        lines = dict(line.split(": ", 1) for line in forced.stdout.splitlines())
        statuses = {row.kid: row.status for row in _rows(database_url, select(signing_keys))}
        assert statuses[lines["active"]] == "active"
        assert statuses[lines["next"]] == "next"
        assert statuses[lines["retired"].split(" ")[0]] == "retired"
