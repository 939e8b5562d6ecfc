"""An index on the live token families of a subject, for ending a person's sessions.

A password change revokes every live family of its subject; without this
index that is a scan of every family of the last 30 days. Partial (revoked
families are left out), so it holds only what can still be revoked.

Built CONCURRENTLY so that sign-ins and refreshes go on while it builds. If
the build fails it leaves an invalid index behind; drop it
(``DROP INDEX CONCURRENTLY identity.ix_token_families_subject_live``) and
upgrade again.

Revision ID: identity_0003
Revises: identity_0002
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "identity_0003"
down_revision: str | None = "identity_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.get_context().autocommit_block():
        op.create_index(
            "ix_token_families_subject_live",
            "token_families",
            ["subject", "subject_kind"],
            unique=False,
            schema="identity",
            postgresql_where=sa.text("revoked_at IS NULL"),
            postgresql_concurrently=True,
        )


def downgrade() -> None:
    with op.get_context().autocommit_block():
        op.drop_index(
            "ix_token_families_subject_live",
            table_name="token_families",
            schema="identity",
            postgresql_concurrently=True,
        )
