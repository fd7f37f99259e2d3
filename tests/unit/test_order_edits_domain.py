"""Order edits and payment settlement as pure domain code, with no database: what
``Order.apply_edit`` changes and refuses, how staged changes merge, what a void closes, and
the settlement plan for a total that rises or falls."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from omskit import (
    AddedLine,
    Address,
    DeliveryKind,
    DeliveryMethod,
    FulfillmentStatus,
    InvalidCommand,
    LineNotFound,
    LineQuantity,
    LineReleased,
    Money,
    Order,
    OrderNotEditable,
    PaymentAction,
    PaymentCapability,
    PaymentEntry,
    PaymentLedger,
    PaymentOutcome,
    PaymentStepKind,
    PaymentTransaction,
    PaymentTransactionKind,
    RoutedQuantity,
    StagedChanges,
    UnsupportedPaymentOperation,
)
from omskit.domain.payments import settlement
from omskit.testing import order

AT = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
ALL = frozenset(PaymentCapability)
A, O = PaymentAction, PaymentOutcome  # noqa: E741 - short aliases keep the ledgers readable
F = FulfillmentStatus


def routed(lines: dict[str, int]) -> Order:
    """An order of ``{sku: units}`` (lines 1, 2...), validated and routed to ``dc``."""
    placed = order("W-1", lines)
    placed.accept_validation([], AT)
    placed.add_fulfillment_orders("nearest", [
        RoutedQuantity(location="dc", line_id=str(i), sku=sku, quantity=q)
        for i, (sku, q) in enumerate(lines.items(), start=1)], [], AT)
    placed.collect_events()
    return placed


def test_quantity_up_is_demand_for_the_added_units_only() -> None:
    o = routed({"A": 2})
    effect = o.apply_edit(StagedChanges(quantities={"1": 5}), AT)
    assert effect.demand == (LineQuantity(line_id="1", sku="A", quantity=3),)
    assert effect.released == ()
    assert o.fulfillment_orders[0].lines == (LineQuantity(line_id="1", sku="A", quantity=2),)
    assert (effect.lines[0].before, effect.lines[0].after) == (2, 5)
    assert o.open_total == Money("50.00", "EUR")


def test_quantity_down_shrinks_the_unreleased_fulfilment_order() -> None:
    o = routed({"A": 3, "B": 1})
    effect = o.apply_edit(StagedChanges(quantities={"1": 1, "2": 0}), AT)
    (fo,) = o.fulfillment_orders
    assert fo.lines == (LineQuantity(line_id="1", sku="A", quantity=1),)
    assert {(r.line_id, r.quantity, r.fulfillment_order_id) for r in effect.released} == {
        ("1", 2, fo.id), ("2", 1, fo.id)}
    assert [x.open_quantity for x in o.lines] == [1, 0]
    assert effect.demand == ()


def test_a_new_address_reroutes_everything_unreleased() -> None:
    o = routed({"A": 2})
    rome = Address(line1="Via del Corso 1", city="Roma", country="IT")
    effect = o.apply_edit(StagedChanges(shipping_address=rome), AT)
    assert effect.reroute
    assert o.fulfillment_orders[0].status is F.CANCELLED
    assert effect.cancelled_fulfillment_orders == (o.fulfillment_orders[0].id,)
    assert effect.demand == (LineQuantity(line_id="1", sku="A", quantity=2),)
    assert o.shipping_address == rome


def test_released_lines_and_destinations_are_refused_and_nothing_changes() -> None:
    o = routed({"A": 2})
    fo = o.fulfillment_orders[0]
    o.advance_fulfillment(fo.id, F.RELEASED, AT)
    before = (o.lines[0].quantity, o.lines[0].cancelled_quantity, fo.status, o.delivery)
    with pytest.raises(LineReleased) as caught:
        o.apply_edit(StagedChanges(quantities={"1": 1}), AT)
    assert (caught.value.line_id, caught.value.status) == ("1", "released")
    pickup = DeliveryMethod(kind=DeliveryKind.PICKUP, pickup_location="store-1")
    with pytest.raises(LineReleased, match="the delivery method"):
        o.apply_edit(StagedChanges(delivery=pickup), AT)
    assert (o.lines[0].quantity, o.lines[0].cancelled_quantity, fo.status, o.delivery) == before
    # A new line is still possible.
    effect = o.apply_edit(StagedChanges(add_lines=(AddedLine(
        line_id="2", sku="B", quantity=1, unit_price=Decimal("3")),)), AT)
    assert effect.demand == (LineQuantity(line_id="2", sku="B", quantity=1),)


def test_bad_edits_are_typed_errors() -> None:
    o = routed({"A": 2})
    with pytest.raises(LineNotFound):
        o.apply_edit(StagedChanges(quantities={"9": 1}), AT)
    with pytest.raises(InvalidCommand, match="every unit"):
        o.apply_edit(StagedChanges(quantities={"1": 0}), AT)
    with pytest.raises(InvalidCommand, match="already a line"):
        o.apply_edit(StagedChanges(add_lines=(AddedLine(
            line_id="1", sku="B", quantity=1, unit_price=Decimal("3")),)), AT)
    o.cancel("changed my mind", AT)
    with pytest.raises(OrderNotEditable):
        o.apply_edit(StagedChanges(quantities={"1": 3}), AT)


def test_later_staged_changes_win() -> None:
    tea = AddedLine(line_id="2", sku="TEA", quantity=1, unit_price=Decimal("4"))
    first = StagedChanges(quantities={"1": 3}, add_lines=(tea,))
    merged = first.merged(StagedChanges(quantities={"1": 4, "2": 2}))
    assert dict(merged.quantities) == {"1": 4}
    assert merged.add_lines[0].quantity == 2
    assert merged.merged(StagedChanges(quantities={"2": 0})).add_lines == ()


# -- payments -----------------------------------------------------------------------------------


def tx(tx_id: str = "o-1.1", amount: str = "30.00", *,
       kind: PaymentTransactionKind = PaymentTransactionKind.PROVIDER) -> PaymentTransaction:
    return PaymentTransaction(id=tx_id, order_id="o-1", provider="p", kind=kind,
                              amount=Money(amount, "EUR"), created_at=AT)


def done(action: PaymentAction, amount: str, key: str, tx_id: str = "o-1.1", *,
         final: bool = False) -> list[PaymentEntry]:
    return [PaymentEntry(transaction_id=tx_id, action=action, outcome=outcome,
                         amount=Money(amount, "EUR"), idempotency_key=key, final=final,
                         expires_at=AT + timedelta(days=7) if action is A.AUTHORISE else None,
                         occurred_at=AT) for outcome in (O.REQUEST, O.SUCCESS)]


def caps(*without: PaymentCapability) -> Callable[[PaymentTransaction], frozenset[str]]:
    return lambda _tx: ALL - set(without)


def test_a_void_of_part_leaves_the_rest_open() -> None:
    book = PaymentLedger(tx(), [*done(A.AUTHORISE, "30", "a"), *done(A.VOID, "10", "v1")])
    assert (book.uncaptured.amount, book.closed) == (Decimal("20"), False)
    book = PaymentLedger(tx(), [*book.entries, *done(A.VOID, "20", "v2")])
    assert (book.uncaptured.amount, book.closed) == (0, True)
    with pytest.raises(UnsupportedPaymentOperation, match="partial_void"):
        PaymentLedger(tx(), done(A.AUTHORISE, "30", "a")).check_void(
            Money("10", "EUR"), ALL - {PaymentCapability.PARTIAL_VOID})


def test_a_rise_is_an_increment_or_a_new_authorisation() -> None:
    book = [PaymentLedger(tx(), done(A.AUTHORISE, "30", "a"))]
    due = Money("45.00", "EUR")
    (step,) = settlement(book, due, AT, caps())
    assert (step.kind, step.amount) == (PaymentStepKind.INCREMENTAL_AUTHORISATION, 15)
    (step,) = settlement(book, due, AT, caps(PaymentCapability.INCREMENTAL_AUTHORISATION))
    assert (step.kind, step.transaction_id) == (PaymentStepKind.NEW_AUTHORISATION, "o-1.1")
    # Expired: nothing to raise, so a new authorisation.
    (step,) = settlement(book, due, AT + timedelta(days=8), caps())
    assert step.kind is PaymentStepKind.NEW_AUTHORISATION
    # Covered already (a tender waiting for its first authorisation counts): nothing.
    waiting = [PaymentLedger(tx(amount="45.00"), [])]
    assert settlement(waiting, due, AT, caps()) == ()


def test_a_fall_refunds_what_was_captured_then_releases_what_is_held() -> None:
    captured = [PaymentLedger(tx(), [*done(A.AUTHORISE, "30", "a"),
                                     *done(A.CAPTURE, "30", "c")])]
    (step,) = settlement(captured, Money("20.00", "EUR"), AT, caps())
    assert (step.kind, step.amount) == (PaymentStepKind.REFUND, 10)
    held = [PaymentLedger(tx(), [*done(A.AUTHORISE, "30", "a"),
                                 *done(A.CAPTURE, "5", "c")])]
    (step,) = settlement(held, Money("20.00", "EUR"), AT, caps())
    assert (step.kind, step.amount) == (PaymentStepKind.VOID_DOWN, 10)
    (step,) = settlement(held, Money("5.00", "EUR"), AT, caps())
    assert (step.kind, step.amount) == (PaymentStepKind.VOID, 25)
    (step,) = settlement(held, Money("20.00", "EUR"), AT, caps(PaymentCapability.PARTIAL_VOID))
    assert step.kind is PaymentStepKind.LEFT_TO_FINAL_CAPTURE
    assert settlement(held, Money("20.00", "EUR"), AT, caps(), reduce=False) == ()


def test_money_a_channel_took_counts_but_is_not_given_back() -> None:
    till = PaymentLedger(tx("o-1.1", "20.00", kind=PaymentTransactionKind.CHANNEL),
                         done(A.CAPTURE, "20", "till", "o-1.1", final=True))
    card = PaymentLedger(tx("o-1.2", "30.00"), done(A.AUTHORISE, "30", "a", "o-1.2"))
    (step,) = settlement([till, card], Money("40.00", "EUR"), AT, caps())
    assert (step.kind, step.amount, step.transaction_id) == (PaymentStepKind.VOID_DOWN, 10,
                                                             "o-1.2")
    assert settlement([till], Money("10.00", "EUR"), AT, caps()) == ()
