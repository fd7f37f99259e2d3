"""The shipping carrier conformance kit: what every ``ShippingCarrier`` plugin must pass."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

import pytest

from omskit import (
    CarrierCapability,
    CarrierOutcomeUnknown,
    FulfillmentStatus,
    InvalidWebhook,
    Label,
    LabelPurchaseInProgress,
    LabelRequest,
    LabelStatus,
    Oms,
    OrderExpectedDateChanged,
    OrderStatus,
    ParcelSpec,
    ParcelTracked,
    ShippingCarrier,
    TrackingStatus,
    TrackingUpdate,
    hookimpl,
)
from omskit.testing.builders import location, order_command, table_contents

#: ``webhook(carrier, updates) -> (headers, body)``: a webhook the carrier would accept,
#: carrying ``updates`` (signed as the provider signs them).
Webhook = Callable[[ShippingCarrier, Sequence[TrackingUpdate]], tuple[dict[str, str], bytes]]
#: A fault the kit injects around the carrier's ``buy_label``.
Fault = Literal["timeout_after_sale", "timeout_before_sale"]

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


class RecordingCarrier:
    """Wraps a carrier: counts ``buy_label`` calls per key and injects faults the way a
    network does (a timeout after the carrier sold the label, or before it heard of it).
    Everything else goes to the wrapped carrier."""

    def __init__(self, inner: ShippingCarrier) -> None:
        self.inner = inner
        self.code = inner.code
        self.capabilities = inner.capabilities
        self.bought: Counter[str] = Counter()
        self.faults: list[Fault] = []
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def buy_label(self, request: LabelRequest, settings: Mapping[str, Any]) -> Label:
        """The wrapped carrier's label, counted; a queued fault strikes first."""
        with self._lock:
            fault = self.faults.pop(0) if self.faults else None
        if fault == "timeout_before_sale":
            raise CarrierOutcomeUnknown(self.code, "read timeout (injected by the kit)")
        label = self.inner.buy_label(request, settings)
        with self._lock:
            self.bought[request.idempotency_key] += 1
        if fault == "timeout_after_sale":
            raise CarrierOutcomeUnknown(self.code, "read timeout (injected by the kit)")
        return label


class _Register:
    def __init__(self, carrier: ShippingCarrier) -> None:
        self.carrier = carrier

    @hookimpl
    def omskit_register_shipping_carriers(
            self, register: Callable[[ShippingCarrier], None]) -> None:
        register(self.carrier)


