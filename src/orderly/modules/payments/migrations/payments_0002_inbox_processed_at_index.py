"""An index on inbox.processed_at, so retention deletes the oldest rows without a table scan.

Built CONCURRENTLY: the inbox of a running system has only ever grown, and a
plain CREATE INDEX would hold up every consumer's inbox insert while it
builds. If the build fails it leaves an invalid index behind; drop it
(``DROP INDEX CONCURRENTLY payments.ix_inbox_processed_at``) and upgrade again.

Revision ID: payments_0002
Revises: payments_0001
Create Date: 2026-11-28
"""

from collections.abc import Sequence

from alembic import op

revision: str = "payments_0002"
down_revision: str | None = "payments_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.get_context().autocommit_block():
        op.create_index(
            "ix_inbox_processed_at",
            "inbox",
            ["processed_at"],
            unique=False,
            schema="payments",
            postgresql_concurrently=True,
        )


def downgrade() -> None:
    with op.get_context().autocommit_block():
        op.drop_index(
            "ix_inbox_processed_at",
            table_name="inbox",
            schema="payments",
            postgresql_concurrently=True,
        )
