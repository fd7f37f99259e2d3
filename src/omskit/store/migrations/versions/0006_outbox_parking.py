"""Poison events: the outbox parks an event that failed too often.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from omskit.store.migrations import names
from omskit.store.types import UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    P, S = names()
    op.add_column(f"{P}outbox", sa.Column("parked_at", UTCDateTime(timezone=True), nullable=True),
                  schema=S)
    # Dispatch asks "is an earlier event of this order still undelivered?" per candidate
    # row: (order_id, seq) answers it from the index.
    op.drop_index(f"ix_{P}outbox_order_id", table_name=f"{P}outbox", schema=S)
    op.create_index(f"ix_{P}outbox_order_id", f"{P}outbox", ["order_id", "seq"],
                    unique=False, schema=S)


def downgrade() -> None:
    P, S = names()
    op.drop_index(f"ix_{P}outbox_order_id", table_name=f"{P}outbox", schema=S)
    op.create_index(f"ix_{P}outbox_order_id", f"{P}outbox", ["order_id"], unique=False,
                    schema=S)
    op.drop_column(f"{P}outbox", "parked_at", schema=S)
