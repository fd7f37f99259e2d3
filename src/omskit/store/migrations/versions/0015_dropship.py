"""Dropship: purchase orders (one per fulfilment order at a supplier location, with the key
each send is claimed under) and the supplier messages processed, once each.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from omskit.store.migrations import names
from omskit.store.types import UTCDateTime

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
_ID = 128
_TEXT = 500


def upgrade() -> None:
    P, S = names()
    qualified = f"{S}.{P}" if S else P
    op.create_table(
        f"{P}purchase_orders",
        sa.Column("id", sa.String(_ID), nullable=False),
        sa.Column("supplier", sa.String(_ID), nullable=False),
        sa.Column("order_id", sa.String(_ID), nullable=False),
        sa.Column("fulfillment_order_id", sa.String(_ID), nullable=False),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("lines", _JSON, nullable=False),
        sa.Column("shipped", _JSON, nullable=False),
        sa.Column("idempotency_key", sa.String(_ID), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("claimed_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("sent_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("supplier_reference", sa.String(_TEXT), nullable=False),
        sa.Column("error", sa.String(_TEXT), nullable=False),
        sa.Column("document_json", sa.Text(), nullable=False),
        sa.Column("document_html", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["order_id"], [f"{qualified}orders.id"],
                                name=op.f(f"fk_{P}purchase_orders_order_id")),
        sa.ForeignKeyConstraint(["fulfillment_order_id"],
                                [f"{qualified}fulfillment_orders.id"],
                                name=op.f(f"fk_{P}purchase_orders_fulfillment_order_id")),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{P}purchase_orders")),
        sa.UniqueConstraint("fulfillment_order_id",
                            name=op.f(f"uq_{P}purchase_orders_fulfillment_order_id")),
        schema=S,
    )
    op.create_index(f"ix_{P}purchase_orders_supplier_status", f"{P}purchase_orders",
                    ["supplier", "status"], schema=S)
    op.create_table(
        f"{P}supplier_messages",
        sa.Column("supplier", sa.String(_ID), nullable=False),
        sa.Column("message_id", sa.String(_ID), nullable=False),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("purchase_order_id", sa.String(_ID), nullable=True),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("error", sa.String(_TEXT), nullable=False),
        sa.Column("received_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("supplier", "message_id", name=op.f(f"pk_{P}supplier_messages")),
        schema=S,
    )


def downgrade() -> None:
    P, S = names()
    op.drop_table(f"{P}supplier_messages", schema=S)
    op.drop_table(f"{P}purchase_orders", schema=S)
