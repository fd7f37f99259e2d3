"""The omskit tables, built per instance: a prefix and schema of the host's choosing."""

from __future__ import annotations

from collections.abc import Callable

import attrs
import sqlalchemy as sa

from omskit.store.types import BigId, DecimalText, JSONDocument, UTCDateTime

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    # Without the referred table: names stay under PostgreSQL's 63 characters.
    "fk": "fk_%(table_name)s_%(column_0_name)s",
    "pk": "pk_%(table_name)s",
}

_ID = 128  # identifiers: order ids, SKUs, codes
_TEXT = 500


@attrs.frozen
class Tables:
    """The core tables of one omskit instance, and the ``MetaData`` that holds them."""

    metadata: sa.MetaData
    prefix: str
    locations: sa.Table
    stock_items: sa.Table
    supplies: sa.Table
    orders: sa.Table
    order_lines: sa.Table
    order_holds: sa.Table
    fulfillment_orders: sa.Table
    fulfillment_order_lines: sa.Table
    reservations: sa.Table
    inventory_ledger: sa.Table
    outbox: sa.Table
    routing_decisions: sa.Table
    location_load: sa.Table
    soft_reservations: sa.Table
    payment_transactions: sa.Table
    payment_entries: sa.Table
    shipments: sa.Table
    parcels: sa.Table
    tracking_events: sa.Table
    label_documents: sa.Table
    invoices: sa.Table
    document_counters: sa.Table
    journal_postings: sa.Table
    order_edits: sa.Table
    monitor_breaches: sa.Table
    sweep_leases: sa.Table
    returns: sa.Table
    relays: sa.Table
    relay_deliveries: sa.Table
    purchase_orders: sa.Table
    supplier_messages: sa.Table
    channel_deliveries: sa.Table
    channel_status_updates: sa.Table
    notifications: sa.Table
    notification_preferences: sa.Table

    def all(self) -> list[sa.Table]:
        """Core tables in dependency order (parents first)."""
        return [self.locations, self.stock_items, self.supplies, self.orders, self.order_lines,
                self.order_holds, self.fulfillment_orders, self.fulfillment_order_lines,
                self.reservations, self.inventory_ledger, self.outbox,
                self.routing_decisions, self.location_load, self.soft_reservations,
                self.payment_transactions, self.payment_entries,
                self.shipments, self.parcels, self.tracking_events, self.label_documents,
                self.invoices, self.document_counters, self.journal_postings,
                self.order_edits, self.monitor_breaches, self.sweep_leases, self.returns,
                self.relays, self.relay_deliveries, self.purchase_orders,
                self.supplier_messages, self.channel_deliveries, self.channel_status_updates,
                self.notifications, self.notification_preferences]


