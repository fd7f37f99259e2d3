"""Returns (RMA): each return's status, channel, location and policy, its idempotency key,
and the rest of the aggregate as one JSON document.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from omskit.store.migrations import names
from omskit.store.types import UTCDateTime

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
_ID = 128


def upgrade() -> None:
    P, S = names()
    orders = f"{S}.{P}orders" if S else f"{P}orders"
    op.create_table(
        f"{P}returns",
        sa.Column("id", sa.String(_ID), nullable=False),
        sa.Column("order_id", sa.String(_ID), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("channel", sa.String(_ID), nullable=False),
        sa.Column("location", sa.String(_ID), nullable=True),
        sa.Column("policy", sa.String(_ID), nullable=False),
        sa.Column("idempotency_key", sa.String(_ID), nullable=True),
        sa.Column("document", _JSON, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["order_id"], [f"{orders}.id"],
                                name=op.f(f"fk_{P}returns_order_id")),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{P}returns")),
        sa.UniqueConstraint("order_id", "idempotency_key",
                            name=op.f(f"uq_{P}returns_order_id_idempotency_key")),
        schema=S,
    )
    op.create_index(f"ix_{P}returns_order_id", f"{P}returns", ["order_id", "created_at"],
                    schema=S)
    op.create_index(f"ix_{P}returns_status", f"{P}returns", ["status", "updated_at"],
                    schema=S)


def downgrade() -> None:
    P, S = names()
    op.drop_table(f"{P}returns", schema=S)
