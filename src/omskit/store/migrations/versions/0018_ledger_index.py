"""The inventory ledger's ``(location, sku)`` index dropped: the unique idempotency index
``(location, sku, kind, idempotency_key)`` starts with the same columns and serves every
query the smaller one did, so keeping both only cost a second index write per movement
(decision 52).

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-05
"""

from __future__ import annotations

from alembic import op

from omskit.store.migrations import names

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    P, S = names()
    op.drop_index(f"ix_{P}inventory_ledger_location_sku", table_name=f"{P}inventory_ledger",
                  schema=S)


def downgrade() -> None:
    P, S = names()
    op.create_index(f"ix_{P}inventory_ledger_location_sku", f"{P}inventory_ledger",
                    ["location", "sku"], schema=S)
