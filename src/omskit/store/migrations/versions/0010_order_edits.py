"""Order edits: an edit staged on an order (its changes, status, channel and actor), committed
on the order version it was begun on, with what it did.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from omskit.store.migrations import names
from omskit.store.types import UTCDateTime

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
_ID = 128
_TEXT = 500


def upgrade() -> None:
    P, S = names()
    orders = f"{S}.{P}orders" if S else f"{P}orders"
    op.create_table(
        f"{P}order_edits",
        sa.Column("id", sa.String(_ID), nullable=False),
        sa.Column("order_id", sa.String(_ID), nullable=False),
        sa.Column("channel", sa.String(_ID), nullable=False),
        sa.Column("actor", sa.String(_TEXT), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("base_version", sa.Integer(), nullable=False),
        sa.Column("changes", _JSON, nullable=False),
        sa.Column("idempotency_key", sa.String(_ID), nullable=True),
        sa.Column("stage_keys", _JSON, nullable=False),
        sa.Column("fingerprint", sa.String(72), nullable=True),
        sa.Column("summary", _JSON, nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("committed_at", UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["order_id"], [f"{orders}.id"],
                                name=op.f(f"fk_{P}order_edits_order_id")),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{P}order_edits")),
        schema=S,
    )
    op.create_index(f"ix_{P}order_edits_order_id", f"{P}order_edits",
                    ["order_id", "created_at"], schema=S)
    op.create_index(f"ix_{P}order_edits_status_expires", f"{P}order_edits",
                    ["status", "expires_at"], schema=S)


def downgrade() -> None:
    P, S = names()
    op.drop_table(f"{P}order_edits", schema=S)
