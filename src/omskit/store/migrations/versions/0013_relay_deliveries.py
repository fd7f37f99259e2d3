"""Event relays: a row per relay (its claims are serialised on it, batch failures recorded
there) and a row per event each relay claimed, with whether its broker confirmed it.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from omskit.store.migrations import names
from omskit.store.types import UTCDateTime

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

_ID = 128
_BIG = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    P, S = names()
    op.create_table(
        f"{P}relays",
        sa.Column("relay", sa.String(_ID), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_failure_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_delivery_at", UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("relay", name=op.f(f"pk_{P}relays")),
        schema=S,
    )
    op.create_table(
        f"{P}relay_deliveries",
        sa.Column("relay", sa.String(_ID), nullable=False),
        sa.Column("seq", _BIG, autoincrement=False, nullable=False),
        sa.Column("claimed_until", UTCDateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("parked_at", UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("relay", "seq", name=op.f(f"pk_{P}relay_deliveries")),
        schema=S,
    )


def downgrade() -> None:
    P, S = names()
    op.drop_table(f"{P}relay_deliveries", schema=S)
    op.drop_table(f"{P}relays", schema=S)
