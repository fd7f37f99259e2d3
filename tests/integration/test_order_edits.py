"""Order edits (issue 10, item 2), on SQLite and PostgreSQL: begin, stage, preview, commit
or abandon; only what is not yet released changes; a commit on a moved order is refused;
only what changed is routed again; a whole edit submitted twice commits once."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

import pytest

from omskit import (
    Address,
    Capability,
    Coordinates,
    DeliveryKind,
    DeliveryMethod,
    EditOrder,
    EditsNotSupported,
    EditStatus,
    FulfillmentStatus,
    IdempotencyKeyConflict,
    InvalidCommand,
    LineNotFound,
    LineReleased,
    LocationKind,
    ManualCarriers,
    NewLine,
    Oms,
    OrderEditClosed,
    OrderEditCommitted,
    OrderEditConflict,
    OrderEditNotFound,
    OrderNotEditable,
    OrderNotFound,
    OrderStatus,
)
from omskit.testing import MutableClock, location, order_command, table_contents
from tests.support import MILAN, ROME, active_reservations, reservation_statuses, stock_rows

F = FulfillmentStatus
ROME_ADDRESS = Address(line1="Via del Corso 1", city="Roma", country="IT",
                       coordinates=Coordinates(lat=ROME[0], lon=ROME[1]))


@pytest.fixture
def clock() -> MutableClock:
    return MutableClock()


@pytest.fixture
def shop(make_oms: Callable[..., Oms], clock: MutableClock) -> Oms:
    """Milan and Rome warehouses, a Rome store that offers pickup; SKU-1 scarce in Milan."""
    oms = make_oms(plugins=[ManualCarriers("brt")], clock=clock)
    oms.inventory.save_location(location("milan", *MILAN))
    oms.inventory.save_location(location("rome", *ROME))
    oms.inventory.save_location(location(
        "store-rome", ROME[0] + 0.01, ROME[1], kind=LocationKind.STORE,
        capabilities=(Capability.PICKUP, Capability.SHIP_FROM_STORE)))
    oms.inventory.receive("milan", "SKU-1", 3)
    oms.inventory.receive("rome", "SKU-1", 20)
    oms.inventory.receive("milan", "SKU-2", 10)
    oms.inventory.receive("rome", "SKU-2", 10)
    oms.inventory.receive("store-rome", "SKU-1", 5)
    oms.inventory.receive("store-rome", "SKU-2", 5)
    return oms


def in_milan(oms: Oms, external_id: str, lines: dict[str, int]) -> str:
    return oms.orders.place(order_command(external_id, lines, lat=MILAN[0], lon=MILAN[1])).id


def live(oms: Oms, order_id: str) -> list[tuple[str, str, tuple[tuple[str, int], ...]]]:
    """(location, status, ((line, units), ...)) of every live fulfilment order."""
    return [(fo.location, fo.status.value, tuple((x.line_id, x.quantity) for x in fo.lines))
            for fo in oms.orders.get(order_id).fulfillment_orders
            if fo.status not in (F.CANCELLED, F.REJECTED)]


def test_quantity_up_routes_only_the_added_units(shop: Oms) -> None:
    order_id = in_milan(shop, "W-1", {"SKU-1": 2})
    before = shop.orders.get(order_id)
    (first,) = before.fulfillment_orders
    edit = shop.edits.begin(order_id, channel="mobile", actor="customer-1")
    shop.edits.stage(edit.id, quantities={"1": 5})
    done = shop.edits.commit(edit.id)

    assert done.status is EditStatus.COMMITTED
    assert done.summary is not None
    # Milan had 3: 1 more there would have been nearest, but only the 3 added are routed,
    # and the 2 already reserved are not touched.
    after = shop.orders.get(order_id)
    kept = after.fulfillment_order(first.id)
    assert (kept.location, kept.status, kept.lines) == (first.location, F.CREATED, first.lines)
    added = [fo for fo in after.fulfillment_orders if fo.id != first.id]
    assert sum(fo.units for fo in added) == 3
    assert {a.line_id for a in done.summary.allocations} == {"1"}
    assert sum(a.quantity for a in done.summary.allocations) == 3
    assert after.line("1").open_quantity == 5
    assert after.status is OrderStatus.ALLOCATED
    assert sum(active_reservations(shop).values()) == 5
    assert sum(q for _, sku, q, status in reservation_statuses(shop, order_id)
               if status == "active") == 5
    # The first reservation was never released.
    assert ("milan", "SKU-1", 2, "active") in reservation_statuses(shop, order_id)
    assert done.summary.total_before == Decimal("20.00")
    assert done.summary.total_after == Decimal("50.00")
    assert done.summary.payment_difference == Decimal("30.00")


def test_quantity_down_and_a_removed_line_give_back_their_stock(shop: Oms) -> None:
    order_id = in_milan(shop, "W-1", {"SKU-1": 3, "SKU-2": 2})
    edit = shop.edits.begin(order_id, channel="call_center", actor="agent-anna")
    shop.edits.stage(edit.id, quantities={"1": 1}, remove_lines=["2"])
    done = shop.edits.commit(edit.id)
    order = shop.orders.get(order_id)
    assert [x.open_quantity for x in order.lines] == [1, 0]
    assert live(shop, order_id) == [("milan", "created", (("1", 1),))]
    assert stock_rows(shop)[("milan", "SKU-1")].reserved == 1
    assert stock_rows(shop)[("milan", "SKU-2")].reserved == 0
    assert done.summary is not None
    assert done.summary.total_after == Decimal("10.00")
    assert {(r.line_id, r.quantity) for r in done.summary.released} == {("1", 2), ("2", 2)}


def test_an_added_line_is_routed_and_reserved(shop: Oms) -> None:
    order_id = in_milan(shop, "W-1", {"SKU-1": 1})
    edit = shop.edits.begin(order_id, channel="mobile")
    staged = shop.edits.stage(edit.id, add_lines=[NewLine(sku="SKU-2", quantity=2,
                                                          unit_price="7.5")])
    assert [x.line_id for x in staged.changes.add_lines] == ["2"]
    shop.edits.commit(edit.id)
    order = shop.orders.get(order_id)
    assert [(x.line_id, x.sku, x.quantity, x.unit_price) for x in order.lines][1] == \
        ("2", "SKU-2", 2, Decimal("7.50"))
    assert stock_rows(shop)[("milan", "SKU-2")].reserved == 2


def test_an_edit_of_a_released_line_is_refused_and_nothing_changes(shop: Oms) -> None:
    order_id = in_milan(shop, "W-1", {"SKU-1": 2})
    shop.fulfillment.release(order_id)
    (fo,) = shop.orders.get(order_id).fulfillment_orders
    edit = shop.edits.begin(order_id, channel="mobile")
    before = table_contents(shop)
    with pytest.raises(LineReleased) as caught:
        shop.edits.stage(edit.id, quantities={"1": 3})
    assert (caught.value.line_id, caught.value.fulfillment_order_id) == ("1", fo.id)
    assert caught.value.status == "released"
    assert table_contents(shop) == before
    with pytest.raises(LineReleased):
        shop.edits.submit(EditOrder(channel="mobile", idempotency_key="e-1",
                                    order_id=order_id, quantities={"1": 1}))
    with pytest.raises(LineReleased) as caught:
        shop.edits.submit(EditOrder(channel="mobile", idempotency_key="e-2",
                                    order_id=order_id, shipping_address=ROME_ADDRESS))
    assert caught.value.line_id is None
    assert caught.value.change == "the shipping address"
    assert table_contents(shop) == before
    # A new line is not released: it can still be added.
    shop.edits.submit(EditOrder(channel="mobile", idempotency_key="e-3", order_id=order_id,
                                add_lines=[NewLine(sku="SKU-2", quantity=1, unit_price="3")]))
    assert len(shop.orders.get(order_id).lines) == 2


def test_an_order_that_moved_since_the_edit_began_is_a_conflict(shop: Oms) -> None:
    order_id = in_milan(shop, "W-1", {"SKU-1": 2})
    edit = shop.edits.begin(order_id, channel="mobile")
    shop.edits.stage(edit.id, quantities={"1": 4})
    # Meanwhile an agent edits the same order from the call centre.
    other = shop.edits.begin(order_id, channel="call_center")
    shop.edits.stage(other.id, quantities={"1": 1})
    shop.edits.commit(other.id)
    before = table_contents(shop)
    with pytest.raises(OrderEditConflict) as caught:
        shop.edits.preview(edit.id)
    with pytest.raises(OrderEditConflict) as caught:
        shop.edits.commit(edit.id)
    assert caught.value.expected_version < caught.value.actual_version
    assert table_contents(shop) == before
    assert shop.edits.get(edit.id).status is EditStatus.OPEN
    assert shop.orders.get(order_id).line("1").open_quantity == 1


def test_a_hold_between_begin_and_commit_is_a_conflict(shop: Oms) -> None:
    order_id = in_milan(shop, "W-1", {"SKU-1": 2})
    edit = shop.edits.begin(order_id, channel="mobile")
    shop.edits.stage(edit.id, quantities={"1": 1})
    shop.orders.place_hold(order_id, "fraud_review", "checking")
    before = table_contents(shop)
    with pytest.raises(OrderEditConflict):
        shop.edits.commit(edit.id)
    assert table_contents(shop) == before


def test_an_address_change_routes_everything_unreleased_again(shop: Oms) -> None:
    order_id = in_milan(shop, "W-1", {"SKU-1": 2, "SKU-2": 1})
    (old,) = shop.orders.get(order_id).fulfillment_orders
    assert old.location == "milan"
    edit = shop.edits.begin(order_id, channel="web", actor="customer-1")
    shop.edits.stage(edit.id, shipping_address=ROME_ADDRESS)
    preview = shop.edits.preview(edit.id)
    done = shop.edits.commit(edit.id)
    assert done.summary == preview
    order = shop.orders.get(order_id)
    assert order.shipping_address == ROME_ADDRESS
    assert order.fulfillment_order(old.id).status is F.CANCELLED
    assert {loc for loc, _, _ in live(shop, order_id)} <= {"rome", "store-rome"}
    assert done.summary is not None
    assert done.summary.address_changed
    assert done.summary.cancelled_fulfillment_orders == (old.id,)
    assert stock_rows(shop)[("milan", "SKU-1")].reserved == 0
    assert stock_rows(shop)[("milan", "SKU-2")].reserved == 0
    assert sum(q for (loc, _), q in active_reservations(shop).items()) == 3
    assert order.promised_date is not None


def test_delivery_switches_to_pickup_in_a_store(shop: Oms) -> None:
    order_id = in_milan(shop, "W-1", {"SKU-1": 2})
    edit = shop.edits.begin(order_id, channel="mobile")
    shop.edits.stage(edit.id, delivery=DeliveryMethod(kind=DeliveryKind.PICKUP,
                                                      pickup_location="store-rome"))
    done = shop.edits.commit(edit.id)
    order = shop.orders.get(order_id)
    assert order.delivery.kind is DeliveryKind.PICKUP
    assert live(shop, order_id) == [("store-rome", "created", (("1", 2),))]
    assert done.summary is not None
    assert done.summary.delivery_changed
    assert stock_rows(shop)[("store-rome", "SKU-1")].reserved == 2
    # And back to shipping, to the address the order still has.
    back = shop.edits.begin(order_id, channel="mobile")
    shop.edits.stage(back.id, delivery=DeliveryMethod())
    shop.edits.commit(back.id)
    assert live(shop, order_id) == [("milan", "created", (("1", 2),))]


def test_a_pickup_at_a_location_without_pickup_is_refused(shop: Oms) -> None:
    order_id = in_milan(shop, "W-1", {"SKU-1": 2})
    edit = shop.edits.begin(order_id, channel="mobile")
    shop.edits.stage(edit.id, delivery=DeliveryMethod(kind=DeliveryKind.PICKUP,
                                                      pickup_location="rome"))
    before = table_contents(shop)
    with pytest.raises(InvalidCommand, match="invalid_pickup_location"):
        shop.edits.commit(edit.id)
    assert table_contents(shop) == before


def test_abandoning_leaves_no_reservation(shop: Oms) -> None:
    order_id = in_milan(shop, "W-1", {"SKU-1": 2})
    stock = stock_rows(shop)
    reservations = reservation_statuses(shop, order_id)
    edit = shop.edits.begin(order_id, channel="mobile")
    shop.edits.stage(edit.id, quantities={"1": 8},
                     add_lines=[NewLine(sku="SKU-2", quantity=3, unit_price="1")])
    preview = shop.edits.preview(edit.id)  # routes and reserves, then rolls back
    assert sum(a.quantity for a in preview.allocations) == 9
    abandoned = shop.edits.abandon(edit.id)
    assert abandoned.status is EditStatus.ABANDONED
    assert stock_rows(shop) == stock
    assert reservation_statuses(shop, order_id) == reservations
    assert shop.edits.abandon(edit.id).status is EditStatus.ABANDONED  # again: nothing
    with pytest.raises(OrderEditClosed):
        shop.edits.commit(edit.id)
    with pytest.raises(OrderEditClosed):
        shop.edits.stage(edit.id, quantities={"1": 1})


def test_a_preview_writes_nothing_and_matches_the_commit(shop: Oms) -> None:
    order_id = in_milan(shop, "W-1", {"SKU-1": 2})
    edit = shop.edits.begin(order_id, channel="mobile")
    shop.edits.stage(edit.id, quantities={"1": 6})
    before = table_contents(shop)
    preview = shop.edits.preview(edit.id)
    assert table_contents(shop) == before
    assert (preview.lines[0].before, preview.lines[0].after) == (2, 6)
    assert shop.edits.commit(edit.id).summary == preview


def test_a_whole_edit_submitted_twice_commits_once(shop: Oms) -> None:
    order_id = in_milan(shop, "W-1", {"SKU-1": 2})
    order = shop.orders.get(order_id)
    command = EditOrder(channel="mobile", actor="customer-1", idempotency_key="app-77",
                        order_channel=order.channel, order_external_id=order.external_id,
                        quantities={"1": 4})
    first = shop.edits.submit(command)
    again = shop.edits.submit(command)
    assert again.id == first.id
    assert shop.orders.get(order_id).line("1").open_quantity == 4
    committed = [e.event for e in shop.orders.timeline(order_id)
                 if e.event_type == "order.edit_committed"]
    assert len(committed) == 1
    assert isinstance(committed[0], OrderEditCommitted)
    assert (committed[0].channel, committed[0].actor) == ("mobile", "customer-1")
    assert committed[0].summary.lines[0].difference == 2
    with pytest.raises(IdempotencyKeyConflict):
        shop.edits.submit(EditOrder(channel="mobile", actor="customer-1",
                                    idempotency_key="app-77", order_id=order_id,
                                    quantities={"1": 5}))


def test_begin_and_stage_are_idempotent_with_keys(shop: Oms) -> None:
    order_id = in_milan(shop, "W-1", {"SKU-1": 2})
    edit = shop.edits.begin(order_id, channel="mobile", idempotency_key="b-1")
    assert shop.edits.begin(order_id, channel="mobile", idempotency_key="b-1").id == edit.id
    with pytest.raises(IdempotencyKeyConflict):
        shop.edits.begin(order_id, channel="web", idempotency_key="b-1")
    line = NewLine(sku="SKU-2", quantity=1, unit_price="2")
    shop.edits.stage(edit.id, add_lines=[line], idempotency_key="s-1")
    staged = shop.edits.stage(edit.id, add_lines=[line], idempotency_key="s-1")
    assert len(staged.changes.add_lines) == 1
    with pytest.raises(IdempotencyKeyConflict):
        shop.edits.stage(edit.id, quantities={"1": 1}, idempotency_key="s-1")
    # Later quantities replace earlier ones; a line added by the edit can be changed too.
    shop.edits.stage(edit.id, quantities={"1": 3})
    staged = shop.edits.stage(edit.id, quantities={"1": 4, "2": 5})
    assert dict(staged.changes.quantities) == {"1": 4}
    assert staged.changes.add_lines[0].quantity == 5
    assert shop.edits.commit(edit.id).summary is not None
    assert shop.edits.commit(edit.id).status is EditStatus.COMMITTED  # again: as it was
    assert [x.open_quantity for x in shop.orders.get(order_id).lines] == [4, 5]


def test_an_edit_expires_and_then_cannot_commit(shop: Oms, clock: MutableClock) -> None:
    order_id = in_milan(shop, "W-1", {"SKU-1": 2})
    edit = shop.edits.begin(order_id, channel="mobile")
    shop.edits.stage(edit.id, quantities={"1": 1})
    clock.advance(timedelta(hours=25))
    assert shop.edits.get(edit.id).status is EditStatus.EXPIRED
    with pytest.raises(OrderEditClosed, match="expired"):
        shop.edits.commit(edit.id)
    assert shop.edits.expire() == 1
    assert shop.edits.expire() == 0
    assert [e.status for e in shop.edits.for_order(order_id)] == [EditStatus.EXPIRED]
    assert shop.orders.get(order_id).line("1").open_quantity == 2


def test_bad_edits_are_refused_and_change_nothing(shop: Oms) -> None:
    order_id = in_milan(shop, "W-1", {"SKU-1": 2})
    edit = shop.edits.begin(order_id, channel="mobile")
    before = table_contents(shop)
    with pytest.raises(LineNotFound):
        shop.edits.stage(edit.id, quantities={"9": 1})
    with pytest.raises(InvalidCommand, match="every unit"):
        shop.edits.stage(edit.id, remove_lines=["1"])
    with pytest.raises(InvalidCommand, match="unit_price"):
        shop.edits.stage(edit.id, add_lines=[NewLine(sku="SKU-2", quantity=1,
                                                     unit_price="1.005")])
    with pytest.raises(InvalidCommand, match="stage at least one change"):
        shop.edits.stage(edit.id)
    with pytest.raises(InvalidCommand, match="unknown_sku"):
        shop.edits.submit(EditOrder(channel="mobile", idempotency_key="x", order_id=order_id,
                                    add_lines=[NewLine(sku="NOPE", quantity=1, unit_price="1")]))
    with pytest.raises(OrderEditNotFound):
        shop.edits.commit("no-such-edit")
    with pytest.raises(OrderNotFound):
        shop.edits.submit(EditOrder(channel="mobile", idempotency_key="x",
                                    order_channel="web", order_external_id="W-404",
                                    quantities={"1": 1}))
    with pytest.raises(OrderNotFound):
        shop.edits.begin("no-such-order", channel="mobile")
    assert table_contents(shop) == before


def test_a_cancelled_order_cannot_be_edited(shop: Oms) -> None:
    order_id = in_milan(shop, "W-1", {"SKU-1": 2})
    shop.orders.cancel(order_id)
    with pytest.raises(OrderNotEditable):
        shop.edits.begin(order_id, channel="mobile")


def test_edits_run_as_commands_from_json(shop: Oms) -> None:
    order_id = in_milan(shop, "W-1", {"SKU-1": 2})
    edit = shop.execute(shop.command("begin_order_edit", {
        "order_id": order_id, "channel": "mobile", "actor": "customer-1"}))
    shop.execute(shop.command("stage_order_edit", {
        "edit_id": edit.id, "quantities": {"1": 3},
        "add_lines": [{"sku": "SKU-2", "quantity": 1, "unit_price": "4.00"}],
        "shipping_address": {"line1": "Via del Corso 1", "city": "Roma", "country": "IT"}}))
    done = shop.execute(shop.command("commit_order_edit", {"edit_id": edit.id}))
    assert done.status is EditStatus.COMMITTED
    whole = shop.execute(shop.command("edit_order", {
        "channel": "mobile", "idempotency_key": "k-1", "order_id": order_id,
        "remove_lines": ["2"]}))
    assert whole.status is EditStatus.COMMITTED
    assert shop.execute(shop.command("expire_order_edits", {})) == 0
    with pytest.raises(InvalidCommand, match="quantities"):
        shop.command("stage_order_edit", {"edit_id": edit.id, "quantities": {"1": "3"}})


def test_an_edit_of_a_held_order_waits_for_the_hold(shop: Oms) -> None:
    order_id = in_milan(shop, "W-1", {"SKU-1": 1})
    shop.orders.place_hold(order_id, "fraud_review", "checking")
    shop.edits.submit(EditOrder(channel="call_center", idempotency_key="h-1",
                                order_id=order_id, quantities={"1": 3}))
    held = shop.orders.get(order_id)
    assert held.status is OrderStatus.ON_HOLD
    assert [(b.line_id, b.quantity) for b in held.backordered()] == [("1", 2)]
    released = shop.orders.release_hold(order_id, "fraud_review")
    assert not released.backordered()
    assert sum(fo.units for fo in released.fulfillment_orders) == 3


def test_a_channel_without_parse_edit_takes_no_edits(make_oms: Callable[..., Oms]) -> None:
    from tests.integration.test_plugin_contracts import Channels, GoodConnector

    oms = make_oms(plugins=[Channels(GoodConnector())])
    before = table_contents(oms)
    with pytest.raises(EditsNotSupported) as caught:
        oms.channels.receive_edit("megamart", {"order": "M-1"})
    assert caught.value.channel == "megamart"
    assert table_contents(oms) == before


def _at_once(*calls: Callable[[], object]) -> list[object]:
    """Run the calls at the same moment on their own threads; each one's result or error."""
    outcomes: list[object] = [None] * len(calls)
    barrier = threading.Barrier(len(calls))

    def run(i: int) -> None:
        barrier.wait()
        try:
            outcomes[i] = calls[i]()
        except Exception as exc:  # collected for the test to judge
            outcomes[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return outcomes


def test_two_edits_of_one_version_committed_at_once_commit_one(shop: Oms) -> None:
    order_id = in_milan(shop, "W-1", {"SKU-1": 2})
    first = shop.edits.begin(order_id, channel="mobile")
    second = shop.edits.begin(order_id, channel="call_center")
    shop.edits.stage(first.id, quantities={"1": 5})
    shop.edits.stage(second.id, add_lines=[NewLine(sku="SKU-2", quantity=4, unit_price="1")])
    outcomes = _at_once(lambda: shop.edits.commit(first.id),
                        lambda: shop.edits.commit(second.id))
    conflicts = [o for o in outcomes if isinstance(o, OrderEditConflict)]
    committed = [o for o in outcomes if not isinstance(o, Exception)]
    assert (len(conflicts), len(committed)) == (1, 1), outcomes
    order = shop.orders.get(order_id)
    units = sum(x.open_quantity for x in order.lines)
    assert units in (5, 6)  # one edit or the other, never both
    assert sum(active_reservations(shop).values()) == units


def test_one_edit_submitted_twice_at_once_commits_once(shop: Oms) -> None:
    order_id = in_milan(shop, "W-1", {"SKU-1": 2})
    command = EditOrder(channel="mobile", idempotency_key="app-1", order_id=order_id,
                        quantities={"1": 4})
    outcomes = _at_once(lambda: shop.edits.submit(command), lambda: shop.edits.submit(command))
    assert not [o for o in outcomes if isinstance(o, Exception)], outcomes
    assert len({o.id for o in outcomes}) == 1  # type: ignore[attr-defined]
    assert shop.orders.get(order_id).line("1").open_quantity == 4
    assert sum(active_reservations(shop).values()) == 4
