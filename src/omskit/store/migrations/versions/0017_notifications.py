"""Customer notifications: each message stored under its key before it is sent, with its
outcome, and each customer's choice of medium per sales channel.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from omskit.store.migrations import names
from omskit.store.types import UTCDateTime

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

_ID = 128
_TEXT = 500


def upgrade() -> None:
    P, S = names()
    op.create_table(
        f"{P}notifications",
        sa.Column("id", sa.String(_ID), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("event_type", sa.String(_ID), nullable=False),
        sa.Column("event_id", sa.String(_ID), nullable=False),
        sa.Column("order_id", sa.String(_ID), nullable=True),
        sa.Column("channel", sa.String(_ID), nullable=False),
        sa.Column("notifier", sa.String(_ID), nullable=False),
        sa.Column("media", sa.String(32), nullable=False),
        sa.Column("recipient", sa.String(_TEXT), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(_TEXT), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("sent_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("provider_message_id", sa.String(_TEXT), nullable=True),
        sa.Column("last_error", sa.String(_TEXT), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{P}notifications")),
        sa.UniqueConstraint("key", name=op.f(f"uq_{P}notifications_key")),
        schema=S,
    )
    op.create_index(f"ix_{P}notifications_due", f"{P}notifications",
                    ["status", "next_attempt_at"], schema=S)
    op.create_index(f"ix_{P}notifications_order_id", f"{P}notifications", ["order_id"],
                    schema=S)
    op.create_table(
        f"{P}notification_preferences",
        sa.Column("customer_id", sa.String(_ID), nullable=False),
        sa.Column("channel", sa.String(_ID), nullable=False),
        sa.Column("media", sa.String(32), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("customer_id", "channel",
                                name=op.f(f"pk_{P}notification_preferences")),
        schema=S,
    )


def downgrade() -> None:
    P, S = names()
    op.drop_table(f"{P}notification_preferences", schema=S)
    op.drop_table(f"{P}notifications", schema=S)
