"""Shipments and parcels: a fulfilment order ships in one or more shipments, each with parcels
whose labels are bought under idempotency keys and whose tracking events are kept.

The shipment columns of ``fulfillment_orders`` move to ``shipments`` (one whole shipment per
shipped fulfilment order, with one parcel labelled outside omskit); orders gain the
carriers' ``expected_date``.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from omskit.store.migrations import names
from omskit.store.types import UTCDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_ID = 128
_TEXT = 500
_OLD_COLUMNS = ("shipment_id", "carrier", "tracking_number", "shipped_at", "delivered_at")


def _fk(table: str, column: str) -> str:
    P, S = names()
    return f"{S}.{P}{table}.{column}" if S else f"{P}{table}.{column}"


def upgrade() -> None:
    P, S = names()
    op.add_column(f"{P}orders", sa.Column("expected_date", sa.Date(), nullable=True), schema=S)
    op.create_table(
        f"{P}shipments",
        sa.Column("id", sa.String(_ID), nullable=False),
        sa.Column("order_id", sa.String(_ID), nullable=False),
        sa.Column("fulfillment_order_id", sa.String(_ID), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("carrier", sa.String(_ID), nullable=False),
        sa.Column("service", sa.String(_ID), nullable=False),
        sa.Column("tracking_number", sa.String(_TEXT), nullable=False),
        sa.Column("lines", _JSON, nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("shipped_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("expected_date", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(["order_id"], [_fk("orders", "id")],
                                name=op.f(f"fk_{P}shipments_order_id")),
        sa.ForeignKeyConstraint(["fulfillment_order_id"], [_fk("fulfillment_orders", "id")],
                                name=op.f(f"fk_{P}shipments_fulfillment_order_id")),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{P}shipments")),
        schema=S,
    )
    op.create_index(f"ix_{P}shipments_order_id", f"{P}shipments", ["order_id"], schema=S)
    op.create_table(
        f"{P}parcels",
        sa.Column("id", sa.String(_ID), nullable=False),
        sa.Column("shipment_id", sa.String(_ID), nullable=False),
        sa.Column("order_id", sa.String(_ID), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("carrier", sa.String(_ID), nullable=False),
        sa.Column("weight_grams", sa.Integer(), nullable=False),
        sa.Column("dimensions", _JSON, nullable=True),
        sa.Column("contents", _JSON, nullable=False),
        sa.Column("label_status", sa.String(16), nullable=False),
        sa.Column("label_key", sa.String(_ID), nullable=True),
        sa.Column("label_attempts", sa.Integer(), nullable=False),
        sa.Column("label_claimed_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("label_id", sa.String(_TEXT), nullable=True),
        sa.Column("tracking_number", sa.String(_TEXT), nullable=False),
        sa.Column("label_error", sa.String(_TEXT), nullable=False),
        sa.Column("tracking_status", sa.String(32), nullable=True),
        sa.Column("tracking_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("expected_date", sa.Date(), nullable=True),
        sa.CheckConstraint("weight_grams >= 0", name=op.f(f"ck_{P}parcels_weight_non_negative")),
        sa.ForeignKeyConstraint(["shipment_id"], [_fk("shipments", "id")],
                                name=op.f(f"fk_{P}parcels_shipment_id")),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{P}parcels")),
        sa.UniqueConstraint("label_key", name=op.f(f"uq_{P}parcels_label_key")),
        schema=S,
    )
    op.create_index(f"ix_{P}parcels_order_id", f"{P}parcels", ["order_id"], schema=S)
    op.create_index(f"ix_{P}parcels_carrier_tracking", f"{P}parcels",
                    ["carrier", "tracking_number"], schema=S)
    op.create_table(
        f"{P}tracking_events",
        sa.Column("seq", _BIG_ID, autoincrement=True, nullable=False),
        sa.Column("carrier", sa.String(_ID), nullable=False),
        sa.Column("tracking_number", sa.String(_TEXT), nullable=False),
        sa.Column("event_id", sa.String(_TEXT), nullable=False),
        sa.Column("parcel_id", sa.String(_ID), nullable=False),
        sa.Column("order_id", sa.String(_ID), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("occurred_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("description", sa.String(_TEXT), nullable=False),
        sa.Column("location", sa.String(_TEXT), nullable=False),
        sa.Column("expected_date", sa.Date(), nullable=True),
        sa.Column("recorded_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f(f"pk_{P}tracking_events")),
        sa.UniqueConstraint("carrier", "event_id", "parcel_id",
                            name=op.f(f"uq_{P}tracking_events_carrier_event_id_parcel_id")),
        schema=S,
    )
    op.create_index(f"ix_{P}tracking_events_parcel_id", f"{P}tracking_events",
                    ["parcel_id", "occurred_at"], schema=S)
    op.create_table(
        f"{P}label_documents",
        sa.Column("label_key", sa.String(_ID), nullable=False),
        sa.Column("parcel_id", sa.String(_ID), nullable=False),
        sa.Column("media_type", sa.String(_ID), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["parcel_id"], [_fk("parcels", "id")],
                                name=op.f(f"fk_{P}label_documents_parcel_id")),
        sa.PrimaryKeyConstraint("label_key", name=op.f(f"pk_{P}label_documents")),
        schema=S,
    )
    op.create_index(f"ix_{P}label_documents_parcel_id", f"{P}label_documents", ["parcel_id"],
                    schema=S)
    _move_shipments(P, S)
    with op.batch_alter_table(f"{P}fulfillment_orders", schema=S) as batch:
        for column in _OLD_COLUMNS:
            batch.drop_column(column)


def _move_shipments(prefix: str, schema: str | None) -> None:
    """One whole shipment, with one parcel labelled outside omskit, per shipped fulfilment
    order: what the old columns described."""
    bind = op.get_bind()
    md = sa.MetaData(schema=schema)
    fos = sa.Table(f"{prefix}fulfillment_orders", md, autoload_with=bind)
    lines = sa.Table(f"{prefix}fulfillment_order_lines", md, autoload_with=bind)
    shipments = sa.Table(f"{prefix}shipments", md, autoload_with=bind)
    parcels = sa.Table(f"{prefix}parcels", md, autoload_with=bind)
    shipped = bind.execute(sa.select(fos).where(fos.c.shipment_id.is_not(None))).mappings()
    for fo in list(shipped):
        contents = [{"line_id": r["line_id"], "sku": r["sku"], "quantity": r["quantity"]}
                    for r in bind.execute(sa.select(lines).where(
                        lines.c.fulfillment_order_id == fo["id"])).mappings()]
        bind.execute(shipments.insert().values(
            id=fo["shipment_id"], order_id=fo["order_id"], fulfillment_order_id=fo["id"],
            position=0, carrier=fo["carrier"] or "", service="",
            tracking_number=fo["tracking_number"] or "", lines=contents,
            created_at=fo["shipped_at"], shipped_at=fo["shipped_at"],
            delivered_at=fo["delivered_at"], expected_date=None))
        bind.execute(parcels.insert().values(
            id=f"{fo['shipment_id']}-1", shipment_id=fo["shipment_id"],
            order_id=fo["order_id"], position=0, carrier=fo["carrier"] or "", weight_grams=0,
            dimensions=None, contents=[], label_status="external", label_key=None,
            label_attempts=0, label_claimed_at=None, label_id=None,
            tracking_number=fo["tracking_number"] or "", label_error="",
            tracking_status="delivered" if fo["delivered_at"] else None,
            tracking_at=fo["delivered_at"], delivered_at=fo["delivered_at"],
            expected_date=None))


def downgrade() -> None:
    P, S = names()
    with op.batch_alter_table(f"{P}fulfillment_orders", schema=S) as batch:
        batch.add_column(sa.Column("shipment_id", sa.String(_ID), nullable=True))
        batch.add_column(sa.Column("carrier", sa.String(_ID), nullable=True))
        batch.add_column(sa.Column("tracking_number", sa.String(_TEXT), nullable=True))
        batch.add_column(sa.Column("shipped_at", UTCDateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("delivered_at", UTCDateTime(timezone=True), nullable=True))
    bind = op.get_bind()
    md = sa.MetaData(schema=S)
    fos = sa.Table(f"{P}fulfillment_orders", md, autoload_with=bind)
    shipments = sa.Table(f"{P}shipments", md, autoload_with=bind)
    # The first shipment that left stands for the whole: the old model had only one.
    for s in list(bind.execute(sa.select(shipments).where(shipments.c.shipped_at.is_not(None))
                               .order_by(shipments.c.position.desc())).mappings()):
        bind.execute(fos.update().where(fos.c.id == s["fulfillment_order_id"]).values(
            shipment_id=s["id"], carrier=s["carrier"], tracking_number=s["tracking_number"],
            shipped_at=s["shipped_at"], delivered_at=s["delivered_at"]))
    for table in ("label_documents", "tracking_events", "parcels", "shipments"):
        op.drop_table(f"{P}{table}", schema=S)
    with op.batch_alter_table(f"{P}orders", schema=S) as batch:
        batch.drop_column("expected_date")
