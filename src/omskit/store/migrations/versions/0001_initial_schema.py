"""Initial schema: locations, stock, supply, orders, fulfilment orders, reservations, ledger,
outbox.

Revision ID: 0001
Revises:
Create Date: 2026-11-25

Table names take the prefix and schema that ``omskit.store.migrate.upgrade`` passes in the
Alembic config's attributes, so one script serves every host's naming.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op
from sqlalchemy.dialects import postgresql

import omskit.store.types

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _names() -> tuple[str, str | None, str]:
    """(prefix, schema, prefix qualified by schema for foreign-key targets)."""
    attributes = context.config.attributes
    prefix: str = attributes.get("table_prefix", "omskit_")
    schema: str | None = attributes.get("schema")
    return prefix, schema, f"{schema}.{prefix}" if schema else prefix


def upgrade() -> None:
    P, S, Q = _names()
    op.create_table(
        f"{P}inventory_ledger",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("location", sa.String(length=128), nullable=False),
        sa.Column("sku", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("on_hand_delta", sa.Integer(), nullable=False),
        sa.Column("reserved_delta", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(length=500), nullable=False),
        sa.Column("idempotency_key", sa.String(length=128), nullable=True),
        sa.Column("occurred_at", omskit.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{P}inventory_ledger")),
        schema=S,
    )
    op.create_index(
        f"ix_{P}inventory_ledger_location_sku",
        f"{P}inventory_ledger",
        ["location", "sku"],
        unique=False,
        schema=S,
    )
    op.create_index(
        f"ux_{P}inventory_ledger_idempotency",
        f"{P}inventory_ledger",
        ["location", "sku", "kind", "idempotency_key"],
        unique=True,
        schema=S,
    )
    op.create_table(
        f"{P}locations",
        sa.Column("code", sa.String(length=128), nullable=False),
        sa.Column("name", sa.String(length=500), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column(
            "address",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "capabilities",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("daily_capacity", sa.Integer(), nullable=True),
        sa.Column("handling_cost", omskit.store.types.DecimalText(length=48), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("updated_at", omskit.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f(f"pk_{P}locations")),
        schema=S,
    )
    op.create_table(
        f"{P}orders",
        sa.Column("id", sa.String(length=128), nullable=False),
        sa.Column("channel", sa.String(length=128), nullable=False),
        sa.Column("external_id", sa.String(length=128), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("total", omskit.store.types.DecimalText(length=48), nullable=False),
        sa.Column("customer_id", sa.String(length=128), nullable=False),
        sa.Column(
            "customer",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "delivery",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "shipping_address",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "billing_address",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "tags",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "metadata",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("placed_at", omskit.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", omskit.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{P}orders")),
        sa.UniqueConstraint(
            "channel", "external_id", name=op.f(f"uq_{P}orders_channel_external_id")
        ),
        schema=S,
    )
    op.create_index(
        f"ix_{P}orders_customer_id",
        f"{P}orders",
        ["customer_id", "placed_at"],
        unique=False,
        schema=S,
    )
    op.create_index(f"ix_{P}orders_placed_at", f"{P}orders", ["placed_at"], unique=False, schema=S)
    op.create_index(
        f"ix_{P}orders_status", f"{P}orders", ["status", "placed_at"], unique=False, schema=S
    )
    op.create_table(
        f"{P}outbox",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("event_id", sa.String(length=128), nullable=False),
        sa.Column("event_type", sa.String(length=128), nullable=False),
        sa.Column("order_id", sa.String(length=128), nullable=True),
        sa.Column(
            "payload",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("occurred_at", omskit.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("dispatched_at", omskit.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("claimed_until", omskit.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("seq", name=op.f(f"pk_{P}outbox")),
        sa.UniqueConstraint("event_id", name=op.f(f"uq_{P}outbox_event_id")),
        schema=S,
    )
    op.create_index(
        op.f(f"ix_{P}outbox_order_id"), f"{P}outbox", ["order_id"], unique=False, schema=S
    )
    op.create_index(
        f"ix_{P}outbox_pending",
        f"{P}outbox",
        ["seq"],
        unique=False,
        schema=S,
        postgresql_where=sa.text("dispatched_at IS NULL"),
        sqlite_where=sa.text("dispatched_at IS NULL"),
    )
    op.create_table(
        f"{P}fulfillment_orders",
        sa.Column("id", sa.String(length=128), nullable=False),
        sa.Column("order_id", sa.String(length=128), nullable=False),
        sa.Column("location", sa.String(length=128), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("rejection_reason", sa.String(length=500), nullable=False),
        sa.Column("created_at", omskit.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", omskit.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("shipment_id", sa.String(length=128), nullable=True),
        sa.Column("carrier", sa.String(length=128), nullable=True),
        sa.Column("tracking_number", sa.String(length=500), nullable=True),
        sa.Column("shipped_at", omskit.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", omskit.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["location"],
            [f"{Q}locations.code"],
            name=op.f(f"fk_{P}fulfillment_orders_location"),
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            [f"{Q}orders.id"],
            name=op.f(f"fk_{P}fulfillment_orders_order_id"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{P}fulfillment_orders")),
        schema=S,
    )
    op.create_index(
        f"ix_{P}fulfillment_orders_location_status",
        f"{P}fulfillment_orders",
        ["location", "status"],
        unique=False,
        schema=S,
    )
    op.create_index(
        op.f(f"ix_{P}fulfillment_orders_order_id"),
        f"{P}fulfillment_orders",
        ["order_id"],
        unique=False,
        schema=S,
    )
    op.create_table(
        f"{P}order_holds",
        sa.Column("order_id", sa.String(length=128), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=128), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("placed_at", omskit.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("released_at", omskit.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["order_id"], [f"{Q}orders.id"], name=op.f(f"fk_{P}order_holds_order_id")
        ),
        sa.PrimaryKeyConstraint("order_id", "position", name=op.f(f"pk_{P}order_holds")),
        schema=S,
    )
    op.create_table(
        f"{P}order_lines",
        sa.Column("order_id", sa.String(length=128), nullable=False),
        sa.Column("line_id", sa.String(length=128), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("sku", sa.String(length=128), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("unit_price", omskit.store.types.DecimalText(length=48), nullable=False),
        sa.CheckConstraint("quantity > 0", name=op.f(f"ck_{P}order_lines_quantity_positive")),
        sa.ForeignKeyConstraint(
            ["order_id"], [f"{Q}orders.id"], name=op.f(f"fk_{P}order_lines_order_id")
        ),
        sa.PrimaryKeyConstraint("order_id", "line_id", name=op.f(f"pk_{P}order_lines")),
        schema=S,
    )
    op.create_table(
        f"{P}stock_items",
        sa.Column("location", sa.String(length=128), nullable=False),
        sa.Column("sku", sa.String(length=128), nullable=False),
        sa.Column("on_hand", sa.Integer(), nullable=False),
        sa.Column("reserved", sa.Integer(), nullable=False),
        sa.Column("safety_stock", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "reserved >= 0 AND reserved <= on_hand", name=op.f(f"ck_{P}stock_items_reserved_within")
        ),
        sa.CheckConstraint(
            "safety_stock >= 0", name=op.f(f"ck_{P}stock_items_safety_non_negative")
        ),
        sa.ForeignKeyConstraint(
            ["location"],
            [f"{Q}locations.code"],
            name=op.f(f"fk_{P}stock_items_location"),
        ),
        sa.PrimaryKeyConstraint("location", "sku", name=op.f(f"pk_{P}stock_items")),
        schema=S,
    )
    op.create_index(f"ix_{P}stock_items_sku", f"{P}stock_items", ["sku"], unique=False, schema=S)
    op.create_table(
        f"{P}supplies",
        sa.Column("id", sa.String(length=128), nullable=False),
        sa.Column("location", sa.String(length=128), nullable=False),
        sa.Column("sku", sa.String(length=128), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("eta", omskit.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("reference", sa.String(length=500), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", omskit.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("quantity > 0", name=op.f(f"ck_{P}supplies_quantity_positive")),
        sa.ForeignKeyConstraint(
            ["location"],
            [f"{Q}locations.code"],
            name=op.f(f"fk_{P}supplies_location"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{P}supplies")),
        schema=S,
    )
    op.create_index(
        f"ix_{P}supplies_sku_status", f"{P}supplies", ["sku", "status"], unique=False, schema=S
    )
    op.create_table(
        f"{P}fulfillment_order_lines",
        sa.Column("fulfillment_order_id", sa.String(length=128), nullable=False),
        sa.Column("line_id", sa.String(length=128), nullable=False),
        sa.Column("sku", sa.String(length=128), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "quantity > 0", name=op.f(f"ck_{P}fulfillment_order_lines_quantity_positive")
        ),
        sa.ForeignKeyConstraint(
            ["fulfillment_order_id"],
            [f"{Q}fulfillment_orders.id"],
            name=op.f(
                f"fk_{P}fulfillment_order_lines_fulfillment_order_id"
            ),
        ),
        sa.PrimaryKeyConstraint(
            "fulfillment_order_id", "line_id", name=op.f(f"pk_{P}fulfillment_order_lines")
        ),
        schema=S,
    )
    op.create_table(
        f"{P}reservations",
        sa.Column("id", sa.String(length=128), nullable=False),
        sa.Column("order_id", sa.String(length=128), nullable=False),
        sa.Column("line_id", sa.String(length=128), nullable=False),
        sa.Column("fulfillment_order_id", sa.String(length=128), nullable=True),
        sa.Column("location", sa.String(length=128), nullable=False),
        sa.Column("sku", sa.String(length=128), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", omskit.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", omskit.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint("quantity > 0", name=op.f(f"ck_{P}reservations_quantity_positive")),
        sa.ForeignKeyConstraint(
            ["location", "sku"],
            [f"{Q}stock_items.location", f"{Q}stock_items.sku"],
            name=op.f(f"fk_{P}reservations_location"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{P}reservations")),
        schema=S,
    )
    op.create_index(
        op.f(f"ix_{P}reservations_fulfillment_order_id"),
        f"{P}reservations",
        ["fulfillment_order_id"],
        unique=False,
        schema=S,
    )
    op.create_index(
        op.f(f"ix_{P}reservations_order_id"),
        f"{P}reservations",
        ["order_id"],
        unique=False,
        schema=S,
    )


def downgrade() -> None:
    P, S, _ = _names()
    op.drop_index(op.f(f"ix_{P}reservations_order_id"), table_name=f"{P}reservations", schema=S)
    op.drop_index(
        op.f(f"ix_{P}reservations_fulfillment_order_id"), table_name=f"{P}reservations", schema=S
    )
    op.drop_table(f"{P}reservations", schema=S)
    op.drop_table(f"{P}fulfillment_order_lines", schema=S)
    op.drop_index(f"ix_{P}supplies_sku_status", table_name=f"{P}supplies", schema=S)
    op.drop_table(f"{P}supplies", schema=S)
    op.drop_index(f"ix_{P}stock_items_sku", table_name=f"{P}stock_items", schema=S)
    op.drop_table(f"{P}stock_items", schema=S)
    op.drop_table(f"{P}order_lines", schema=S)
    op.drop_table(f"{P}order_holds", schema=S)
    op.drop_index(
        op.f(f"ix_{P}fulfillment_orders_order_id"), table_name=f"{P}fulfillment_orders", schema=S
    )
    op.drop_index(
        f"ix_{P}fulfillment_orders_location_status", table_name=f"{P}fulfillment_orders", schema=S
    )
    op.drop_table(f"{P}fulfillment_orders", schema=S)
    op.drop_index(
        f"ix_{P}outbox_pending",
        table_name=f"{P}outbox",
        postgresql_where=sa.text("dispatched_at IS NULL"),
        sqlite_where=sa.text("dispatched_at IS NULL"),
        schema=S,
    )
    op.drop_index(op.f(f"ix_{P}outbox_order_id"), table_name=f"{P}outbox", schema=S)
    op.drop_table(f"{P}outbox", schema=S)
    op.drop_index(f"ix_{P}orders_status", table_name=f"{P}orders", schema=S)
    op.drop_index(f"ix_{P}orders_placed_at", table_name=f"{P}orders", schema=S)
    op.drop_index(f"ix_{P}orders_customer_id", table_name=f"{P}orders", schema=S)
    op.drop_table(f"{P}orders", schema=S)
    op.drop_table(f"{P}locations", schema=S)
    op.drop_index(
        f"ix_{P}inventory_ledger_location_sku", table_name=f"{P}inventory_ledger", schema=S
    )
    op.drop_table(f"{P}inventory_ledger", schema=S)
