"""Channels: webhook deliveries seen once per connector, and order status pushed back to the
channel an order came from (accepted, shipped with tracking, cancelled), retried until sent.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from omskit.store.migrations import names
from omskit.store.types import UTCDateTime

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
_ID = 128
_TEXT = 500


def upgrade() -> None:
    P, S = names()
    orders = f"{S}.{P}orders" if S else f"{P}orders"
    op.create_table(
        f"{P}channel_deliveries",
        sa.Column("connector", sa.String(_ID), nullable=False),
        sa.Column("delivery_id", sa.String(_ID), nullable=False),
        sa.Column("order_id", sa.String(_ID), nullable=False),
        sa.Column("received_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["order_id"], [f"{orders}.id"],
                                name=op.f(f"fk_{P}channel_deliveries_order_id")),
        sa.PrimaryKeyConstraint("connector", "delivery_id",
                                name=op.f(f"pk_{P}channel_deliveries")),
        schema=S,
    )
    op.create_table(
        f"{P}channel_status_updates",
        sa.Column("id", sa.String(_ID), nullable=False),
        sa.Column("connector", sa.String(_ID), nullable=False),
        sa.Column("order_id", sa.String(_ID), nullable=False),
        sa.Column("channel", sa.String(_ID), nullable=False),
        sa.Column("external_id", sa.String(_ID), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("details", _JSON, nullable=False),
        sa.Column("key", sa.String(_ID), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(_TEXT), nullable=False),
        sa.ForeignKeyConstraint(["order_id"], [f"{orders}.id"],
                                name=op.f(f"fk_{P}channel_status_updates_order_id")),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{P}channel_status_updates")),
        sa.UniqueConstraint("key", name=op.f(f"uq_{P}channel_status_updates_key")),
        schema=S,
    )
    op.create_index(f"ix_{P}channel_status_updates_due", f"{P}channel_status_updates",
                    ["sent_at", "next_attempt_at"], schema=S)
    op.create_index(f"ix_{P}channel_status_updates_order_id", f"{P}channel_status_updates",
                    ["order_id", "created_at"], schema=S)


def downgrade() -> None:
    P, S = names()
    op.drop_table(f"{P}channel_status_updates", schema=S)
    op.drop_table(f"{P}channel_deliveries", schema=S)
