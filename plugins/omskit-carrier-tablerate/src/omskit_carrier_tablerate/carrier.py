"""The ``tablerate`` shipping carrier: rates from a table, labels rendered locally, and a
simulated tracking network that reports through signed webhooks.

The carrier is local, so "buying" a label is rendering it: the tracking number is derived from
the idempotency key, so the same key always gives the same label, as a real carrier API that
de-duplicates on the key does. Sold labels, voids, pickups and the tracking events the
simulator emitted are kept in the carrier object (one per ``Oms``): ``retrieve_label`` knows
what this process sold, and after a restart a re-purchase under the same key gives the same
label again.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from omskit import (
    CarrierCapability,
    CarrierRefused,
    InvalidWebhook,
    Label,
    LabelRequest,
    PickupConfirmation,
    PickupRequest,
    RateRequest,
    ShippingRate,
    TrackingStatus,
    TrackingUpdate,
)

from omskit_carrier_tablerate.label import render
from omskit_carrier_tablerate.settings import SETTINGS_KEY, TableRateSettings, settings_of

#: The carrier's code: ``oms.shipping.create_shipment(fo, carrier="tablerate", ...)``.
CARRIER_CODE = "tablerate"
#: The header carrying ``sha256=<hex HMAC of the raw body>``.
SIGNATURE_HEADER = "x-tablerate-signature"
#: Services offered: ``standard`` and ``express`` (faster, dearer).
SERVICES = ("standard", "express")

#: The simulated network's own event codes, and what they mean in omskit's vocabulary.
EVENT_CODES: Mapping[str, TrackingStatus] = {
    "LBL": TrackingStatus.LABEL_CREATED,
    "PU": TrackingStatus.PICKED_UP,
    "IT": TrackingStatus.IN_TRANSIT,
    "OFD": TrackingStatus.OUT_FOR_DELIVERY,
    "ATT": TrackingStatus.FAILED_ATTEMPT,
    "EXC": TrackingStatus.EXCEPTION,
    "DLV": TrackingStatus.DELIVERED,
    "RTS": TrackingStatus.RETURNED_TO_SENDER,
}
_CODE_OF = {status: code for code, status in EVENT_CODES.items()}


def _config(settings: Mapping[str, Any]) -> TableRateSettings:
    found = settings_of(settings)
    if found is None:
        raise CarrierRefused(CARRIER_CODE, f"not configured: settings[{SETTINGS_KEY!r}] is "
                                           "missing")
    return found


class TableRateCarrier:
    """Zones × weight bands × transit days, as ``settings["carrier_tablerate"]`` says."""

    code = CARRIER_CODE
    capabilities = frozenset(CarrierCapability)

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sold: dict[str, Label] = {}
        self._voided: set[str] = set()
        self._events: dict[str, list[TrackingUpdate]] = {}
        self._pickups: dict[str, PickupConfirmation] = {}

    # -- rates --------------------------------------------------------------------------

    def rates(self, request: RateRequest, settings: Mapping[str, Any]) -> Sequence[ShippingRate]:
        """One offer per service when every parcel fits a band of the destination's zone."""
        config = _config(settings)
        zone = config.zone_for(request.destination)
        if zone is None or not request.parcels:
            return []
        prices = [zone.price(p.weight_grams) for p in request.parcels]
        if any(p is None for p in prices):
            return []
        standard = tuple(p for p in prices if p is not None)
        express = tuple(p + config.express_surcharge for p in standard)
        return [
            ShippingRate(carrier=self.code, service="standard", amount=sum(standard, Decimal(0)),
                         currency=config.currency, transit_days=zone.transit_days,
                         per_parcel=standard),
            ShippingRate(carrier=self.code, service="express", amount=sum(express, Decimal(0)),
                         currency=config.currency,
                         transit_days=max(1, zone.transit_days - config.express_days_saved),
                         per_parcel=express),
        ]

    # -- labels -------------------------------------------------------------------------

    def tracking_number(self, idempotency_key: str, settings: Mapping[str, Any]) -> str:
        """The tracking number a purchase under this key gets: the prefix, 10 digits from
        the key's SHA-256 and a mod-10 check digit."""
        digest = int.from_bytes(hashlib.sha256(idempotency_key.encode()).digest()[:8], "big")
        digits = f"{digest % 10**10:010d}"
        check = (10 - sum(int(d) * (3 if i % 2 == 0 else 1)
                          for i, d in enumerate(digits)) % 10) % 10
        return f"{_config(settings).tracking_prefix}{digits}{check}"

    def _label(self, request: LabelRequest, settings: Mapping[str, Any]) -> Label:
        config = _config(settings)
        if request.service and request.service not in SERVICES:
            raise CarrierRefused(self.code, f"unknown service {request.service!r}; "
                                            f"offered: {', '.join(SERVICES)}")
        lane = request.origin.address if request.is_return else request.destination
        zone = config.zone_for(lane) if lane is not None else None
        if zone is None:
            raise CarrierRefused(self.code, "no zone serves the destination")
        if zone.price(request.parcel.weight_grams) is None:
            raise CarrierRefused(self.code, f"{request.parcel.weight_grams} g is over the "
                                            f"heaviest band of zone {zone.name}")
        with self._lock:
            found = self._sold.get(request.idempotency_key)
            if found is not None:
                return found  # the same key: the same label, never a second one
            service = request.service or "standard"
            number = self.tracking_number(request.idempotency_key, settings)
            # No delivery estimate on the label: the network sends it with its events.
            label = Label(label_id=f"{number}-L", tracking_number=number,
                          idempotency_key=request.idempotency_key,
                          document=render(request, number, service), service=service)
            self._sold[request.idempotency_key] = label
            self._events.setdefault(number, [])
            return label

    def buy_label(self, request: LabelRequest, settings: Mapping[str, Any]) -> Label:
        """Render the parcel's label (``CarrierRefused`` when no zone or band fits)."""
        return self._label(request, settings)

    def retrieve_label(self, idempotency_key: str, settings: Mapping[str, Any]) -> Label | None:
        """The label this carrier sold under the key, if any."""
        with self._lock:
            return self._sold.get(idempotency_key)

    def void_label(self, label_id: str, settings: Mapping[str, Any]) -> None:
        """Void a label (again: nothing more happens)."""
        with self._lock:
            self._voided.add(label_id)

    def buy_return_label(self, request: LabelRequest, settings: Mapping[str, Any]) -> Label:
        """A label from the customer back to the origin, priced by the origin's zone."""
        return self._label(request, settings)

    def voided(self, label_id: str) -> bool:
        """Whether the label was voided."""
        return label_id in self._voided

    # -- tracking -----------------------------------------------------------------------

    def track(self, tracking_number: str, settings: Mapping[str, Any]) -> Sequence[TrackingUpdate]:
        """Every event the simulated network emitted for the tracking number."""
        with self._lock:
            return list(self._events.get(tracking_number, ()))

    def simulate(self, tracking_number: str, status: TrackingStatus, at: datetime,
                 settings: Mapping[str, Any], *, event_id: str | None = None,
                 description: str = "", expected_date: date | None = None,
                 ) -> tuple[dict[str, str], bytes]:
        """The simulated network moves a parcel: the event is kept for :meth:`track` and
        returned as the signed webhook the network would post, ``(headers, body)``."""
        update = TrackingUpdate(
            tracking_number=tracking_number, status=status, occurred_at=at,
            event_id=event_id or f"{tracking_number}-{_CODE_OF[status]}-{at:%Y%m%d%H%M%S}",
            description=description, expected_date=expected_date)
        with self._lock:
            self._events.setdefault(tracking_number, []).append(update)
        return self.webhook([update], settings)

    def webhook(self, updates: Sequence[TrackingUpdate],
                settings: Mapping[str, Any]) -> tuple[dict[str, str], bytes]:
        """The signed webhook carrying ``updates``: ``{"events": [...]}`` in the network's
        own codes, signed with HMAC-SHA256 over the raw body."""
        body = json.dumps({"events": [{
            "tracking_number": u.tracking_number, "code": _CODE_OF[u.status],
            "at": u.occurred_at.isoformat(), "id": u.event_id, "text": u.description,
            "place": u.location,
            "eta": u.expected_date.isoformat() if u.expected_date else None,
        } for u in updates]}, separators=(",", ":")).encode()
        return {SIGNATURE_HEADER: f"sha256={self._sign(body, settings)}"}, body

    def _sign(self, body: bytes, settings: Mapping[str, Any]) -> str:
        return hmac.new(_config(settings).webhook_secret, body, hashlib.sha256).hexdigest()

    def parse_webhook(self, headers: Mapping[str, str], body: bytes,
                      settings: Mapping[str, Any]) -> Sequence[TrackingUpdate]:
        """Check the signature over the raw body, then translate the events; anything wrong
        is ``InvalidWebhook`` listing every problem."""
        given = headers.get(SIGNATURE_HEADER, "")
        wanted = f"sha256={self._sign(body, settings)}"
        if not hmac.compare_digest(given.encode(), wanted.encode()):
            raise InvalidWebhook([f"{SIGNATURE_HEADER}: missing or does not match the body"],
                                 carrier=self.code)
        try:
            document = json.loads(body)
        except ValueError as exc:
            raise InvalidWebhook([f"body: not JSON ({exc})"], carrier=self.code) from exc
        events = document.get("events") if isinstance(document, dict) else None
        if not isinstance(events, list):
            raise InvalidWebhook(["events: required, a list"], carrier=self.code)
        problems: list[str] = []
        updates: list[TrackingUpdate] = []
        for i, e in enumerate(events):
            update = _update(e, f"events[{i}]", problems)
            if update is not None:
                updates.append(update)
        if problems:
            raise InvalidWebhook(problems, carrier=self.code)
        return updates

    # -- pickups ------------------------------------------------------------------------

    def book_pickup(self, request: PickupRequest,
                    settings: Mapping[str, Any]) -> PickupConfirmation:
        """Book a collection (the same key again: the same booking)."""
        _config(settings)
        with self._lock:
            found = self._pickups.get(request.idempotency_key)
            if found is None:
                number = hashlib.sha256(request.idempotency_key.encode()).hexdigest()[:10]
                found = PickupConfirmation(confirmation=f"PU-{number.upper()}", day=request.day,
                                           ready_from="09:00", ready_until="18:00")
                self._pickups[request.idempotency_key] = found
            return found


