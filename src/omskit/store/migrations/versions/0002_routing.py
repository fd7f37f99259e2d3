"""Routing engine: explanations, location load per day, soft reservations, promise fields.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op
from sqlalchemy.dialects import postgresql

import omskit.store.types

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _names() -> tuple[str, str | None, str]:
    """(prefix, schema, prefix qualified by schema for foreign-key targets)."""
    attributes = context.config.attributes
    prefix: str = attributes.get("table_prefix", "omskit_")
    schema: str | None = attributes.get("schema")
    return prefix, schema, f"{schema}.{prefix}" if schema else prefix


def upgrade() -> None:
    P, S, Q = _names()
    op.add_column(f"{P}locations", sa.Column("groups", _JSON, nullable=False,
                                             server_default="[]"), schema=S)
    op.add_column(f"{P}locations", sa.Column("cutoff", sa.String(length=5), nullable=True),
                  schema=S)
    op.add_column(f"{P}locations", sa.Column("processing_days", sa.Integer(), nullable=False,
                                             server_default="0"), schema=S)
    op.add_column(f"{P}locations", sa.Column("timezone", sa.String(length=64), nullable=False,
                                             server_default="UTC"), schema=S)
    op.add_column(f"{P}orders", sa.Column("promised_date", sa.Date(), nullable=True), schema=S)
    op.add_column(f"{P}orders", sa.Column("cart_id", sa.String(length=128), nullable=True),
                  schema=S)
    op.create_table(
        f"{P}routing_decisions",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("id", sa.String(length=128), nullable=False),
        sa.Column("order_id", sa.String(length=128), nullable=False),
        sa.Column("decided_at", omskit.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("strategy", sa.String(length=128), nullable=False),
        sa.Column("solver", sa.String(length=32), nullable=False),
        sa.Column("cost", sa.Float(), nullable=False),
        sa.Column("payload", _JSON, nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f(f"pk_{P}routing_decisions")),
        sa.UniqueConstraint("id", name=op.f(f"uq_{P}routing_decisions_id")),
        schema=S,
    )
    op.create_index(f"ix_{P}routing_decisions_order_id", f"{P}routing_decisions",
                    ["order_id", "decided_at"], unique=False, schema=S)
    op.create_table(
        f"{P}location_load",
        sa.Column("location", sa.String(length=128), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("fulfillment_orders", sa.Integer(), nullable=False),
        sa.CheckConstraint("fulfillment_orders >= 0",
                           name=op.f(f"ck_{P}location_load_load_non_negative")),
        sa.ForeignKeyConstraint(["location"], [f"{Q}locations.code"],
                                name=op.f(f"fk_{P}location_load_location")),
        sa.PrimaryKeyConstraint("location", "day", name=op.f(f"pk_{P}location_load")),
        schema=S,
    )
    op.create_table(
        f"{P}soft_reservations",
        sa.Column("id", sa.String(length=128), nullable=False),
        sa.Column("cart_id", sa.String(length=128), nullable=False),
        sa.Column("location", sa.String(length=128), nullable=False),
        sa.Column("sku", sa.String(length=128), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", omskit.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", omskit.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ended_at", omskit.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint("quantity > 0",
                           name=op.f(f"ck_{P}soft_reservations_quantity_positive")),
        sa.ForeignKeyConstraint(["location", "sku"],
                                [f"{Q}stock_items.location", f"{Q}stock_items.sku"],
                                name=op.f(f"fk_{P}soft_reservations_location")),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{P}soft_reservations")),
        schema=S,
    )
    op.create_index(f"ix_{P}soft_reservations_cart_id", f"{P}soft_reservations",
                    ["cart_id"], unique=False, schema=S)
    op.create_index(f"ix_{P}soft_reservations_status_expires", f"{P}soft_reservations",
                    ["status", "expires_at"], unique=False, schema=S)


def downgrade() -> None:
    P, S, _ = _names()
    op.drop_index(f"ix_{P}soft_reservations_status_expires",
                  table_name=f"{P}soft_reservations", schema=S)
    op.drop_index(f"ix_{P}soft_reservations_cart_id", table_name=f"{P}soft_reservations",
                  schema=S)
    op.drop_table(f"{P}soft_reservations", schema=S)
    op.drop_table(f"{P}location_load", schema=S)
    op.drop_index(f"ix_{P}routing_decisions_order_id", table_name=f"{P}routing_decisions",
                  schema=S)
    op.drop_table(f"{P}routing_decisions", schema=S)
    with op.batch_alter_table(f"{P}orders", schema=S) as batch:
        batch.drop_column("cart_id")
        batch.drop_column("promised_date")
    with op.batch_alter_table(f"{P}locations", schema=S) as batch:
        batch.drop_column("timezone")
        batch.drop_column("processing_days")
        batch.drop_column("cutoff")
        batch.drop_column("groups")
