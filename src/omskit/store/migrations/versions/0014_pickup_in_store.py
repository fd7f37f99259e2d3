"""Pick up in store: fulfilment orders remember when they were ready and their collection
deadline; supplies may be a transfer reserved for one pickup order (ship-to-store).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from omskit.store.migrations import names
from omskit.store.types import UTCDateTime

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    P, S = names()
    op.add_column(f"{P}fulfillment_orders", sa.Column("ready_at", UTCDateTime(timezone=True),
                                                      nullable=True), schema=S)
    op.add_column(f"{P}fulfillment_orders", sa.Column("collect_by", UTCDateTime(timezone=True),
                                                      nullable=True), schema=S)
    op.create_index(f"ix_{P}fulfillment_orders_status_collect_by", f"{P}fulfillment_orders",
                    ["status", "collect_by"], schema=S)
    op.add_column(f"{P}supplies", sa.Column("order_id", sa.String(128), nullable=True),
                  schema=S)
    op.add_column(f"{P}supplies", sa.Column("fulfillment_order_id", sa.String(128),
                                            nullable=True), schema=S)
    op.create_index(f"ix_{P}supplies_fulfillment_order_id", f"{P}supplies",
                    ["fulfillment_order_id"], schema=S)


def downgrade() -> None:
    P, S = names()
    op.drop_index(f"ix_{P}supplies_fulfillment_order_id", table_name=f"{P}supplies", schema=S)
    with op.batch_alter_table(f"{P}supplies", schema=S) as batch:
        batch.drop_column("fulfillment_order_id")
        batch.drop_column("order_id")
    op.drop_index(f"ix_{P}fulfillment_orders_status_collect_by",
                  table_name=f"{P}fulfillment_orders", schema=S)
    with op.batch_alter_table(f"{P}fulfillment_orders", schema=S) as batch:
        batch.drop_column("collect_by")
        batch.drop_column("ready_at")