def _update(raw: object, where: str, problems: list[str]) -> TrackingUpdate | None:
    if not isinstance(raw, dict):
        problems.append(f"{where}: must be an object")
        return None
    status = EVENT_CODES.get(raw.get("code"))  # type: ignore[arg-type]
    if status is None:
        problems.append(f"{where}.code: {raw.get('code')!r} is not one of "
                        f"{', '.join(EVENT_CODES)}")
    try:
        at = datetime.fromisoformat(str(raw.get("at")))
        if at.tzinfo is None:
            raise ValueError("no timezone")
    except ValueError:
        problems.append(f"{where}.at: {raw.get('at')!r} is not an ISO 8601 time with a "
                        "timezone")
        at = None
    eta_raw = raw.get("eta")
    eta: date | None = None
    if eta_raw is not None:
        try:
            eta = date.fromisoformat(str(eta_raw))
        except ValueError:
            problems.append(f"{where}.eta: {eta_raw!r} is not a date")
    texts = {k: raw.get(k, "") for k in ("tracking_number", "id", "text", "place")}
    for key in ("tracking_number", "id"):
        if not isinstance(texts[key], str) or not texts[key]:
            problems.append(f"{where}.{key}: required, a string")
    for key in ("text", "place"):
        if not isinstance(texts[key], str):
            problems.append(f"{where}.{key}: must be a string")
    if status is None or at is None or problems:
        return None
    return TrackingUpdate(tracking_number=str(texts["tracking_number"]), status=status,
                          occurred_at=at, event_id=str(texts["id"]),
                          description=str(texts["text"]), location=str(texts["place"]),
                          expected_date=eta)


__all__ = ["CARRIER_CODE", "EVENT_CODES", "SERVICES", "SIGNATURE_HEADER", "TableRateCarrier"]
