"""Daily capacity given back, on every backend, with a capacity of 1.

The defect: a location's daily-capacity slot, taken when routing created a fulfilment order
there, was kept when that fulfilment order was rejected or cancelled before anyone picked it,
so one cancelled order could close a location for the rest of the day. Now the slot goes back
to the day it was taken on, in the same transaction; picked or packed work stays spent.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from omskit import Oms, hookimpl
from omskit.domain.errors import TransitionVetoed
from omskit.domain.lifecycle import FulfillmentStatus
from omskit.domain.order import FulfillmentOrder, Order
from omskit.testing import location, order_command, table_contents
from tests.support import MILAN, ROME

F = FulfillmentStatus
DAY_1 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
FIRST_DAY = DAY_1.date()


class Clock:
    def __init__(self) -> None:
        self.now = DAY_1

    def __call__(self) -> datetime:
        return self.now


def build(make_oms: Callable[..., Oms], **kwargs: object) -> tuple[Oms, Clock]:
    """Milan takes one fulfilment order a day and is nearest; Rome has no limit."""
    clock = Clock()
    oms = make_oms(clock=clock, **kwargs)
    oms.inventory.save_location(location("milan", *MILAN, daily_capacity=1))
    oms.inventory.save_location(location("rome", *ROME))
    for code in ("milan", "rome"):
        oms.inventory.receive(code, "A", 20)
        oms.inventory.receive(code, "B", 20)
    return oms, clock


@pytest.fixture
def milan_once(make_oms: Callable[..., Oms]) -> tuple[Oms, Clock]:
    return build(make_oms)


def place(oms: Oms, external_id: str, lines: dict[str, int] | None = None) -> Order:
    return oms.orders.place(order_command(external_id, lines or {"A": 1},
                                          lat=MILAN[0], lon=MILAN[1]))


def sources(order: Order) -> list[str]:
    return [fo.location for fo in order.fulfillment_orders]


def load(oms: Oms, day: date = FIRST_DAY) -> int:
    t = oms.tables.location_load
    with oms.engine.connect() as conn:
        found = conn.execute(sa.select(t.c.fulfillment_orders)
                             .where(t.c.location == "milan", t.c.day == day)).scalar()
    return int(found or 0)


def test_a_cancelled_fulfilment_order_gives_its_slot_back(
        milan_once: tuple[Oms, Clock]) -> None:
    oms, _ = milan_once
    first = place(oms, "E-1")
    assert sources(first) == ["milan"]
    assert first.fulfillment_orders[0].capacity_day == DAY_1.date()
    assert sources(place(oms, "E-2")) == ["rome"]  # milan is full today
    assert load(oms) == 1

    cancelled = oms.orders.cancel(first.id)
    assert cancelled.fulfillment_orders[0].capacity_day is None
    assert load(oms) == 0
    assert sources(place(oms, "E-3")) == ["milan"]
    # Cancelling again gives nothing back twice.
    oms.orders.cancel(first.id)
    assert load(oms) == 1


def test_a_rejected_fulfilment_order_gives_its_slot_back(
        milan_once: tuple[Oms, Clock]) -> None:
    oms, _ = milan_once
    first = place(oms, "E-1")
    oms.fulfillment.release(first.id)
    rerouted = oms.fulfillment.reject(first.fulfillment_orders[0].id, "no staff")
    assert sources(rerouted) == ["milan", "rome"]  # never back to the location that rejected
    assert load(oms) == 0
    assert sources(place(oms, "E-2")) == ["milan"]


def test_accepted_work_gives_back_but_picked_work_is_spent(
        milan_once: tuple[Oms, Clock]) -> None:
    oms, _ = milan_once
    accepted = place(oms, "E-1")
    oms.fulfillment.release(accepted.id)
    oms.fulfillment.accept(accepted.fulfillment_orders[0].id)
    oms.orders.cancel(accepted.id)
    assert load(oms) == 0

    picked = place(oms, "E-2")
    fo_id = picked.fulfillment_orders[0].id
    oms.fulfillment.release(picked.id)
    oms.fulfillment.accept(fo_id)
    oms.fulfillment.pick(fo_id)
    cancelled = oms.orders.cancel(picked.id)
    assert cancelled.fulfillment_order(fo_id).capacity_day == DAY_1.date()
    assert load(oms) == 1
    assert sources(place(oms, "E-3")) == ["rome"]


def test_the_slot_goes_back_to_the_day_it_was_taken(milan_once: tuple[Oms, Clock]) -> None:
    oms, clock = milan_once
    yesterday = place(oms, "E-1")
    clock.now = DAY_1 + timedelta(days=1)
    day_2 = clock.now.date()
    assert sources(place(oms, "E-2")) == ["milan"]  # a new day, a new slot
    oms.orders.cancel(yesterday.id)
    assert (load(oms), load(oms, day_2)) == (0, 1)
    assert sources(place(oms, "E-3")) == ["rome"]  # today's slot is still taken


def test_line_cancellations_give_back_only_an_emptied_fulfilment_order(
        milan_once: tuple[Oms, Clock]) -> None:
    oms, _ = milan_once
    order = place(oms, "E-1", {"A": 2, "B": 1})
    assert sources(order) == ["milan"]
    shrunk = oms.orders.cancel_lines(order.id, {"1": 1})
    assert shrunk.fulfillment_orders[0].status is F.CREATED  # still milan's work
    assert load(oms) == 1
    emptied = oms.orders.cancel_lines(order.id, {"1": 1, "2": 1})
    assert emptied.fulfillment_orders[0].status is F.CANCELLED
    assert load(oms) == 0


def test_a_short_close_gives_back_what_nobody_picked(milan_once: tuple[Oms, Clock]) -> None:
    oms, _ = milan_once
    order = place(oms, "E-1")
    oms.orders.short_close(order.id, reason="unfillable")
    assert load(oms) == 0


class Veto:
    """Refuses every fulfilment-order cancellation."""

    @hookimpl
    def omskit_validate_transition(self, aggregate: str, order: Order,
                                   fulfillment_order: FulfillmentOrder | None,
                                   from_status: str, to_status: str) -> list[str]:
        if (aggregate, to_status) == ("fulfillment_order", "cancelled"):
            return ["not today"]
        return []


def test_the_slot_comes_back_in_the_cancelling_transaction(
        make_oms: Callable[..., Oms]) -> None:
    oms, _ = build(make_oms, plugins=[Veto()])
    order = place(oms, "E-1")
    before = table_contents(oms)
    with pytest.raises(TransitionVetoed):
        oms.orders.cancel(order.id)
    # The veto at commit rolled the give-back back with everything else.
    assert table_contents(oms) == before
    assert load(oms) == 1
