"""One omskit shipping carrier per karrio connection.

The carrier translates; omskit keeps the invariants (a claim and an idempotency key stored
before every purchase, reconciliation of unknown outcomes, tracking that never goes back).
What the plugin adds, because karrio's carriers do not:

- **Idempotency.** Neither DHL Express nor UPS takes an idempotency key, so the carrier object
  remembers what it sold under each key: a second purchase under a key returns the first
  label, and ``retrieve_label(key)`` answers from that memory, including a label whose answer
  arrived after omskit stopped waiting for it. A purchase still running under a key is waited
  for, never started twice. The memory is the process's: after a restart in the middle of a
  purchase the carrier may have sold a label omskit does not know; the key is the shipment's
  reference at the carrier (karrio's ``mydhl`` sends none), to find it and void it.
  karrio's generic carrier renders labels locally from the key, so it gives the same label
  again after a restart too.
- **A time limit.** karrio's HTTP requests have none; each call runs in a worker thread and
  omskit waits ``timeout_seconds``: past it a purchase, a void or a pickup is
  ``CarrierOutcomeUnknown`` (the answer, if it comes, is still recorded) and a read is
  ``CarrierUnavailable``.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from decimal import Decimal
from typing import Any, TypeVar

from omskit import (
    CarrierCapability,
    CarrierOutcomeUnknown,
    CarrierRefused,
    CarrierUnavailable,
    Label,
    LabelRequest,
    PickupConfirmation,
    PickupRequest,
    RateRequest,
    ShippingRate,
    TrackingUpdate,
)

from omskit_carrier_karrio.settings import SETTINGS_KEY, Connection, settings_of

T = TypeVar("T")

#: How many labels a carrier object remembers (with their documents) to answer
#: ``retrieve_label``: the most recent ones.
REMEMBERED_LABELS = 1000

#: Tracking answers that mean "no such parcel yet" rather than a failure, by extension: the
#: carrier has not scanned a label it just sold (DHL's 103 and UPS's TW0001 as karrio's own
#: fixtures show them).
TRACKING_NOT_FOUND: Mapping[str, frozenset[str]] = {
    "dhl_express": frozenset({"103"}),
    # The MyDHL API answers 404 Not Found for a number it does not know.
    "mydhl": frozenset({"404"}),
    "ups": frozenset({"TW0001"}),
}


class KarrioCarrier:
    """The shipping carrier of one karrio connection, with exactly the capabilities of its
    karrio extension. Built at registration from the connection's code, extension and
    capabilities; its credentials are read from the ``settings`` of each call."""

    def __init__(self, code: str, carrier: str,
                 capabilities: frozenset[CarrierCapability]) -> None:
        self.code = code
        #: The karrio extension (``dhl_express``, ``ups``, ``generic``...).
        self.carrier = carrier
        self.capabilities = capabilities
        self._lock = threading.Lock()
        self._sold: OrderedDict[str, Label] = OrderedDict()
        self._running: dict[str, Future[Label]] = {}
        self._voided: set[str] = set()
        self._pickups: dict[str, PickupConfirmation] = {}
        self._booking: dict[str, Future[PickupConfirmation]] = {}
        #: Weight of each parcel this process labelled, for pickups.
        self._grams: dict[str, int] = {}

    def __repr__(self) -> str:
        return f"KarrioCarrier({self.code!r}, karrio {self.carrier!r})"

    # -- plumbing -------------------------------------------------------------------------

    def _connection(self, settings: Mapping[str, Any],
                    capability: CarrierCapability | None) -> Connection:
        if capability is not None and capability not in self.capabilities:
            raise CarrierRefused(self.code, f"karrio's {self.carrier!r} extension does not "
                                            f"support {capability}")
        found = settings_of(settings).connection(self.code)
        if found is None or found.carrier != self.carrier:
            raise CarrierRefused(self.code, f"not configured: settings[{SETTINGS_KEY!r}] has "
                                            f"no {self.carrier!r} connection {self.code!r}")
        return found

    def _start(self, work: Callable[[], T],
               on_done: Callable[[Future[T]], None] | None = None) -> Future[T]:
        future: Future[T] = Future()
        if on_done is not None:
            # Before the thread starts: a callback added to a future already done runs at
            # once in the caller's thread, which may hold the lock the callback takes.
            future.add_done_callback(on_done)

        def run() -> None:
            if not future.set_running_or_notify_cancel():
                return
            try:
                future.set_result(work())
            except BaseException as exc:  # handed to the waiting caller
                future.set_exception(exc)

        # A thread of its own per call: karrio may never return (no HTTP timeout), and a
        # stuck call must not hold a pool slot another call needs.
        threading.Thread(target=run, name=f"karrio-{self.code}", daemon=True).start()
        return future

    def _wait(self, future: Future[T], connection: Connection, what: str,
              write: bool) -> T:
        try:
            return future.result(timeout=connection.timeout_seconds)
        except FutureTimeout:
            said = f"{what}: no answer within {connection.timeout_seconds:g} s"
            if write:
                raise CarrierOutcomeUnknown(self.code, said) from None
            raise CarrierUnavailable(self.code, said) from None

    def _call(self, connection: Connection, capability: CarrierCapability, payload: Any,
              what: str, write: bool) -> tuple[Any, list[Any]]:
        from omskit_carrier_karrio import sdk

        return self._wait(self._start(lambda: sdk.call(
            connection.gateway, capability, payload, code=self.code, write=write)),
            connection, what, write)

    # -- rates ----------------------------------------------------------------------------

    def rates(self, request: RateRequest, settings: Mapping[str, Any]) -> Sequence[ShippingRate]:
        """The services offered for every parcel, each rated on its own (omskit buys one
        label per parcel), summed. Empty when the carrier offers nothing for the lane."""
        from omskit_carrier_karrio import sdk, translate

        connection = self._connection(settings, CarrierCapability.RATES)
        shipper = translate.sender(connection, request.origin)
        recipient = translate.address(request.destination)
        offers: list[dict[str, tuple[Decimal, str, int]]] = []
        for spec in request.parcels:
            payload = translate.rates(shipper, recipient, translate.parcel(connection, spec))
            found, messages = self._call(connection, CarrierCapability.RATES, payload,
                                         "rates", write=False)
            if not found and messages:
                raise sdk.refusal(self.code, messages, "rates refused")
            priced: dict[str, tuple[Decimal, str, int]] = {}
            for rate in found or ():
                amount = translate.money(rate.total_charge)
                if amount is None or not rate.currency:
                    continue
                priced[str(rate.service)] = (amount, str(rate.currency),
                                             int(rate.transit_days or 0))
            offers.append(priced)
        if not offers:
            return []
        common = [s for s in offers[0] if all(s in o for o in offers[1:])]
        result: list[ShippingRate] = []
        for name in common:
            each = [o[name] for o in offers]
            if len({currency for _, currency, _ in each}) != 1:
                continue
            result.append(ShippingRate(
                carrier=self.code, service=name, amount=sum((a for a, _, _ in each), Decimal(0)),
                currency=each[0][1], transit_days=max(days for _, _, days in each),
                per_parcel=tuple(a for a, _, _ in each)))
        return result

    # -- labels ---------------------------------------------------------------------------

    def buy_label(self, request: LabelRequest, settings: Mapping[str, Any]) -> Label:
        """Buy the parcel's label (a karrio shipment of one parcel), once per key."""
        return self._buy(request, settings, CarrierCapability.LABELS)

    def buy_return_label(self, request: LabelRequest, settings: Mapping[str, Any]) -> Label:
        """A label from the customer back to the location: karrio's return shipment."""
        return self._buy(request, settings, CarrierCapability.RETURN_LABELS)

    def _buy(self, request: LabelRequest, settings: Mapping[str, Any],
             capability: CarrierCapability) -> Label:
        from omskit_carrier_karrio import sdk, translate

        connection = self._connection(settings, capability)
        key = request.idempotency_key
        payload = translate.shipment(connection, request)
        if capability is CarrierCapability.RETURN_LABELS:
            payload = translate.swapped(payload)

        def purchase() -> Label:
            details, messages = sdk.call(connection.gateway, capability, payload,
                                         code=self.code, write=True)
            if details is None:
                raise sdk.refusal(self.code, messages, "no label")
            return translate.label(connection, request, details)

        with self._lock:
            sold = self._sold_under(key)
            if sold is not None:
                return sold  # the same key: the same label, never a second one
            running = self._running.get(key)
            if running is None or running.done():
                # Recorded by the worker when it ends, even if nobody waits any more.
                running = self._start(purchase, lambda f: self._record(key, request, f))
                self._running[key] = running
        label = self._wait(running, connection, "label", write=True)
        # The waiter may wake before the worker's callback ran: record it here too.
        with self._lock:
            self._remember(key, request, label)
        return label

    def _sold_under(self, key: str) -> Label | None:
        # Under self._lock. A finished purchase counts even before its callback recorded it
        # (a waiter wakes up before the future's callbacks run).
        sold = self._sold.get(key)
        running = self._running.get(key)
        if sold is None and running is not None and running.done() and \
                not running.cancelled() and running.exception() is None:
            sold = running.result()
        return sold

    def _record(self, key: str, request: LabelRequest, done: Future[Label]) -> None:
        # Runs when the purchase ends, even after omskit stopped waiting for it.
        with self._lock:
            if not done.cancelled() and done.exception() is None:
                self._remember(key, request, done.result())
            if self._running.get(key) is done:
                del self._running[key]

    def _remember(self, key: str, request: LabelRequest, label: Label) -> None:
        # Under self._lock.
        self._sold.setdefault(key, label)
        self._sold.move_to_end(key)
        self._grams[label.tracking_number] = request.parcel.weight_grams
        # Reconciliation asks about recent purchases; old labels (documents included) need
        # not stay in memory for ever.
        while len(self._sold) > REMEMBERED_LABELS:
            _, old = self._sold.popitem(last=False)
            self._grams.pop(old.tracking_number, None)

    def retrieve_label(self, idempotency_key: str, settings: Mapping[str, Any]) -> Label | None:
        """The label sold under the key, as far as this process knows (see the module doc).
        A purchase still running under the key is waited for, as long as a purchase is;
        past that, ``CarrierOutcomeUnknown``."""
        with self._lock:
            sold = self._sold_under(idempotency_key)
            running = self._running.get(idempotency_key)
        if sold is not None or running is None:
            return sold
        connection = self._connection(settings, None)
        try:
            return self._wait(running, connection, "label", write=True)
        except Exception:
            if not running.done():
                raise  # still waiting for the carrier: nobody knows yet
            with self._lock:  # it ended without a label (or just now, with one)
                return self._sold_under(idempotency_key)

    def void_label(self, label_id: str, settings: Mapping[str, Any]) -> None:
        """Cancel the karrio shipment (again: nothing more happens)."""
        from omskit_carrier_karrio import sdk, translate

        connection = self._connection(settings, CarrierCapability.VOID)
        with self._lock:
            if label_id in self._voided:
                return
        details, messages = self._call(
            connection, CarrierCapability.VOID,
            translate.cancellation(label_id), "void", write=True)
        if details is None or not getattr(details, "success", False):
            raise sdk.refusal(self.code, messages, "not voided")
        with self._lock:
            self._voided.add(label_id)

    # -- tracking -------------------------------------------------------------------------

    def track(self, tracking_number: str, settings: Mapping[str, Any]) -> Sequence[TrackingUpdate]:
        """Every event karrio reports for the parcel, in omskit's vocabulary (none yet for a
        label the carrier has not scanned)."""
        from omskit_carrier_karrio import sdk, tracking, translate

        connection = self._connection(settings, CarrierCapability.TRACKING)
        found, messages = self._call(connection, CarrierCapability.TRACKING,
                                     translate.tracking(tracking_number), "tracking",
                                     write=False)
        details = tracking.of_number(found or (), tracking_number)
        if details is not None:
            return tracking.updates(details, connection.timezone, self.carrier)
        not_found = TRACKING_NOT_FOUND.get(self.carrier, frozenset())
        if messages and not all(str(m.code) in not_found for m in messages):
            raise sdk.refusal(self.code, messages, "tracking refused")
        return []

    # -- pickups --------------------------------------------------------------------------

    def book_pickup(self, request: PickupRequest,
                    settings: Mapping[str, Any]) -> PickupConfirmation:
        """Book a collection (the same key again: the same booking; a booking still running
        under the key is waited for, never made twice)."""
        from omskit_carrier_karrio import sdk, translate

        connection = self._connection(settings, CarrierCapability.PICKUPS)
        key = request.idempotency_key
        with self._lock:
            found = self._pickups.get(key)
            if found is not None:
                return found
            running = self._booking.get(key)
            if running is None or (running.done() and running.exception() is not None):
                payload = translate.pickup(connection, request, dict(self._grams))

                def book() -> PickupConfirmation:
                    details, messages = sdk.call(connection.gateway,
                                                 CarrierCapability.PICKUPS, payload,
                                                 code=self.code, write=True)
                    if details is None:
                        raise sdk.refusal(self.code, messages, "no pickup")
                    return translate.confirmation(request, details)

                running = self._start(book)
                self._booking[key] = running
        booked = self._wait(running, connection, "pickup", write=True)
        with self._lock:
            self._booking.pop(key, None)
            return self._pickups.setdefault(key, booked)


__all__ = ["REMEMBERED_LABELS", "TRACKING_NOT_FOUND", "KarrioCarrier"]
