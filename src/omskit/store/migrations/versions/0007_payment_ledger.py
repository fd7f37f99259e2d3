"""The payment ledger: one transaction per tender and its append-only entries.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from omskit.store.migrations import names
from omskit.store.types import BigId, DecimalText, UTCDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    P, S = names()
    parent = f"{S}.{P}payment_transactions" if S else f"{P}payment_transactions"
    op.create_table(
        f"{P}payment_transactions",
        sa.Column("id", sa.String(128), nullable=False),
        sa.Column("order_id", sa.String(128), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(128), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("amount", DecimalText(), nullable=False),
        sa.Column("method_token", sa.String(500), nullable=True),
        sa.Column("provider_reference", sa.String(500), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=f"pk_{P}payment_transactions"),
        sa.UniqueConstraint("order_id", "position",
                            name=f"uq_{P}payment_transactions_order_id_position"),
        schema=S,
    )
    op.create_index(f"ix_{P}payment_transactions_reference", f"{P}payment_transactions",
                    ["provider", "provider_reference"], unique=False, schema=S)
    op.create_table(
        f"{P}payment_entries",
        sa.Column("seq", BigId, autoincrement=True, nullable=False),
        sa.Column("transaction_id", sa.String(128), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("amount", DecimalText(), nullable=False),
        sa.Column("idempotency_key", sa.String(128), nullable=False),
        sa.Column("provider_reference", sa.String(500), nullable=False),
        sa.Column("final", sa.Boolean(), nullable=False),
        sa.Column("error_class", sa.String(32), nullable=True),
        sa.Column("error_message", sa.String(500), nullable=False),
        sa.Column("expires_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("occurred_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["transaction_id"], [f"{parent}.id"],
                                name=f"fk_{P}payment_entries_transaction_id"),
        sa.PrimaryKeyConstraint("seq", name=f"pk_{P}payment_entries"),
        schema=S,
    )
    op.create_index(f"ux_{P}payment_entries_key", f"{P}payment_entries",
                    ["transaction_id", "idempotency_key", "outcome"], unique=True, schema=S)


def downgrade() -> None:
    P, S = names()
    op.drop_index(f"ux_{P}payment_entries_key", table_name=f"{P}payment_entries", schema=S)
    op.drop_table(f"{P}payment_entries", schema=S)
    op.drop_index(f"ix_{P}payment_transactions_reference",
                  table_name=f"{P}payment_transactions", schema=S)
    op.drop_table(f"{P}payment_transactions", schema=S)