def build_metadata(
    prefix: str = "omskit_", schema: str | None = None, metadata: sa.MetaData | None = None
) -> Tables:
    """Define the core tables on ``metadata`` (a new one by default) and return them.

    Pass the host application's ``MetaData`` to keep omskit's tables beside its own (Alembic
    autogenerate then sees both); ``prefix`` and ``schema`` avoid name clashes.
    """
    md = metadata if metadata is not None else sa.MetaData(naming_convention=NAMING_CONVENTION)

    def fk(table: str, column: str) -> str:
        qualified = f"{schema}.{prefix}{table}" if schema else f"{prefix}{table}"
        return f"{qualified}.{column}"

    locations = sa.Table(
        f"{prefix}locations", md,
        sa.Column("code", sa.String(_ID), primary_key=True),
        sa.Column("name", sa.String(_TEXT), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("lat", sa.Float, nullable=True),
        sa.Column("lon", sa.Float, nullable=True),
        sa.Column("address", JSONDocument, nullable=True),
        sa.Column("capabilities", JSONDocument, nullable=False),
        sa.Column("daily_capacity", sa.Integer, nullable=True),
        sa.Column("handling_cost", DecimalText, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        # Added by migration 0002: defaults let existing rows gain the columns.
        sa.Column("groups", JSONDocument, nullable=False, server_default="[]"),
        sa.Column("cutoff", sa.String(5), nullable=True),
        sa.Column("processing_days", sa.Integer, nullable=False, server_default="0"),
        sa.Column("timezone", sa.String(64), nullable=False, server_default="UTC"),
        schema=schema,
    )
    stock_items = sa.Table(
        f"{prefix}stock_items", md,
        sa.Column("location", sa.String(_ID), sa.ForeignKey(fk("locations", "code")),
                  primary_key=True),
        sa.Column("sku", sa.String(_ID), primary_key=True),
        sa.Column("on_hand", sa.Integer, nullable=False),
        sa.Column("reserved", sa.Integer, nullable=False),
        sa.Column("safety_stock", sa.Integer, nullable=False),
        # The database itself refuses to reserve or ship more than is on hand.
        sa.CheckConstraint("reserved >= 0 AND reserved <= on_hand", name="reserved_within"),
        sa.CheckConstraint("safety_stock >= 0", name="safety_non_negative"),
        sa.Index(f"ix_{prefix}stock_items_sku", "sku"),
        schema=schema,
    )
    supplies = sa.Table(
        f"{prefix}supplies", md,
        sa.Column("id", sa.String(_ID), primary_key=True),
        sa.Column("location", sa.String(_ID), sa.ForeignKey(fk("locations", "code")),
                  nullable=False),
        sa.Column("sku", sa.String(_ID), nullable=False),
        sa.Column("quantity", sa.Integer, nullable=False),
        sa.Column("eta", UTCDateTime, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("reference", sa.String(_TEXT), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        # Added by migration 0014: a ship-to-store transfer reserved for one pickup order's
        # fulfilment order (None: anyone's stock once it arrives).
        sa.Column("order_id", sa.String(_ID), nullable=True),
        sa.Column("fulfillment_order_id", sa.String(_ID), nullable=True),
        sa.CheckConstraint("quantity > 0", name="quantity_positive"),
        sa.Index(f"ix_{prefix}supplies_sku_status", "sku", "status"),
        sa.Index(f"ix_{prefix}supplies_fulfillment_order_id", "fulfillment_order_id"),
        schema=schema,
    )
    orders = sa.Table(
        f"{prefix}orders", md,
        sa.Column("id", sa.String(_ID), primary_key=True),
        sa.Column("channel", sa.String(_ID), nullable=False),
        sa.Column("external_id", sa.String(_ID), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("total", DecimalText, nullable=False),
        sa.Column("customer_id", sa.String(_ID), nullable=False),
        sa.Column("customer", JSONDocument, nullable=False),
        sa.Column("delivery", JSONDocument, nullable=False),
        sa.Column("shipping_address", JSONDocument, nullable=True),
        sa.Column("billing_address", JSONDocument, nullable=True),
        sa.Column("tags", JSONDocument, nullable=False),
        sa.Column("metadata", JSONDocument, nullable=False),
        sa.Column("placed_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("promised_date", sa.Date, nullable=True),
        sa.Column("cart_id", sa.String(_ID), nullable=True),
        # Added by migration 0004: PlaceOrder.fingerprint() of the placing command, so that
        # a re-delivery with other content is refused (IdempotencyConflict).
        sa.Column("command_hash", sa.String(72), nullable=True),
        # Added by migration 0008: the carriers' latest estimate of the delivery day.
        sa.Column("expected_date", sa.Date, nullable=True),
        # Idempotent placement: one order per channel and external id.
        sa.UniqueConstraint("channel", "external_id"),
        sa.Index(f"ix_{prefix}orders_customer_id", "customer_id", "placed_at"),
        sa.Index(f"ix_{prefix}orders_status", "status", "placed_at"),
        # (placed_at, id): keyset paging of listings is one range scan per page.
        sa.Index(f"ix_{prefix}orders_placed_at", "placed_at", "id"),
        schema=schema,
    )
    order_lines = sa.Table(
        f"{prefix}order_lines", md,
        sa.Column("order_id", sa.String(_ID), sa.ForeignKey(fk("orders", "id")),
                  primary_key=True),
        sa.Column("line_id", sa.String(_ID), primary_key=True),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("sku", sa.String(_ID), nullable=False),
        sa.Column("quantity", sa.Integer, nullable=False),
        sa.Column("unit_price", DecimalText, nullable=False),
        # Added by migration 0005: units cancelled since (line cancellation, short close).
        sa.Column("cancelled_quantity", sa.Integer, nullable=False, server_default="0"),
        sa.CheckConstraint("quantity > 0", name="quantity_positive"),
        schema=schema,
    )
    order_holds = sa.Table(
        f"{prefix}order_holds", md,
        sa.Column("order_id", sa.String(_ID), sa.ForeignKey(fk("orders", "id")),
                  primary_key=True),
        sa.Column("position", sa.Integer, primary_key=True),
        sa.Column("code", sa.String(_ID), nullable=False),
        sa.Column("reason", sa.String(_TEXT), nullable=False),
        sa.Column("placed_at", UTCDateTime, nullable=False),
        sa.Column("released_at", UTCDateTime, nullable=True),
        schema=schema,
    )
    fulfillment_orders = sa.Table(
        f"{prefix}fulfillment_orders", md,
        sa.Column("id", sa.String(_ID), primary_key=True),
        sa.Column("order_id", sa.String(_ID), sa.ForeignKey(fk("orders", "id")),
                  nullable=False),
        sa.Column("location", sa.String(_ID), sa.ForeignKey(fk("locations", "code")),
                  nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("rejection_reason", sa.String(_TEXT), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        # Shipments moved to their own table in migration 0008.
        # Added by migration 0005: the day whose daily-capacity slot it holds, if any.
        sa.Column("capacity_day", sa.Date, nullable=True),
        # Added by migration 0014: when a pickup was ready, and its collection deadline.
        sa.Column("ready_at", UTCDateTime, nullable=True),
        sa.Column("collect_by", UTCDateTime, nullable=True),
        sa.Index(f"ix_{prefix}fulfillment_orders_location_status", "location", "status"),
        sa.Index(f"ix_{prefix}fulfillment_orders_status_collect_by", "status", "collect_by"),
        sa.Index(f"ix_{prefix}fulfillment_orders_order_id", "order_id"),
        schema=schema,
    )
    fulfillment_order_lines = sa.Table(
        f"{prefix}fulfillment_order_lines", md,
        sa.Column("fulfillment_order_id", sa.String(_ID),
                  sa.ForeignKey(fk("fulfillment_orders", "id")), primary_key=True),
        sa.Column("line_id", sa.String(_ID), primary_key=True),
        sa.Column("sku", sa.String(_ID), nullable=False),
        sa.Column("quantity", sa.Integer, nullable=False),
        sa.CheckConstraint("quantity > 0", name="quantity_positive"),
        schema=schema,
    )
    reservations = sa.Table(
        f"{prefix}reservations", md,
        sa.Column("id", sa.String(_ID), primary_key=True),
        sa.Column("order_id", sa.String(_ID), nullable=False),
        sa.Column("line_id", sa.String(_ID), nullable=False),
        sa.Column("fulfillment_order_id", sa.String(_ID), nullable=True),
        sa.Column("location", sa.String(_ID), nullable=False),
        sa.Column("sku", sa.String(_ID), nullable=False),
        sa.Column("quantity", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("expires_at", UTCDateTime, nullable=True),
        sa.ForeignKeyConstraint(["location", "sku"],
                                [fk("stock_items", "location"), fk("stock_items", "sku")]),
        sa.CheckConstraint("quantity > 0", name="quantity_positive"),
        sa.Index(f"ix_{prefix}reservations_order_id", "order_id"),
        sa.Index(f"ix_{prefix}reservations_fulfillment_order_id", "fulfillment_order_id"),
        schema=schema,
    )
    inventory_ledger = sa.Table(
        f"{prefix}inventory_ledger", md,
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("location", sa.String(_ID), nullable=False),
        sa.Column("sku", sa.String(_ID), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("on_hand_delta", sa.Integer, nullable=False),
        sa.Column("reserved_delta", sa.Integer, nullable=False),
        sa.Column("reference", sa.String(_TEXT), nullable=False),
        sa.Column("idempotency_key", sa.String(_ID), nullable=True),
        sa.Column("occurred_at", UTCDateTime, nullable=False),
        # A retried movement with the same key can never be applied twice, even concurrently.
        # Its leading (location, sku) also serves every read of one stock row's history
        # (decision 52: a second index on just those columns was dropped).
        sa.Index(f"ux_{prefix}inventory_ledger_idempotency", "location", "sku", "kind",
                 "idempotency_key", unique=True),
        schema=schema,
    )
    outbox = sa.Table(
        f"{prefix}outbox", md,
        sa.Column("seq", BigId, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(_ID), nullable=False, unique=True),
        sa.Column("event_type", sa.String(_ID), nullable=False),
        sa.Column("order_id", sa.String(_ID), nullable=True),
        sa.Column("payload", JSONDocument, nullable=False),
        sa.Column("occurred_at", UTCDateTime, nullable=False),
        sa.Column("dispatched_at", UTCDateTime, nullable=True),
        # A dispatcher leases pending rows until this time; after it, others may take them.
        sa.Column("claimed_until", UTCDateTime, nullable=True),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("last_error", sa.Text, nullable=True),
        # Set when the event failed too often: dispatch passes over it (and the later events
        # of its order) until an operator retries it; a skipped event keeps it and is
        # marked dispatched.
        sa.Column("parked_at", UTCDateTime, nullable=True),
        sa.Index(f"ix_{prefix}outbox_order_id", "order_id", "seq"),
        sa.Index(f"ix_{prefix}outbox_pending", "seq",
                 postgresql_where=sa.text("dispatched_at IS NULL"),
                 sqlite_where=sa.text("dispatched_at IS NULL")),
        schema=schema,
    )
    routing_decisions = sa.Table(
        f"{prefix}routing_decisions", md,
        # Write order: decisions made at the same clock time (replays) keep their sequence.
        sa.Column("seq", BigId, primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(_ID), nullable=False, unique=True),
        # No foreign key: a new order's decision is written before the order row itself.
        sa.Column("order_id", sa.String(_ID), nullable=False),
        sa.Column("decided_at", UTCDateTime, nullable=False),
        sa.Column("strategy", sa.String(_ID), nullable=False),
        sa.Column("solver", sa.String(32), nullable=False),
        sa.Column("cost", sa.Float, nullable=False),
        sa.Column("payload", JSONDocument, nullable=False),
        sa.Index(f"ix_{prefix}routing_decisions_order_id", "order_id", "decided_at"),
        schema=schema,
    )
    location_load = sa.Table(
        f"{prefix}location_load", md,
        sa.Column("location", sa.String(_ID), sa.ForeignKey(fk("locations", "code")),
                  primary_key=True),
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("fulfillment_orders", sa.Integer, nullable=False),
        sa.CheckConstraint("fulfillment_orders >= 0", name="load_non_negative"),
        schema=schema,
    )
    soft_reservations = sa.Table(
        f"{prefix}soft_reservations", md,
        sa.Column("id", sa.String(_ID), primary_key=True),
        sa.Column("cart_id", sa.String(_ID), nullable=False),
        sa.Column("location", sa.String(_ID), nullable=False),
        sa.Column("sku", sa.String(_ID), nullable=False),
        sa.Column("quantity", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("expires_at", UTCDateTime, nullable=False),
        sa.Column("ended_at", UTCDateTime, nullable=True),
        sa.ForeignKeyConstraint(["location", "sku"],
                                [fk("stock_items", "location"), fk("stock_items", "sku")]),
        sa.CheckConstraint("quantity > 0", name="quantity_positive"),
        sa.Index(f"ix_{prefix}soft_reservations_cart_id", "cart_id"),
        sa.Index(f"ix_{prefix}soft_reservations_status_expires", "status", "expires_at"),
        schema=schema,
    )
    payment_transactions, payment_entries = _payment_tables(md, prefix, schema, fk)
    shipments = sa.Table(
        f"{prefix}shipments", md,
        sa.Column("id", sa.String(_ID), primary_key=True),
        sa.Column("order_id", sa.String(_ID), sa.ForeignKey(fk("orders", "id")),
                  nullable=False),
        sa.Column("fulfillment_order_id", sa.String(_ID),
                  sa.ForeignKey(fk("fulfillment_orders", "id")), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("carrier", sa.String(_ID), nullable=False),
        sa.Column("service", sa.String(_ID), nullable=False),
        sa.Column("tracking_number", sa.String(_TEXT), nullable=False),
        # [{line_id, sku, quantity}]: what of the fulfilment order this shipment carries.
        sa.Column("lines", JSONDocument, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=True),
        sa.Column("shipped_at", UTCDateTime, nullable=True),
        sa.Column("delivered_at", UTCDateTime, nullable=True),
        sa.Column("expected_date", sa.Date, nullable=True),
        sa.Index(f"ix_{prefix}shipments_order_id", "order_id"),
        schema=schema,
    )
    parcels = sa.Table(
        f"{prefix}parcels", md,
        sa.Column("id", sa.String(_ID), primary_key=True),
        sa.Column("shipment_id", sa.String(_ID), sa.ForeignKey(fk("shipments", "id")),
                  nullable=False),
        # The order is repeated so one query loads every parcel of an order.
        sa.Column("order_id", sa.String(_ID), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("carrier", sa.String(_ID), nullable=False),
        sa.Column("weight_grams", sa.Integer, nullable=False),
        sa.Column("dimensions", JSONDocument, nullable=True),
        sa.Column("contents", JSONDocument, nullable=False),
        sa.Column("label_status", sa.String(16), nullable=False),
        # The key a label is bought under, stored (committed) before the carrier is called.
        sa.Column("label_key", sa.String(_ID), nullable=True, unique=True),
        sa.Column("label_attempts", sa.Integer, nullable=False),
        sa.Column("label_claimed_at", UTCDateTime, nullable=True),
        sa.Column("label_id", sa.String(_TEXT), nullable=True),
        sa.Column("tracking_number", sa.String(_TEXT), nullable=False),
        sa.Column("label_error", sa.String(_TEXT), nullable=False),
        sa.Column("tracking_status", sa.String(32), nullable=True),
        sa.Column("tracking_at", UTCDateTime, nullable=True),
        sa.Column("delivered_at", UTCDateTime, nullable=True),
        sa.Column("expected_date", sa.Date, nullable=True),
        sa.CheckConstraint("weight_grams >= 0", name="weight_non_negative"),
        sa.Index(f"ix_{prefix}parcels_order_id", "order_id"),
        sa.Index(f"ix_{prefix}parcels_carrier_tracking", "carrier", "tracking_number"),
        schema=schema,
    )
    tracking_events = sa.Table(
        f"{prefix}tracking_events", md,
        sa.Column("seq", BigId, primary_key=True, autoincrement=True),
        sa.Column("carrier", sa.String(_ID), nullable=False),
        sa.Column("tracking_number", sa.String(_TEXT), nullable=False),
        sa.Column("event_id", sa.String(_TEXT), nullable=False),
        sa.Column("parcel_id", sa.String(_ID), nullable=False),
        sa.Column("order_id", sa.String(_ID), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("occurred_at", UTCDateTime, nullable=False),
        sa.Column("description", sa.String(_TEXT), nullable=False),
        sa.Column("location", sa.String(_TEXT), nullable=False),
        sa.Column("expected_date", sa.Date, nullable=True),
        sa.Column("recorded_at", UTCDateTime, nullable=False),
        # One row per carrier event and parcel, however often the carrier sends it.
        sa.UniqueConstraint("carrier", "event_id", "parcel_id"),
        sa.Index(f"ix_{prefix}tracking_events_parcel_id", "parcel_id", "occurred_at"),
        schema=schema,
    )
    label_documents = sa.Table(
        f"{prefix}label_documents", md,
        sa.Column("label_key", sa.String(_ID), primary_key=True),
        sa.Column("parcel_id", sa.String(_ID), sa.ForeignKey(fk("parcels", "id")),
                  nullable=False),
        sa.Column("media_type", sa.String(_ID), nullable=False),
        sa.Column("content", sa.LargeBinary, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Index(f"ix_{prefix}label_documents_parcel_id", "parcel_id"),
        schema=schema,
    )
    return Tables(
        metadata=md, prefix=prefix, locations=locations, stock_items=stock_items,
        supplies=supplies, orders=orders, order_lines=order_lines, order_holds=order_holds,
        fulfillment_orders=fulfillment_orders, fulfillment_order_lines=fulfillment_order_lines,
        reservations=reservations, inventory_ledger=inventory_ledger, outbox=outbox,
        routing_decisions=routing_decisions, location_load=location_load,
        soft_reservations=soft_reservations, payment_transactions=payment_transactions,
        payment_entries=payment_entries, shipments=shipments, parcels=parcels,
        tracking_events=tracking_events, label_documents=label_documents,
        **_invoice_tables(md, prefix, schema),
        order_edits=_edit_table(md, prefix, schema, fk),
        **_monitor_tables(md, prefix, schema),
        returns=_return_table(md, prefix, schema, fk),
        **_relay_tables(md, prefix, schema),
        **_dropship_tables(md, prefix, schema, fk),
        **_channel_tables(md, prefix, schema, fk),
        **_notification_tables(md, prefix, schema),
    )


def _return_table(md: sa.MetaData, prefix: str, schema: str | None,
                  fk: Callable[[str, str], str]) -> sa.Table:
    """Returns (migration 0012): each return's status and where it is searched by; the rest
    of the aggregate (lines, receipts, inspections, label, refund, exchange) is one JSON
    document written with the row, under the row's lock."""
    return sa.Table(
        f"{prefix}returns", md,
        sa.Column("id", sa.String(_ID), primary_key=True),
        sa.Column("order_id", sa.String(_ID), sa.ForeignKey(fk("orders", "id")),
                  nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("channel", sa.String(_ID), nullable=False),
        sa.Column("location", sa.String(_ID), nullable=True),
        sa.Column("policy", sa.String(_ID), nullable=False),
        # A request retried with the same key finds the return created first.
        sa.Column("idempotency_key", sa.String(_ID), nullable=True),
        sa.Column("document", JSONDocument, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("order_id", "idempotency_key"),
        sa.Index(f"ix_{prefix}returns_order_id", "order_id", "created_at"),
        sa.Index(f"ix_{prefix}returns_status", "status", "updated_at"),
        schema=schema,
    )


def _relay_tables(md: sa.MetaData, prefix: str, schema: str | None) -> dict[str, sa.Table]:
    """What each event relay delivered to its broker (migration 0013): a row per relay (its
    workers' claims are serialised on it; batch failures are recorded there) and a row per
    event the relay claimed, with whether its broker confirmed it."""
    relays = sa.Table(
        f"{prefix}relays", md,
        sa.Column("relay", sa.String(_ID), primary_key=True),
        # Batches in a row that failed whole (broker down), and the last such error.
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("last_failure_at", UTCDateTime, nullable=True),
        sa.Column("last_delivery_at", UTCDateTime, nullable=True),
        schema=schema,
    )
    deliveries = sa.Table(
        f"{prefix}relay_deliveries", md,
        sa.Column("relay", sa.String(_ID), primary_key=True),
        sa.Column("seq", BigId, primary_key=True, autoincrement=False),
        # A worker of the relay leases the event until this time; after it, others may.
        sa.Column("claimed_until", UTCDateTime, nullable=True),
        sa.Column("delivered_at", UTCDateTime, nullable=True),
        # Publishes the broker did not confirm; after too many the event is parked.
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("parked_at", UTCDateTime, nullable=True),
        schema=schema,
    )
    return {"relays": relays, "relay_deliveries": deliveries}


def _dropship_tables(md: sa.MetaData, prefix: str, schema: str | None,
                     fk: Callable[[str, str], str]) -> dict[str, sa.Table]:
    """Dropship (migration 0015): purchase orders, one per fulfilment order at a supplier,
    with their sending claim; and every supplier message processed (once each)."""
    purchase_orders = sa.Table(
        f"{prefix}purchase_orders", md,
        sa.Column("id", sa.String(_ID), primary_key=True),
        sa.Column("supplier", sa.String(_ID), nullable=False),
        sa.Column("order_id", sa.String(_ID), sa.ForeignKey(fk("orders", "id")),
                  nullable=False),
        sa.Column("fulfillment_order_id", sa.String(_ID),
                  sa.ForeignKey(fk("fulfillment_orders", "id")), nullable=False, unique=True),
        sa.Column("status", sa.String(24), nullable=False),
        # [{line_id, sku, quantity}] ordered, and reported shipped by ship notices.
        sa.Column("lines", JSONDocument, nullable=False),
        sa.Column("shipped", JSONDocument, nullable=False),
        # The key a send is made under, stored (committed) before the connector is called.
        sa.Column("idempotency_key", sa.String(_ID), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("claimed_at", UTCDateTime, nullable=True),
        sa.Column("sent_at", UTCDateTime, nullable=True),
        sa.Column("supplier_reference", sa.String(_TEXT), nullable=False),
        sa.Column("error", sa.String(_TEXT), nullable=False),
        sa.Column("document_json", sa.Text, nullable=False),
        sa.Column("document_html", sa.Text, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.Index(f"ix_{prefix}purchase_orders_supplier_status", "supplier", "status"),
        schema=schema,
    )
    supplier_messages = sa.Table(
        f"{prefix}supplier_messages", md,
        sa.Column("supplier", sa.String(_ID), primary_key=True),
        sa.Column("message_id", sa.String(_ID), primary_key=True),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("purchase_order_id", sa.String(_ID), nullable=True),
        # applied, or refused (with the reason in error): either way never processed again.
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("error", sa.String(_TEXT), nullable=False),
        sa.Column("received_at", UTCDateTime, nullable=False),
        schema=schema,
    )
    return {"purchase_orders": purchase_orders, "supplier_messages": supplier_messages}


def _channel_tables(md: sa.MetaData, prefix: str, schema: str | None,
                    fk: Callable[[str, str], str]) -> dict[str, sa.Table]:
    """Channel webhooks seen and status pushed back to channels (migration 0016)."""
    deliveries = sa.Table(
        f"{prefix}channel_deliveries", md,
        # A channel's webhook delivery id, seen once: a re-delivery returns its order.
        sa.Column("connector", sa.String(_ID), primary_key=True),
        sa.Column("delivery_id", sa.String(_ID), primary_key=True),
        sa.Column("order_id", sa.String(_ID), sa.ForeignKey(fk("orders", "id")),
                  nullable=False),
        sa.Column("received_at", UTCDateTime, nullable=False),
        schema=schema,
    )
    updates = sa.Table(
        f"{prefix}channel_status_updates", md,
        sa.Column("id", sa.String(_ID), primary_key=True),
        sa.Column("connector", sa.String(_ID), nullable=False),
        sa.Column("order_id", sa.String(_ID), sa.ForeignKey(fk("orders", "id")),
                  nullable=False),
        sa.Column("channel", sa.String(_ID), nullable=False),
        sa.Column("external_id", sa.String(_ID), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        # {carrier, tracking_number, reason...}: what the channel is told with the status.
        sa.Column("details", JSONDocument, nullable=False),
        # What the update reports (an event id, or "accepted"): one update per key.
        sa.Column("key", sa.String(_ID), nullable=False, unique=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", UTCDateTime, nullable=False),
        sa.Column("sent_at", UTCDateTime, nullable=True),
        sa.Column("last_error", sa.String(_TEXT), nullable=False),
        sa.Index(f"ix_{prefix}channel_status_updates_due", "sent_at", "next_attempt_at"),
        sa.Index(f"ix_{prefix}channel_status_updates_order_id", "order_id", "created_at"),
        schema=schema,
    )
    return {"channel_deliveries": deliveries, "channel_status_updates": updates}


def _edit_table(md: sa.MetaData, prefix: str, schema: str | None,
                fk: Callable[[str, str], str]) -> sa.Table:
    """Order edits (migration 0010): each staged edit, its changes, status, channel and
    actor; once committed, what it did."""
    return sa.Table(
        f"{prefix}order_edits", md,
        sa.Column("id", sa.String(_ID), primary_key=True),
        sa.Column("order_id", sa.String(_ID), sa.ForeignKey(fk("orders", "id")),
                  nullable=False),
        sa.Column("channel", sa.String(_ID), nullable=False),
        sa.Column("actor", sa.String(_TEXT), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        # The order version the edit was begun on: it commits on that version only.
        sa.Column("base_version", sa.Integer, nullable=False),
        # The staged changes: {quantities, add_lines, shipping_address, delivery}.
        sa.Column("changes", JSONDocument, nullable=False),
        sa.Column("idempotency_key", sa.String(_ID), nullable=True),
        # {staging key: fingerprint of what it staged}.
        sa.Column("stage_keys", JSONDocument, nullable=False),
        # An edit submitted whole: the fingerprint of its request, for repeats.
        sa.Column("fingerprint", sa.String(72), nullable=True),
        # Once committed: the EditSummary (what changed, routing, payment difference).
        sa.Column("summary", JSONDocument, nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.Column("expires_at", UTCDateTime, nullable=False),
        sa.Column("committed_at", UTCDateTime, nullable=True),
        sa.Index(f"ix_{prefix}order_edits_order_id", "order_id", "created_at"),
        sa.Index(f"ix_{prefix}order_edits_status_expires", "status", "expires_at"),
        schema=schema,
    )


def _payment_tables(md: sa.MetaData, prefix: str, schema: str | None,
                    fk: Callable[[str, str], str]) -> tuple[sa.Table, sa.Table]:
    """The payment ledger (migration 0007): one row per tender, and its append-only
    entries. Amounts are derived from the entries, never stored on the transaction."""
    transactions = sa.Table(
        f"{prefix}payment_transactions", md,
        sa.Column("id", sa.String(_ID), primary_key=True),
        # No foreign key: a new order's tenders are written before the order row itself.
        sa.Column("order_id", sa.String(_ID), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("provider", sa.String(_ID), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("amount", DecimalText, nullable=False),
        sa.Column("method_token", sa.String(_TEXT), nullable=True),
        # The provider's id of the payment, written once by its first authorisation: how a
        # webhook finds its transaction.
        sa.Column("provider_reference", sa.String(_TEXT), nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("order_id", "position"),
        sa.Index(f"ix_{prefix}payment_transactions_reference", "provider",
                 "provider_reference"),
        schema=schema,
    )
    entries = sa.Table(
        f"{prefix}payment_entries", md,
        sa.Column("seq", BigId, primary_key=True, autoincrement=True),
        sa.Column("transaction_id", sa.String(_ID),
                  sa.ForeignKey(fk("payment_transactions", "id")), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("amount", DecimalText, nullable=False),
        sa.Column("idempotency_key", sa.String(_ID), nullable=False),
        sa.Column("provider_reference", sa.String(_TEXT), nullable=False),
        sa.Column("final", sa.Boolean, nullable=False),
        sa.Column("error_class", sa.String(32), nullable=True),
        sa.Column("error_message", sa.String(_TEXT), nullable=False),
        sa.Column("expires_at", UTCDateTime, nullable=True),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("occurred_at", UTCDateTime, nullable=False),
        # One request and one result per key: a key can never be asked or answered twice.
        sa.Index(f"ux_{prefix}payment_entries_key", "transaction_id", "idempotency_key",
                 "outcome", unique=True),
        schema=schema,
    )
    return transactions, entries


def _invoice_tables(md: sa.MetaData, prefix: str, schema: str | None) -> dict[str, sa.Table]:
    """Invoices and credit notes, their numbering counters and the journal (migration
    0009). A document is written once and never changed; its lines and parties are one
    JSON document, its totals columns for queries."""
    invoices = sa.Table(
        f"{prefix}invoices", md,
        sa.Column("id", sa.String(_ID), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("number", sa.String(_ID), nullable=False, unique=True),
        sa.Column("series", sa.String(32), nullable=False),
        sa.Column("year", sa.Integer, nullable=False),
        sa.Column("sequence", sa.Integer, nullable=False),
        sa.Column("order_id", sa.String(_ID), nullable=False),
        sa.Column("external_id", sa.String(_ID), nullable=False),
        sa.Column("channel", sa.String(_ID), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("issued_at", UTCDateTime, nullable=False),
        sa.Column("issue_date", sa.Date, nullable=False),
        # The shipment (invoice) or the refund's payment key (credit note): one document
        # per order, kind and source, however often the event behind it is delivered.
        sa.Column("source", sa.String(_ID), nullable=False),
        sa.Column("shipment_id", sa.String(_ID), nullable=True),
        sa.Column("net", DecimalText, nullable=False),
        sa.Column("vat", DecimalText, nullable=False),
        sa.Column("gross", DecimalText, nullable=False),
        # {seller, buyer, lines, credits, mirrors, reason}
        sa.Column("document", JSONDocument, nullable=False),
        sa.UniqueConstraint("series", "year", "sequence"),
        sa.UniqueConstraint("order_id", "kind", "source"),
        sa.Index(f"ix_{prefix}invoices_issue_date", "issue_date"),
        schema=schema,
    )
    # The last number given per series and year, updated in the transaction that writes
    # the document: a rolled-back document gives its number back, so numbers have no gaps.
    counters = sa.Table(
        f"{prefix}document_counters", md,
        sa.Column("series", sa.String(32), primary_key=True),
        sa.Column("year", sa.Integer, primary_key=True),
        sa.Column("last_number", sa.Integer, nullable=False),
        schema=schema,
    )
    postings = sa.Table(
        f"{prefix}journal_postings", md,
        sa.Column("seq", BigId, primary_key=True, autoincrement=True),
        sa.Column("posting_key", sa.String(_ID), nullable=False, unique=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("posted_at", UTCDateTime, nullable=False),
        sa.Column("posted_on", sa.Date, nullable=False),
        sa.Column("document_number", sa.String(_ID), nullable=False),
        sa.Column("order_id", sa.String(_ID), nullable=False),
        sa.Column("external_id", sa.String(_ID), nullable=False),
        sa.Column("channel", sa.String(_ID), nullable=False),
        sa.Column("account", sa.String(_ID), nullable=False),
        sa.Column("counter_account", sa.String(_ID), nullable=False),
        sa.Column("vat_rate", DecimalText, nullable=True),
        sa.Column("net", DecimalText, nullable=False),
        sa.Column("vat", DecimalText, nullable=False),
        sa.Column("gross", DecimalText, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("reference", sa.String(_TEXT), nullable=False),
        sa.Index(f"ix_{prefix}journal_postings_posted_on", "posted_on", "seq"),
        schema=schema,
    )
    return {"invoices": invoices, "document_counters": counters,
            "journal_postings": postings}


def _monitor_tables(md: sa.MetaData, prefix: str, schema: str | None) -> dict[str, sa.Table]:
    """Order monitoring (migration 0011): each breach a sweep raised, under its key, until
    it is cleared; and the sweep's lease where no advisory lock exists (SQLite)."""
    monitor_breaches = sa.Table(
        f"{prefix}monitor_breaches", md,
        # kind, subject and what started the breach: a sweep raises each key once.
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("order_id", sa.String(_ID), nullable=True),
        sa.Column("subject", sa.String(_TEXT), nullable=False),
        sa.Column("since", UTCDateTime, nullable=False),
        sa.Column("detail", sa.String(_TEXT), nullable=False),
        sa.Column("raised_at", UTCDateTime, nullable=False),
        sa.Column("cleared_at", UTCDateTime, nullable=True),
        sa.Index(f"ix_{prefix}monitor_breaches_open", "cleared_at", "kind"),
        sa.Index(f"ix_{prefix}monitor_breaches_order_id", "order_id"),
        schema=schema,
    )
    sweep_leases = sa.Table(
        f"{prefix}sweep_leases", md,
        sa.Column("name", sa.String(_ID), primary_key=True),
        sa.Column("holder", sa.String(_ID), nullable=False),
        sa.Column("acquired_at", UTCDateTime, nullable=False),
        sa.Column("expires_at", UTCDateTime, nullable=False),
        schema=schema,
    )
    return {"monitor_breaches": monitor_breaches, "sweep_leases": sweep_leases}


def _notification_tables(md: sa.MetaData, prefix: str,
                         schema: str | None) -> dict[str, sa.Table]:
    """Customer notifications (migration 0017): each message, stored under its key before
    it is sent, with its outcome; and each customer's choice of medium per sales channel."""
    notifications = sa.Table(
        f"{prefix}notifications", md,
        sa.Column("id", sa.String(_ID), primary_key=True),
        # event, kind, notifier, recipient: a message is sent once per key.
        sa.Column("key", sa.String(255), nullable=False, unique=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("event_type", sa.String(_ID), nullable=False),
        sa.Column("event_id", sa.String(_ID), nullable=False),
        sa.Column("order_id", sa.String(_ID), nullable=True),
        sa.Column("channel", sa.String(_ID), nullable=False),
        sa.Column("notifier", sa.String(_ID), nullable=False),
        sa.Column("media", sa.String(32), nullable=False),
        sa.Column("recipient", sa.String(_TEXT), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("subject", sa.String(_TEXT), nullable=False),
        # The rendered message, so a retry sends what the first attempt would have.
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("next_attempt_at", UTCDateTime, nullable=True),
        sa.Column("sent_at", UTCDateTime, nullable=True),
        sa.Column("provider_message_id", sa.String(_TEXT), nullable=True),
        sa.Column("last_error", sa.String(_TEXT), nullable=False),
        sa.Index(f"ix_{prefix}notifications_due", "status", "next_attempt_at"),
        sa.Index(f"ix_{prefix}notifications_order_id", "order_id"),
        schema=schema,
    )
    preferences = sa.Table(
        f"{prefix}notification_preferences", md,
        sa.Column("customer_id", sa.String(_ID), primary_key=True),
        sa.Column("channel", sa.String(_ID), primary_key=True),
        sa.Column("media", sa.String(32), nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        schema=schema,
    )
    return {"notifications": notifications, "notification_preferences": preferences}
