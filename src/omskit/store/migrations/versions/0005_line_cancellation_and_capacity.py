"""Line cancellation and daily-capacity give-back: order lines count their cancelled units,
fulfilment orders remember the day whose capacity slot they hold.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from omskit.store.migrations import names

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    P, S = names()
    # Existing lines had nothing cancelled.
    op.add_column(f"{P}order_lines", sa.Column("cancelled_quantity", sa.Integer(),
                                               nullable=False, server_default="0"), schema=S)
    # Fulfilment orders created before hold no slot they could give back.
    op.add_column(f"{P}fulfillment_orders", sa.Column("capacity_day", sa.Date(),
                                                      nullable=True), schema=S)


def downgrade() -> None:
    P, S = names()
    with op.batch_alter_table(f"{P}fulfillment_orders", schema=S) as batch:
        batch.drop_column("capacity_day")
    with op.batch_alter_table(f"{P}order_lines", schema=S) as batch:
        batch.drop_column("cancelled_quantity")
