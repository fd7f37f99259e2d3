"""Order listings page by (placed_at, id): the placed_at index gains the id.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from __future__ import annotations

from alembic import op

from omskit.store.migrations import names

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    P, S = names()
    # Keyset paging (oms.orders.iter_all) compares (placed_at, id) rows: with the id in the
    # index every page is one range scan, however many pages came before.
    op.drop_index(f"ix_{P}orders_placed_at", table_name=f"{P}orders", schema=S)
    op.create_index(f"ix_{P}orders_placed_at", f"{P}orders", ["placed_at", "id"],
                    unique=False, schema=S)


def downgrade() -> None:
    P, S = names()
    op.drop_index(f"ix_{P}orders_placed_at", table_name=f"{P}orders", schema=S)
    op.create_index(f"ix_{P}orders_placed_at", f"{P}orders", ["placed_at"], unique=False,
                    schema=S)