class CarrierConformance:
    """Tests every shipping carrier plugin must pass, on SQLite and PostgreSQL.

    Subclass it in the plugin's tests and provide the fixtures:

    - ``carrier_plugin``: the plugin object (as its entry point registers it);
    - ``carrier_code``: the code of the shipping carrier it registers;
    - ``shipping_carrier``: a new carrier object (the kit registers it wrapped in a
      :class:`RecordingCarrier` to count purchases and inject faults);
    - ``carrier_settings``: the ``settings`` for ``bootstrap`` (default: none);
    - ``webhook``: a :data:`Webhook` (only for carriers declaring ``webhooks``).

    The carrier must serve Italy from a warehouse in Italy for a 1.2 kg parcel, declare
    ``labels``, and, when it declares ``webhooks``, refuse a body whose signature does not
    match.
    """

    @pytest.fixture
    def carrier_settings(self) -> Mapping[str, Any]:
        return {}

    @pytest.fixture
    def recording_carrier(self, shipping_carrier: ShippingCarrier) -> RecordingCarrier:
        return RecordingCarrier(shipping_carrier)

    @pytest.fixture
    def carrier_oms(self, make_oms: Callable[..., Oms], recording_carrier: RecordingCarrier,
                    carrier_settings: Mapping[str, Any]) -> Oms:
        oms = make_oms(plugins=[_Register(recording_carrier)], settings=carrier_settings)
        oms.inventory.save_location(location("conformance-dc", 45.46, 9.19, country="IT"))
        oms.inventory.receive("conformance-dc", "SKU-1", 100)
        return oms

    @staticmethod
    def packed(oms: Oms, external_id: str = "C-1") -> tuple[str, str]:
        """(order id, fulfilment order id) of a packed order of 2 × SKU-1."""
        order = oms.orders.place(order_command(external_id, {"SKU-1": 2}, lat=45.07,
                                               lon=7.69))
        oms.fulfillment.release(order.id)
        (fo,) = order.fulfillment_orders
        for step in (oms.fulfillment.accept, oms.fulfillment.pick, oms.fulfillment.pack):
            step(fo.id)
        return order.id, fo.id

    def parcel(self, oms: Oms, code: str, external_id: str = "C-1") -> tuple[str, str, str]:
        """(order id, shipment id, parcel id) of a prepared one-parcel shipment."""
        order_id, fo = self.packed(oms, external_id)
        shipment = oms.shipping.create_shipment(
            fo, carrier=code, parcels=[ParcelSpec(weight_grams=1200)])
        return order_id, shipment.id, shipment.parcels[0].id

    # -- registration -----------------------------------------------------------------

    def test_plugin_registers_the_carrier(self, make_oms: Callable[..., Oms],
                                          carrier_plugin: object, carrier_code: str,
                                          carrier_settings: Mapping[str, Any]) -> None:
        oms = make_oms(plugins=[carrier_plugin], settings=carrier_settings)
        carrier = oms.shipping.carrier(carrier_code)
        assert carrier.code == carrier_code
        assert CarrierCapability.LABELS in carrier.capabilities

    # -- labels -----------------------------------------------------------------------

    def test_label_is_bought_once_per_parcel(self, carrier_oms: Oms, carrier_code: str,
                                             recording_carrier: RecordingCarrier) -> None:
        _, shipment_id, parcel_id = self.parcel(carrier_oms, carrier_code)
        first = carrier_oms.shipping.buy_label(parcel_id)
        again = carrier_oms.shipping.buy_label(parcel_id)
        assert first.label_status is LabelStatus.BOUGHT
        assert first.tracking_number
        assert again.tracking_number == first.tracking_number
        assert sum(recording_carrier.bought.values()) == 1
        shipped = carrier_oms.shipping.ship(shipment_id)
        assert shipped.tracking_number == first.tracking_number

    def test_label_is_bought_once_under_concurrent_calls(
            self, carrier_oms: Oms, carrier_code: str,
            recording_carrier: RecordingCarrier) -> None:
        _, _, parcel_id = self.parcel(carrier_oms, carrier_code)
        barrier = threading.Barrier(8)
        outcomes: list[str] = []

        def buy() -> None:
            barrier.wait(timeout=60)
            try:
                outcomes.append(carrier_oms.shipping.buy_label(parcel_id).tracking_number)
            except LabelPurchaseInProgress:
                outcomes.append("in progress")

        threads = [threading.Thread(target=buy) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert len(outcomes) == 8
        assert sum(recording_carrier.bought.values()) == 1
        final = carrier_oms.shipping.buy_label(parcel_id)
        assert {o for o in outcomes if o != "in progress"} <= {final.tracking_number}
        assert sum(recording_carrier.bought.values()) == 1

    def test_outcome_unknown_is_reconciled_before_any_retry(
            self, carrier_oms: Oms, carrier_code: str,
            recording_carrier: RecordingCarrier) -> None:
        _, shipment_id, parcel_id = self.parcel(carrier_oms, carrier_code)
        recording_carrier.faults.append("timeout_after_sale")
        with pytest.raises(CarrierOutcomeUnknown):
            carrier_oms.shipping.buy_label(parcel_id)
        (sold_under,) = recording_carrier.bought
        shipment = carrier_oms.shipping.get(shipment_id)
        assert shipment.parcels[0].label_status is LabelStatus.UNKNOWN
        parcel = carrier_oms.shipping.buy_label(parcel_id)
        assert parcel.label_status is LabelStatus.BOUGHT
        # Asked the carrier first: no second key, and the key was not sold twice unless the
        # carrier itself de-duplicates it (then it answered with the same label).
        assert set(recording_carrier.bought) == {sold_under}
        assert parcel.label_key == sold_under

    def test_outcome_unknown_with_nothing_sold_buys_under_the_same_key(
            self, carrier_oms: Oms, carrier_code: str,
            recording_carrier: RecordingCarrier) -> None:
        _, _, parcel_id = self.parcel(carrier_oms, carrier_code)
        recording_carrier.faults.append("timeout_before_sale")
        with pytest.raises(CarrierOutcomeUnknown):
            carrier_oms.shipping.buy_label(parcel_id)
        assert not recording_carrier.bought
        parcel = carrier_oms.shipping.buy_label(parcel_id)
        assert parcel.label_status is LabelStatus.BOUGHT
        assert dict(recording_carrier.bought) == {parcel.label_key: 1}

    # -- tracking ---------------------------------------------------------------------

    def deliver(self, oms: Oms, code: str, updates: Sequence[TrackingUpdate],
                webhook: Webhook | None) -> None:
        carrier = oms.shipping.carrier(code)
        if CarrierCapability.WEBHOOKS in carrier.capabilities:
            assert webhook is not None, "a carrier with webhooks needs the webhook fixture"
            headers, body = webhook(_inner(carrier), updates)
            oms.shipping.receive_webhook(code, headers, body)
        else:
            oms.shipping.record_tracking(code, updates)

    @pytest.fixture
    def webhook(self) -> Webhook | None:
        return None

    def shipped_parcel(self, oms: Oms, code: str) -> tuple[str, str, str, str]:
        """(order id, shipment id, parcel id, tracking number) of a shipped parcel."""
        order_id, shipment_id, parcel_id = self.parcel(oms, code)
        tracking = oms.shipping.buy_label(parcel_id).tracking_number
        oms.shipping.ship(shipment_id)
        return order_id, shipment_id, parcel_id, tracking

    def test_duplicate_and_out_of_order_tracking_change_nothing_twice(
            self, carrier_oms: Oms, carrier_code: str, webhook: Webhook | None) -> None:
        order_id, _, parcel_id, tn = self.shipped_parcel(carrier_oms, carrier_code)
        u = _updates(tn)
        for batch in ([u["in_transit"]], [u["picked_up"]], [u["in_transit"]],
                      [u["out_for_delivery"], u["delivered"]], [u["delivered"]],
                      [u["out_for_delivery"]]):
            self.deliver(carrier_oms, carrier_code, batch, webhook)
        order = carrier_oms.orders.get(order_id)
        (fo,) = order.fulfillment_orders
        assert fo.status is FulfillmentStatus.DELIVERED
        assert order.status is OrderStatus.DELIVERED
        (shipment,) = fo.shipments
        assert shipment.delivered_at == u["delivered"].occurred_at  # the carrier's time
        events = carrier_oms.shipping.tracking_events(parcel_id)
        assert [e.status for e in events] == [
            TrackingStatus.PICKED_UP, TrackingStatus.IN_TRANSIT,
            TrackingStatus.OUT_FOR_DELIVERY, TrackingStatus.DELIVERED]
        moves = [e.event.status for e in carrier_oms.orders.timeline(order_id)
                 if isinstance(e.event, ParcelTracked)]
        # The late picked-up event is history only; each event moved the parcel once.
        assert moves == ["in_transit", "out_for_delivery", "delivered"]

    def test_nothing_goes_back_after_delivered(
            self, carrier_oms: Oms, carrier_code: str, webhook: Webhook | None) -> None:
        order_id, _, _, tn = self.shipped_parcel(carrier_oms, carrier_code)
        u = _updates(tn)
        self.deliver(carrier_oms, carrier_code, [u["delivered"]], webhook)
        later = TrackingUpdate(tracking_number=tn, status=TrackingStatus.IN_TRANSIT,
                               occurred_at=u["delivered"].occurred_at + timedelta(hours=3),
                               event_id=f"{tn}-late")
        self.deliver(carrier_oms, carrier_code, [later], webhook)
        (fo,) = carrier_oms.orders.get(order_id).fulfillment_orders
        assert fo.shipments[0].parcels[0].tracking_status is TrackingStatus.DELIVERED
        assert fo.status is FulfillmentStatus.DELIVERED

    def test_new_estimate_moves_the_expected_date_with_an_event(
            self, carrier_oms: Oms, carrier_code: str, webhook: Webhook | None) -> None:
        order_id, _, _, tn = self.shipped_parcel(carrier_oms, carrier_code)
        day = date(2026, 12, 9)
        self.deliver(carrier_oms, carrier_code, [TrackingUpdate(
            tracking_number=tn, status=TrackingStatus.IN_TRANSIT, occurred_at=T0,
            event_id=f"{tn}-eta", expected_date=day)], webhook)
        assert carrier_oms.orders.get(order_id).expected_date == day
        changed = [e.event for e in carrier_oms.orders.timeline(order_id)
                   if isinstance(e.event, OrderExpectedDateChanged)]
        assert [e.expected_date for e in changed][-1:] == [day]

    def test_invalid_webhook_signature_is_refused_and_writes_nothing(
            self, carrier_oms: Oms, carrier_code: str, webhook: Webhook | None) -> None:
        carrier = carrier_oms.shipping.carrier(carrier_code)
        if CarrierCapability.WEBHOOKS not in carrier.capabilities:
            pytest.skip("the carrier declares no webhooks")
        assert webhook is not None
        _, _, _, tn = self.shipped_parcel(carrier_oms, carrier_code)
        headers, body = webhook(_inner(carrier), [_updates(tn)["delivered"]])
        before = table_contents(carrier_oms)
        tampered = body.replace(b"delivered", b"DELIVERED") if b"delivered" in body \
            else body + b" "
        for bad in (tampered, b"", b"not json at all"):
            with pytest.raises(InvalidWebhook):
                carrier_oms.shipping.receive_webhook(carrier_code, headers, bad)
        with pytest.raises(InvalidWebhook):
            carrier_oms.shipping.receive_webhook(carrier_code, {}, body)
        assert table_contents(carrier_oms) == before


def _inner(carrier: ShippingCarrier) -> ShippingCarrier:
    return carrier.inner if isinstance(carrier, RecordingCarrier) else carrier


def _updates(tn: str) -> dict[str, TrackingUpdate]:
    """One tracking event per status, an hour apart, from T0."""
    order = ("picked_up", "in_transit", "out_for_delivery", "delivered")
    return {name: TrackingUpdate(tracking_number=tn, status=TrackingStatus(name),
                                 occurred_at=T0 + timedelta(hours=i), event_id=f"{tn}-{name}")
            for i, name in enumerate(order)}


__all__ = ["T0", "CarrierConformance", "RecordingCarrier", "Webhook"]
