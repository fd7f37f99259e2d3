"""Orders keep the fingerprint of the command that placed them.

A re-delivery under the same (channel, external id) with other content is refused
(``IdempotencyConflict``) by comparing fingerprints. Orders placed before have none: their
re-deliveries are accepted as before.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from omskit.store.migrations import names

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    P, S = names()
    op.add_column(f"{P}orders", sa.Column("command_hash", sa.String(length=72), nullable=True),
                  schema=S)


def downgrade() -> None:
    P, S = names()
    # batch mode: SQLite before 3.35 cannot drop a column in place.
    with op.batch_alter_table(f"{P}orders", schema=S) as batch:
        batch.drop_column("command_hash")
