"""The identity module's tables, all in the ``identity`` schema.

Secrets never sit here in usable form: passwords are argon2 hashes, client
secrets, codes and refresh tokens are SHA-256 digests, signing private keys
are AES-256-GCM ciphertext when a key-encryption key is configured.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    Uuid,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

from orderly.platform.db import module_metadata
from orderly.platform.inbox import inbox_table
from orderly.platform.outbox import outbox_table

metadata = module_metadata("identity")

customers = Table(
    "customers",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("email", String(254), nullable=False),
    # The address in lower case: two spellings of one address are one account.
    Column("email_key", String(254), nullable=False, unique=True),
    Column("password_hash", Text, nullable=False),
    Column("name", String(200), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("version", Integer, nullable=False),
)

staff = Table(
    "staff",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("email", String(254), nullable=False),
    Column("email_key", String(254), nullable=False, unique=True),
    Column("password_hash", Text, nullable=False),
    Column("role", String(40), nullable=False),
    Column("active", Boolean, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("version", Integer, nullable=False),
)

addresses = Table(
    "addresses",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column(
        "customer_id",
        Uuid,
        ForeignKey("identity.customers.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("recipient", String(200), nullable=False),
    Column("line1", String(200), nullable=False),
    Column("line2", String(200), nullable=False),
    Column("city", String(100), nullable=False),
    Column("postal_code", String(20), nullable=False),
    Column("region", String(100), nullable=False),
    Column("country", String(2), nullable=False),
    Column("phone", String(32), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("version", Integer, nullable=False),
)

clients = Table(
    "clients",
    metadata,
    Column("client_id", String(64), primary_key=True),
    Column("name", String(100), nullable=False),
    Column("secret_hash", String(128), nullable=True),
    Column("redirect_uris", ARRAY(Text), nullable=False),
    Column("scopes", ARRAY(String(64)), nullable=False),
    Column("sign_in", String(16), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    CheckConstraint("sign_in IN ('customer', 'staff')", name="sign_in_known"),
)

authorization_codes = Table(
    "authorization_codes",
    metadata,
    Column("code_hash", String(64), primary_key=True),
    Column("client_id", String(64), nullable=False),
    Column("redirect_uri", Text, nullable=False),
    Column("subject", String(64), nullable=False),
    Column("subject_kind", String(16), nullable=False),
    Column("scopes", ARRAY(String(64)), nullable=False),
    Column("code_challenge", String(43), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False, index=True),
    Column("consumed_at", DateTime(timezone=True), nullable=True),
    # The family its exchange started: a replayed code revokes it.
    Column("family_id", Uuid, nullable=True),
)

token_families = Table(
    "token_families",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("client_id", String(64), nullable=False),
    Column("subject", String(64), nullable=False),
    Column("subject_kind", String(16), nullable=False),
    Column("scopes", ARRAY(String(64)), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False, index=True),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
    Column("revoked_reason", String(100), nullable=True),
)

refresh_tokens = Table(
    "refresh_tokens",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column(
        "family_id",
        Uuid,
        ForeignKey("identity.token_families.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("issued_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("used_at", DateTime(timezone=True), nullable=True),
)

# One row per access token issued, so introspection and revocation know about
# it; verifiers never read this table (they trust the signature until exp).
access_tokens = Table(
    "access_tokens",
    metadata,
    Column("jti", Uuid, primary_key=True),
    Column("client_id", String(64), nullable=False),
    Column("subject", String(64), nullable=False),
    Column("family_id", Uuid, nullable=True, index=True),
    Column("expires_at", DateTime(timezone=True), nullable=False, index=True),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
)

signing_keys = Table(
    "signing_keys",
    metadata,
    Column("kid", String(64), primary_key=True),
    Column("algorithm", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("public_jwk", JSONB, nullable=False),
    Column("private_key", LargeBinary, nullable=False),
    # "A256GCM" (sealed with the configured key-encryption key) or "none".
    Column("encryption", String(16), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("activated_at", DateTime(timezone=True), nullable=True),
    Column("retired_at", DateTime(timezone=True), nullable=True),
    Column("publish_until", DateTime(timezone=True), nullable=True),
    CheckConstraint("status IN ('next', 'active', 'retired')", name="status_known"),
)
# A password change revokes the subject's live families (the revoked ones
# leave the index, which keeps it small).
Index(
    "ix_token_families_subject_live",
    token_families.c.subject,
    token_families.c.subject_kind,
    postgresql_where=token_families.c.revoked_at.is_(None),
)
# At most one key signs at any time.
Index(
    "uq_signing_keys_one_active",
    signing_keys.c.status,
    unique=True,
    postgresql_where=signing_keys.c.status == "active",
)

outbox = outbox_table(metadata)
inbox = inbox_table(metadata)
