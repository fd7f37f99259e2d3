"""The order repository: orders with their lines, holds and fulfilment orders."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import attrs
import cattrs
import sqlalchemy as sa

from omskit.domain.errors import ConcurrencyConflict, FulfillmentOrderNotFound, OrderNotFound
from omskit.domain.lifecycle import FulfillmentStatus, OrderStatus
from omskit.domain.order import FulfillmentOrder, Order, OrderLine
from omskit.domain.shipping import Dimensions, LabelStatus, Parcel, Shipment, TrackingStatus
from omskit.domain.values import Address, Customer, DeliveryMethod, Hold, LineQuantity
from omskit.serialization import structure_optional
from omskit.store.backends import StoreBackend, backend_for
from omskit.store.pending import PendingRows
from omskit.store.statements import Statements
from omskit.store.tables import Tables

Row = dict[str, Any]

#: Fulfilment statuses in which a fulfilment order can have shipments (packed or later; a
#: pickup's collections are shipments of a ready fulfilment order).
_MAY_HAVE_SHIPMENTS = frozenset({FulfillmentStatus.PACKED.value, FulfillmentStatus.SHIPPED.value,
                                 FulfillmentStatus.DELIVERED.value,
                                 FulfillmentStatus.CANCELLED.value,
                                 FulfillmentStatus.READY_FOR_PICKUP.value})


def shipment_row(order_id: str, fulfillment_order_id: str, position: int, s: Shipment,
                 converter: cattrs.Converter) -> Row:
    """The ``shipments`` row of a shipment."""
    return {"id": s.id, "order_id": order_id, "fulfillment_order_id": fulfillment_order_id,
            "position": position, "carrier": s.carrier, "service": s.service,
            "tracking_number": s.tracking_number,
            "lines": converter.unstructure(list(s.lines)), "created_at": s.created_at,
            "shipped_at": s.shipped_at, "delivered_at": s.delivered_at,
            "expected_date": s.expected_date}


def parcel_row(order_id: str, carrier: str, position: int, p: Parcel,
               converter: cattrs.Converter) -> Row:
    """The ``parcels`` row of a parcel."""
    return {"id": p.id, "shipment_id": p.shipment_id, "order_id": order_id,
            "position": position, "carrier": carrier, "weight_grams": p.weight_grams,
            "dimensions": converter.unstructure(p.dimensions),
            "contents": converter.unstructure(list(p.contents)),
            "label_status": p.label_status.value, "label_key": p.label_key,
            "label_attempts": p.label_attempts, "label_claimed_at": p.label_claimed_at,
            "label_id": p.label_id, "tracking_number": p.tracking_number,
            "label_error": p.label_error,
            "tracking_status": p.tracking_status.value if p.tracking_status else None,
            "tracking_at": p.tracking_at, "delivered_at": p.delivered_at,
            "expected_date": p.expected_date}


def read_parcel(r: Any, converter: cattrs.Converter) -> Parcel:
    """A parcel from its ``parcels`` row."""
    return Parcel(
        id=r["id"], shipment_id=r["shipment_id"], weight_grams=r["weight_grams"],
        dimensions=structure_optional(converter, r["dimensions"], Dimensions),
        contents=tuple(converter.structure(r["contents"], list[LineQuantity])),
        label_status=LabelStatus(r["label_status"]), label_key=r["label_key"],
        label_attempts=r["label_attempts"], label_claimed_at=r["label_claimed_at"],
        label_id=r["label_id"], tracking_number=r["tracking_number"],
        label_error=r["label_error"],
        tracking_status=(TrackingStatus(r["tracking_status"]) if r["tracking_status"]
                         else None),
        tracking_at=r["tracking_at"], delivered_at=r["delivered_at"],
        expected_date=r["expected_date"])


@attrs.frozen(kw_only=True)
class OrderQuery:
    """Filters for :meth:`OrderRepository.search`; every filter given must match."""

    customer_id: str | None = None
    channel: str | None = None
    #: The channel's own id of the order (with ``channel``, at most one order matches).
    external_id: str | None = None
    statuses: tuple[OrderStatus, ...] = ()
    placed_from: datetime | None = None  # inclusive
    placed_to: datetime | None = None  # exclusive
    limit: int = 50
    offset: int = 0
    #: Keyset paging: only orders after this ``(placed_at, id)`` in the listing's order
    #: (newest first), i.e. the last summary of the previous page. Unlike ``offset``, the
    #: database does not walk past the earlier pages, so every page costs the same.
    after: tuple[datetime, str] | None = None


@attrs.frozen(kw_only=True)
class OrderSummary:
    """One row of an order listing."""

    id: str
    channel: str
    external_id: str
    status: OrderStatus
    customer_id: str
    currency: str
    total: Decimal
    placed_at: datetime
    updated_at: datetime


class OrderRepository:
    """Loads and saves :class:`Order` aggregates on one connection.

    ``save`` writes only what changed since the order was loaded or added, and checks the
    version so that a concurrent change raises :class:`ConcurrencyConflict`.
    """

    def __init__(self, conn: sa.Connection, tables: Tables, converter: cattrs.Converter,
                 statements: Statements | None = None,
                 pending: PendingRows | None = None,
                 backend: StoreBackend | None = None) -> None:
        self._conn = conn
        self._t = tables
        self._c = converter
        self._s = statements or Statements(tables)
        self._backend = backend or backend_for(conn.dialect)
        self._pending = (pending if pending is not None
                         else PendingRows(conn, self._s, self._backend))
        self._snapshots: dict[str, dict[str, dict[Any, Row]]] = {}
        #: Orders added or loaded through this repository, in first-seen order.
        self.seen: dict[str, Order] = {}

    # -- rows ---------------------------------------------------------------------------------

    def _order_row(self, order: Order) -> Row:
        unstructure = self._c.unstructure
        return {
            "id": order.id, "channel": order.channel, "external_id": order.external_id,
            "status": order.status.value, "currency": order.currency,
            "total": order.total.amount, "customer_id": order.customer.id,
            "customer": unstructure(order.customer), "delivery": unstructure(order.delivery),
            "shipping_address": unstructure(order.shipping_address),
            "billing_address": unstructure(order.billing_address),
            "tags": list(order.tags), "metadata": order.metadata,
            "placed_at": order.placed_at, "updated_at": order.updated_at,
            "version": order.version, "promised_date": order.promised_date,
            "cart_id": order.cart_id, "command_hash": order.command_hash,
            "expected_date": order.expected_date,
        }

    def _child_rows(self, order: Order) -> dict[str, dict[Any, Row]]:
        lines = {
            (order.id, x.line_id): {"order_id": order.id, "line_id": x.line_id, "position": i,
                                    "sku": x.sku, "quantity": x.quantity,
                                    "unit_price": x.unit_price,
                                    "cancelled_quantity": x.cancelled_quantity}
            for i, x in enumerate(order.lines)
        }
        holds = {
            (order.id, i): {"order_id": order.id, "position": i, "code": h.code,
                            "reason": h.reason, "placed_at": h.placed_at,
                            "released_at": h.released_at}
            for i, h in enumerate(order.holds)
        }
        fos: dict[Any, Row] = {}
        fo_lines: dict[Any, Row] = {}
        shipments: dict[Any, Row] = {}
        parcels: dict[Any, Row] = {}
        for fo in order.fulfillment_orders:
            fos[fo.id] = {
                "id": fo.id, "order_id": order.id, "location": fo.location,
                "status": fo.status.value, "rejection_reason": fo.rejection_reason,
                "created_at": fo.created_at, "updated_at": fo.updated_at,
                "capacity_day": fo.capacity_day, "ready_at": fo.ready_at,
                "collect_by": fo.collect_by,
            }
            for line in fo.lines:
                fo_lines[(fo.id, line.line_id)] = {
                    "fulfillment_order_id": fo.id, "line_id": line.line_id, "sku": line.sku,
                    "quantity": line.quantity}
            for i, shipment in enumerate(fo.shipments):
                shipments[shipment.id] = shipment_row(order.id, fo.id, i, shipment,
                                                      self._c)
                for j, parcel in enumerate(shipment.parcels):
                    parcels[parcel.id] = parcel_row(order.id, shipment.carrier, j, parcel,
                                                    self._c)
        # Parents before children: the insert order of new rows follows this dict.
        return {"order_lines": lines, "order_holds": holds, "fulfillment_orders": fos,
                "fulfillment_order_lines": fo_lines, "shipments": shipments,
                "parcels": parcels}

    # -- writes -------------------------------------------------------------------------------

    def add(self, order: Order) -> None:
        """Insert a new order with all its parts (at the unit of work's next flush)."""
        t = self._t
        self._pending.add(t.orders, (self._order_row(order),))
        children = self._child_rows(order)
        for name, rows in children.items():
            if rows:
                self._pending.add(getattr(t, name), rows.values())
        self._snapshots[order.id] = children
        self.seen[order.id] = order

    def save(self, order: Order) -> None:
        """Write the changes made to a loaded or added order; bump its version."""
        self._pending.flush()
        t = self._t
        row = self._order_row(order)
        row["version"] = order.version + 1
        result = self._conn.execute(
            t.orders.update()
            .where(t.orders.c.id == order.id, t.orders.c.version == order.version)
            .values({k: v for k, v in row.items()
                     if k not in ("id", "channel", "external_id", "command_hash")})
        )
        if result.rowcount != 1:
            raise ConcurrencyConflict("order", order.id)
        order.version += 1
        before = self._snapshots.get(order.id, {})
        after = self._child_rows(order)
        for name, rows in after.items():
            table = getattr(t, name)
            old = before.get(name, {})
            pk = [c.name for c in table.primary_key.columns]
            # Gone: a fulfilment order line a line cancellation took every unit of.
            for key, r in old.items():
                if key not in rows:
                    self._conn.execute(
                        table.delete().where(*(table.c[name] == r[name] for name in pk)))
            new_rows = [r for key, r in rows.items() if key not in old]
            if new_rows:
                self._conn.execute(table.insert(), new_rows)
            for key, r in rows.items():
                if key in old and old[key] != r:
                    self._conn.execute(
                        table.update()
                        .where(*(table.c[name] == r[name] for name in pk))
                        .values({k: v for k, v in r.items() if k not in pk})
                    )
        self._snapshots[order.id] = after
        self.seen[order.id] = order

    # -- reads --------------------------------------------------------------------------------

    def id_for_external(self, channel: str, external_id: str) -> str | None:
        """The id of the order placed as ``(channel, external_id)``, if any."""
        found = self.placed_for_external(channel, external_id)
        return None if found is None else found[0]

    def placed_for_external(self, channel: str,
                            external_id: str) -> tuple[str, str | None] | None:
        """``(id, command hash)`` of the order placed as ``(channel, external_id)``, if any
        (one query: placement reads both at once)."""
        self._pending.flush()
        # The backend's way: it runs before every placement, so SQLite's goes to the driver.
        found = self._backend.rows(self._conn, self._s, self._s.order_id_for_external,
                                   {"ch": channel, "ext": external_id})
        return (found[0][0], found[0][1]) if found else None

    def order_id_for_fulfillment(self, fulfillment_order_id: str) -> str:
        """The id of the order a fulfilment order belongs to."""
        self._pending.flush()
        fo = self._t.fulfillment_orders.c
        found = self._conn.execute(
            sa.select(fo.order_id).where(fo.id == fulfillment_order_id)
        ).scalar_one_or_none()
        if found is None:
            raise FulfillmentOrderNotFound(fulfillment_order_id)
        return str(found)

    def fulfillment_ids_at(self, location: str, statuses: Sequence[str],
                           limit: int) -> list[tuple[str, str]]:
        """``(order id, fulfilment order id)`` of the location's fulfilment orders in
        ``statuses``, oldest first, at most ``limit``."""
        self._pending.flush()
        fo = self._t.fulfillment_orders.c
        return [(str(r[0]), str(r[1])) for r in self._conn.execute(
            sa.select(fo.order_id, fo.id)
            .where(fo.location == location, fo.status.in_(list(statuses)))
            .order_by(fo.created_at, fo.id).limit(limit))]

    def uncollected(self, now: datetime, limit: int) -> list[tuple[str, str]]:
        """``(order id, fulfilment order id)`` of pickups ready and not collected by their
        deadline at ``now``, the earliest deadline first, at most ``limit``."""
        self._pending.flush()
        fo = self._t.fulfillment_orders.c
        return [(str(r[0]), str(r[1])) for r in self._conn.execute(
            sa.select(fo.order_id, fo.id)
            .where(fo.status == "ready_for_pickup", fo.collect_by <= now)
            .order_by(fo.collect_by, fo.id).limit(limit))]

    def get(self, order_id: str, *, for_update: bool = False) -> Order:
        """Load the whole order; ``for_update`` locks its row until the transaction ends."""
        if order_id in self.seen:
            return self.seen[order_id]
        found = self._load([order_id], for_update=for_update)
        if not found:
            raise OrderNotFound(order_id)
        return found[0]

    def get_many(self, order_ids: Sequence[str]) -> list[Order]:
        """Load several whole orders in five queries (unknown ids are left out), in the
        order of ``order_ids``: what a queue of waiting orders is read with."""
        wanted = [i for i in dict.fromkeys(order_ids) if i not in self.seen]
        self._load(wanted)
        return [self.seen[i] for i in order_ids if i in self.seen]

    def _load(self, order_ids: Sequence[str], *, for_update: bool = False) -> list[Order]:
        if not order_ids:
            return []
        self._pending.flush()
        t = self._t
        ids = list(order_ids)
        query = sa.select(t.orders).where(t.orders.c.id.in_(ids))
        if for_update:
            query = query.with_for_update()
        rows = {r["id"]: r for r in self._conn.execute(query).mappings()}
        if not rows:
            return []
        found = list(rows)
        lines: dict[str, list[Any]] = {i: [] for i in found}
        for r in self._conn.execute(
                sa.select(t.order_lines).where(t.order_lines.c.order_id.in_(found))
                .order_by(t.order_lines.c.order_id, t.order_lines.c.position)).mappings():
            lines[r["order_id"]].append(r)
        holds: dict[str, list[Any]] = {i: [] for i in found}
        for r in self._conn.execute(
                sa.select(t.order_holds).where(t.order_holds.c.order_id.in_(found))
                .order_by(t.order_holds.c.order_id, t.order_holds.c.position)).mappings():
            holds[r["order_id"]].append(r)
        fo_rows: dict[str, list[Any]] = {i: [] for i in found}
        fo_lines: dict[str, list[LineQuantity]] = {}
        for r in self._conn.execute(
                sa.select(t.fulfillment_orders)
                .where(t.fulfillment_orders.c.order_id.in_(found))
                .order_by(t.fulfillment_orders.c.created_at,
                          t.fulfillment_orders.c.id)).mappings():
            fo_rows[r["order_id"]].append(r)
            fo_lines[r["id"]] = []
        if fo_lines:
            fl = t.fulfillment_order_lines
            for r in self._conn.execute(
                sa.select(fl).where(fl.c.fulfillment_order_id.in_(list(fo_lines)))
            ).mappings():
                fo_lines[r["fulfillment_order_id"]].append(
                    LineQuantity(line_id=r["line_id"], sku=r["sku"], quantity=r["quantity"]))
        shipments = self._shipments(found, fo_rows)
        orders = []
        for order_id in ids:
            row = rows.get(order_id)
            if row is None:
                continue
            order = self._assemble(row, lines[order_id], holds[order_id], fo_rows[order_id],
                                   fo_lines, shipments)
            self._snapshots[order.id] = self._child_rows(order)
            self.seen[order.id] = order
            orders.append(order)
        return orders

    def _shipments(self, order_ids: Sequence[str],
                   fo_rows: Mapping[str, Sequence[Any]]) -> dict[str, list[Shipment]]:
        """Shipments with their parcels per fulfilment order id, in two queries, read only
        for orders with a fulfilment order that can have one (packed or later)."""
        wanted = [i for i in order_ids
                  if any(r["status"] in _MAY_HAVE_SHIPMENTS for r in fo_rows[i])]
        found: dict[str, list[Shipment]] = defaultdict(list)
        if not wanted:
            return found
        t = self._t
        by_shipment: dict[str, list[Parcel]] = defaultdict(list)
        for r in self._conn.execute(
                sa.select(t.parcels).where(t.parcels.c.order_id.in_(wanted))
                .order_by(t.parcels.c.shipment_id, t.parcels.c.position)).mappings():
            by_shipment[r["shipment_id"]].append(read_parcel(r, self._c))
        for r in self._conn.execute(
                sa.select(t.shipments).where(t.shipments.c.order_id.in_(wanted))
                .order_by(t.shipments.c.fulfillment_order_id,
                          t.shipments.c.position)).mappings():
            found[r["fulfillment_order_id"]].append(Shipment(
                id=r["id"], carrier=r["carrier"], service=r["service"],
                tracking_number=r["tracking_number"],
                lines=tuple(self._c.structure(r["lines"], list[LineQuantity])),
                created_at=r["created_at"], shipped_at=r["shipped_at"],
                delivered_at=r["delivered_at"], expected_date=r["expected_date"],
                parcels=by_shipment[r["id"]]))
        return found

    def _assemble(self, row: Any, lines: Sequence[Any], holds: Sequence[Any],
                  fo_rows: Sequence[Any], fo_lines: dict[str, list[LineQuantity]],
                  shipments: Mapping[str, list[Shipment]]) -> Order:
        structure = self._c.structure
        line_order = {x["line_id"]: x["position"] for x in lines}
        fos = []
        for r in fo_rows:
            fos.append(FulfillmentOrder(
                id=r["id"], order_id=r["order_id"], location=r["location"],
                lines=tuple(sorted(fo_lines[r["id"]], key=lambda x: line_order[x.line_id])),
                status=FulfillmentStatus(r["status"]), created_at=r["created_at"],
                updated_at=r["updated_at"], rejection_reason=r["rejection_reason"],
                shipments=list(shipments.get(r["id"], ())),
                capacity_day=r["capacity_day"], ready_at=r["ready_at"],
                collect_by=r["collect_by"],
            ))
        return Order(
            id=row["id"], channel=row["channel"], external_id=row["external_id"],
            currency=row["currency"], customer=structure(row["customer"], Customer),
            lines=tuple(OrderLine(line_id=x["line_id"], sku=x["sku"], quantity=x["quantity"],
                                  unit_price=x["unit_price"],
                                  cancelled_quantity=x["cancelled_quantity"])
                        for x in lines),
            delivery=structure(row["delivery"], DeliveryMethod),
            shipping_address=structure_optional(self._c, row["shipping_address"], Address),
            billing_address=structure_optional(self._c, row["billing_address"], Address),
            status=OrderStatus(row["status"]), placed_at=row["placed_at"],
            updated_at=row["updated_at"], tags=tuple(row["tags"]),
            metadata=dict(row["metadata"]), version=row["version"],
            promised_date=row["promised_date"], cart_id=row["cart_id"],
            command_hash=row["command_hash"], expected_date=row["expected_date"],
            holds=[Hold(code=h["code"], reason=h["reason"], placed_at=h["placed_at"],
                        released_at=h["released_at"]) for h in holds],
            fulfillment_orders=fos,
        )

    def search(self, query: OrderQuery) -> list[OrderSummary]:
        """Orders matching ``query``, newest first."""
        return list(self.iter_summaries(query))

    def iter_summaries(self, query: OrderQuery) -> Iterator[OrderSummary]:
        """Like :meth:`search` but streamed from the cursor."""
        self._pending.flush()
        o = self._t.orders.c
        stmt = sa.select(o.id, o.channel, o.external_id, o.status, o.customer_id, o.currency,
                         o.total, o.placed_at, o.updated_at)
        if query.customer_id is not None:
            stmt = stmt.where(o.customer_id == query.customer_id)
        if query.channel is not None:
            stmt = stmt.where(o.channel == query.channel)
        if query.external_id is not None:
            stmt = stmt.where(o.external_id == query.external_id)
        if query.statuses:
            stmt = stmt.where(o.status.in_([OrderStatus(s).value for s in query.statuses]))
        if query.placed_from is not None:
            stmt = stmt.where(o.placed_at >= query.placed_from)
        if query.placed_to is not None:
            stmt = stmt.where(o.placed_at < query.placed_to)
        if query.after is not None:
            placed_at, order_id = query.after
            # A row-value comparison, which both databases answer from the
            # (placed_at, id) index as one range scan.
            stmt = stmt.where(sa.tuple_(o.placed_at, o.id)
                              < sa.tuple_(sa.literal(placed_at, o.placed_at.type),
                                          sa.literal(order_id, o.id.type)))
        stmt = stmt.order_by(o.placed_at.desc(), o.id.desc()).limit(query.limit)
        stmt = stmt.offset(query.offset)
        for r in self._conn.execute(stmt).mappings():
            yield OrderSummary(
                id=r["id"], channel=r["channel"], external_id=r["external_id"],
                status=OrderStatus(r["status"]), customer_id=r["customer_id"],
                currency=r["currency"], total=r["total"], placed_at=r["placed_at"],
                updated_at=r["updated_at"])

    def waiting_for(self, skus: Iterable[str] | None, *, limit: int) -> list[str]:
        """Ids of orders that may have backordered demand (for ``skus``), oldest first.

        Candidates only: the caller loads each order and checks what it still lacks.
        """
        self._pending.flush()
        o, line = self._t.orders.c, self._t.order_lines.c
        waiting = (OrderStatus.BACKORDERED.value, OrderStatus.PARTIALLY_SHIPPED.value)
        stmt = sa.select(o.id).where(o.status.in_(waiting))
        if skus is not None:
            stmt = stmt.where(sa.exists().where(line.order_id == o.id,
                                                line.sku.in_(sorted(set(skus)))))
        stmt = stmt.order_by(o.placed_at, o.id).limit(limit)
        return list(self._conn.execute(stmt).scalars())

    def held_for(self, code: str, skus: Iterable[str], *, limit: int) -> list[str]:
        """Ids of held orders with an active hold ``code`` and a line for any of ``skus``,
        oldest first."""
        self._pending.flush()
        o, line, hold = self._t.orders.c, self._t.order_lines.c, self._t.order_holds.c
        stmt = (sa.select(o.id)
                .where(o.status == OrderStatus.ON_HOLD.value,
                       sa.exists().where(hold.order_id == o.id, hold.code == code,
                                         hold.released_at.is_(None)),
                       sa.exists().where(line.order_id == o.id,
                                         line.sku.in_(sorted(set(skus)))))
                .order_by(o.placed_at, o.id).limit(limit))
        return list(self._conn.execute(stmt).scalars())

    def count_by_status(self) -> dict[OrderStatus, int]:
        """How many orders are in each status."""
        self._pending.flush()
        o = self._t.orders.c
        rows = self._conn.execute(sa.select(o.status, sa.func.count()).group_by(o.status))
        return {OrderStatus(status): int(n) for status, n in rows}
