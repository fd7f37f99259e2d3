"""Shipping reads and the rows that are not part of the order aggregate: where a parcel or
shipment belongs, the tracking events received, the label documents."""

from __future__ import annotations

from datetime import datetime

import attrs
import sqlalchemy as sa

from omskit.domain.errors import ParcelNotFound, ShipmentNotFound
from omskit.domain.lifecycle import FulfillmentStatus
from omskit.domain.shipping import TrackingStatus, TrackingUpdate
from omskit.store.tables import Tables


@attrs.frozen(kw_only=True)
class ParcelRef:
    """Where a parcel belongs: its order, shipment and the shipment's carrier."""

    parcel_id: str
    shipment_id: str
    order_id: str
    carrier: str


@attrs.frozen(kw_only=True)
class RecordedTrackingEvent:
    """A tracking event as stored (``recorded_at``: when omskit received it)."""

    parcel_id: str
    carrier: str
    tracking_number: str
    event_id: str
    status: TrackingStatus
    occurred_at: datetime
    description: str
    location: str
    recorded_at: datetime


class ShippingRepository:
    """Shipping queries and writes on one connection (inside the caller's transaction)."""

    def __init__(self, conn: sa.Connection, tables: Tables) -> None:
        self._conn = conn
        self._t = tables

    def parcel(self, parcel_id: str) -> ParcelRef:
        """Where the parcel belongs, or :class:`ParcelNotFound`."""
        p = self._t.parcels.c
        row = self._conn.execute(sa.select(p.id, p.shipment_id, p.order_id, p.carrier)
                                 .where(p.id == parcel_id)).one_or_none()
        if row is None:
            raise ParcelNotFound(parcel_id)
        return ParcelRef(parcel_id=row[0], shipment_id=row[1], order_id=row[2],
                         carrier=row[3])

    def shipment_order(self, shipment_id: str) -> tuple[str, str]:
        """(order id, carrier) of the shipment, or :class:`ShipmentNotFound`."""
        s = self._t.shipments.c
        row = self._conn.execute(sa.select(s.order_id, s.carrier)
                                 .where(s.id == shipment_id)).one_or_none()
        if row is None:
            raise ShipmentNotFound(shipment_id)
        return str(row[0]), str(row[1])

    def parcels_tracked(self, carrier: str, tracking_numbers: list[str]) -> list[ParcelRef]:
        """Parcels of ``carrier`` with any of these tracking numbers."""
        p = self._t.parcels.c
        rows = self._conn.execute(
            sa.select(p.id, p.shipment_id, p.order_id, p.carrier, p.tracking_number)
            .where(p.carrier == carrier, p.tracking_number.in_(sorted(set(tracking_numbers))))
            .order_by(p.order_id, p.id))
        return [ParcelRef(parcel_id=r[0], shipment_id=r[1], order_id=r[2], carrier=r[3])
                for r in rows]

    def waiting_to_pick(self, location: str) -> list[str]:
        """Ids of the location's fulfilment orders released or accepted, oldest first."""
        fo = self._t.fulfillment_orders.c
        return list(self._conn.execute(
            sa.select(fo.id).where(fo.location == location,
                                   fo.status.in_([FulfillmentStatus.RELEASED.value,
                                                  FulfillmentStatus.ACCEPTED.value]))
            .order_by(fo.created_at, fo.id)).scalars())

    def tracking_numbers(self, parcel_ids: list[str]) -> dict[str, str]:
        """Tracking number per parcel id."""
        p = self._t.parcels.c
        return {r[0]: r[1] for r in self._conn.execute(
            sa.select(p.id, p.tracking_number).where(p.id.in_(parcel_ids)))}

    def seen_events(self, carrier: str, parcel_id: str) -> set[str]:
        """Event ids already recorded for the parcel."""
        t = self._t.tracking_events.c
        return set(self._conn.execute(
            sa.select(t.event_id).where(t.carrier == carrier, t.parcel_id == parcel_id))
            .scalars())

    def add_event(self, ref: ParcelRef, update: TrackingUpdate, at: datetime) -> None:
        """Store one tracking event (the caller checked it is new, under the order's lock)."""
        self._conn.execute(self._t.tracking_events.insert().values(
            carrier=ref.carrier, tracking_number=update.tracking_number,
            event_id=update.event_id, parcel_id=ref.parcel_id, order_id=ref.order_id,
            status=update.status.value, occurred_at=update.occurred_at,
            description=update.description, location=update.location,
            expected_date=update.expected_date, recorded_at=at))

    def events(self, parcel_id: str) -> list[RecordedTrackingEvent]:
        """Every tracking event of a parcel, in the carrier's time order."""
        t = self._t.tracking_events.c
        rows = self._conn.execute(
            sa.select(self._t.tracking_events).where(t.parcel_id == parcel_id)
            .order_by(t.occurred_at, t.seq)).mappings()
        return [RecordedTrackingEvent(
            parcel_id=r["parcel_id"], carrier=r["carrier"], tracking_number=r["tracking_number"],
            event_id=r["event_id"], status=TrackingStatus(r["status"]),
            occurred_at=r["occurred_at"], description=r["description"], location=r["location"],
            recorded_at=r["recorded_at"]) for r in rows]

    def add_document(self, label_key: str, parcel_id: str, media_type: str, content: bytes,
                     at: datetime) -> None:
        """Store a label's printable document once per purchase key."""
        d = self._t.label_documents
        exists = self._conn.execute(sa.select(d.c.label_key)
                                    .where(d.c.label_key == label_key)).first()
        if exists is None:
            self._conn.execute(d.insert().values(label_key=label_key, parcel_id=parcel_id,
                                                 media_type=media_type, content=content,
                                                 created_at=at))

    def document(self, label_key: str) -> tuple[str, bytes] | None:
        """(media type, bytes) of the label bought under this key, if stored."""
        d = self._t.label_documents.c
        row = self._conn.execute(sa.select(d.media_type, d.content)
                                 .where(d.label_key == label_key)).one_or_none()
        return None if row is None else (str(row[0]), bytes(row[1]))


__all__ = ["ParcelRef", "RecordedTrackingEvent", "ShippingRepository"]
