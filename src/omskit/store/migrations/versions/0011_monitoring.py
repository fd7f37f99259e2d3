"""Order monitoring: the breaches a sweep raised (once per key, until cleared) and the
sweep's lease where the database has no advisory lock.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from omskit.store.migrations import names
from omskit.store.types import UTCDateTime

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_ID = 128
_TEXT = 500


def upgrade() -> None:
    P, S = names()
    op.create_table(
        f"{P}monitor_breaches",
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("order_id", sa.String(_ID), nullable=True),
        sa.Column("subject", sa.String(_TEXT), nullable=False),
        sa.Column("since", UTCDateTime(timezone=True), nullable=False),
        sa.Column("detail", sa.String(_TEXT), nullable=False),
        sa.Column("raised_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("cleared_at", UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("key", name=op.f(f"pk_{P}monitor_breaches")),
        schema=S,
    )
    op.create_index(f"ix_{P}monitor_breaches_open", f"{P}monitor_breaches",
                    ["cleared_at", "kind"], schema=S)
    op.create_index(f"ix_{P}monitor_breaches_order_id", f"{P}monitor_breaches",
                    ["order_id"], schema=S)
    op.create_table(
        f"{P}sweep_leases",
        sa.Column("name", sa.String(_ID), nullable=False),
        sa.Column("holder", sa.String(_ID), nullable=False),
        sa.Column("acquired_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f(f"pk_{P}sweep_leases")),
        schema=S,
    )


def downgrade() -> None:
    P, S = names()
    op.drop_table(f"{P}sweep_leases", schema=S)
    op.drop_table(f"{P}monitor_breaches", schema=S)
