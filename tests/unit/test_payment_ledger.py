"""The payment ledger's arithmetic, with no database: every amount and status is derived
from the entries, pending requests count as taken, and what may be asked next."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from omskit import (
    AuthorisationExpired,
    AuthoriseStatus,
    ChargeStatus,
    Money,
    PaymentAction,
    PaymentAmountExceeded,
    PaymentCapability,
    PaymentEntry,
    PaymentLedger,
    PaymentOutcome,
    PaymentTransaction,
    UnsupportedPaymentOperation,
)
from omskit.domain.payments import attempt_key, base_of, business_key, order_payment, split

AT = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
ALL = frozenset(PaymentCapability)
A, O = PaymentAction, PaymentOutcome  # noqa: E741 - short aliases keep the ledgers readable


def tx(amount: str = "100.00", tx_id: str = "o-1.1") -> PaymentTransaction:
    return PaymentTransaction(id=tx_id, order_id="o-1", provider="sandbox",
                              amount=Money(amount, "EUR"), created_at=AT)


def entry(action: PaymentAction, outcome: PaymentOutcome, amount: str, key: str, *,
          final: bool = False, expires_at: datetime | None = None) -> PaymentEntry:
    return PaymentEntry(transaction_id="o-1.1", action=action, outcome=outcome,
                        amount=Money(amount, "EUR"), idempotency_key=key, final=final,
                        expires_at=expires_at, occurred_at=AT)


def done(action: PaymentAction, amount: str, key: str, **kwargs: object) -> list[PaymentEntry]:
    return [entry(action, O.REQUEST, amount, key),
            entry(action, O.SUCCESS, amount, key, **kwargs)]  # type: ignore[arg-type]


def ledger(*groups: list[PaymentEntry]) -> PaymentLedger:
    return PaymentLedger(tx(), [e for g in groups for e in g])


AUTHORISED = done(A.AUTHORISE, "100", "auth", expires_at=AT + timedelta(days=7))


def test_amounts_are_derived_from_the_entries() -> None:
    book = ledger(AUTHORISED, done(A.CAPTURE, "30", "c1"), done(A.CAPTURE, "20", "c2"),
                  done(A.REFUND, "5", "r1"))
    assert book.authorised.amount == 100
    assert book.captured.amount == 50
    assert book.refunded.amount == 5
    assert book.net_captured.amount == 45
    assert book.uncaptured.amount == 50
    assert book.capturable(AT).amount == 50
    assert book.refundable.amount == 45
    assert not book.closed


def test_pending_requests_count_as_taken() -> None:
    book = ledger(AUTHORISED, [entry(A.CAPTURE, O.REQUEST, "70", "c1")])
    assert book.captured.amount == 0
    assert book.pending_amount.amount == 70
    assert book.capturable(AT).amount == 30
    with pytest.raises(PaymentAmountExceeded) as caught:
        book.check_capture(Money("30.01", "EUR"), AT, ALL, final=False)
    assert (caught.value.requested, caught.value.available) == (Decimal("30.01"),
                                                                Decimal("30.00"))
    book.check_capture(Money("30", "EUR"), AT, ALL, final=False)


def test_a_failed_request_gives_its_amount_back() -> None:
    book = ledger(AUTHORISED, [entry(A.CAPTURE, O.REQUEST, "70", "c1"),
                               entry(A.CAPTURE, O.FAILURE, "70", "c1")])
    assert book.capturable(AT).amount == 100
    assert not book.pending()


def test_a_final_capture_releases_the_rest() -> None:
    book = ledger(AUTHORISED, done(A.CAPTURE, "30", "c1", final=True))
    assert book.closed
    assert book.uncaptured.amount == 0
    assert book.capturable(AT).amount == 0


def test_a_pending_void_stops_captures() -> None:
    book = ledger(AUTHORISED, [entry(A.VOID, O.REQUEST, "100", "v")])
    assert book.capturable(AT).amount == 0


def test_an_expired_authorisation_cannot_be_captured() -> None:
    book = ledger(AUTHORISED)
    later = AT + timedelta(days=7)
    assert book.expired(later)
    assert not book.expired(later - timedelta(seconds=1))
    assert book.capturable(later).amount == 0
    with pytest.raises(AuthorisationExpired):
        book.check_capture(Money("1", "EUR"), later, ALL, final=False)


def test_refunds_count_chargebacks_and_their_reversals() -> None:
    book = ledger(AUTHORISED, done(A.CAPTURE, "100", "c", final=True),
                  done(A.CHARGEBACK, "40", "cb"))
    assert book.charged_back.amount == 40
    assert book.refundable.amount == 60
    with pytest.raises(PaymentAmountExceeded):
        book.check_refund(Money("60.01", "EUR"), ALL)
    reversed_ = ledger(AUTHORISED, done(A.CAPTURE, "100", "c", final=True),
                       done(A.CHARGEBACK, "40", "cb"), done(A.CHARGEBACK_REVERSAL, "40", "cr"))
    assert reversed_.charged_back.amount == 0
    assert reversed_.net_captured.amount == 100


def test_capabilities_are_checked_before_anything_is_asked() -> None:
    one_capture = ALL - {PaymentCapability.MULTI_CAPTURE}
    book = ledger(AUTHORISED, done(A.CAPTURE, "30", "c1"))
    with pytest.raises(UnsupportedPaymentOperation) as caught:
        book.check_capture(Money("10", "EUR"), AT, one_capture, final=False)
    assert caught.value.capability == "multi_capture"
    with pytest.raises(UnsupportedPaymentOperation):
        ledger(AUTHORISED).check_capture(Money("10", "EUR"), AT,
                                         ALL - {PaymentCapability.PARTIAL_CAPTURE}, final=False)
    captured = ledger(AUTHORISED, done(A.CAPTURE, "100", "c", final=True))
    with pytest.raises(UnsupportedPaymentOperation):
        captured.check_refund(Money("10", "EUR"), ALL - {PaymentCapability.PARTIAL_REFUND})


@pytest.mark.parametrize(("net", "uncaptured", "due", "authorise", "charge", "balance"), [
    ("0", "0", "100", AuthoriseStatus.NONE, ChargeStatus.NONE, "100"),
    ("0", "100", "100", AuthoriseStatus.FULL, ChargeStatus.NONE, "100"),
    ("0", "60", "100", AuthoriseStatus.PARTIAL, ChargeStatus.NONE, "100"),
    ("40", "60", "100", AuthoriseStatus.FULL, ChargeStatus.PARTIAL, "60"),
    ("100", "0", "100", AuthoriseStatus.FULL, ChargeStatus.FULL, "0"),
    ("100", "0", "80", AuthoriseStatus.FULL, ChargeStatus.OVERCHARGED, "-20"),
])
def test_order_statuses_and_balance(net: str, uncaptured: str, due: str,
                                    authorise: AuthoriseStatus, charge: ChargeStatus,
                                    balance: str) -> None:
    groups = [done(A.AUTHORISE, str(Decimal(net) + Decimal(uncaptured)), "a")] \
        if Decimal(net) + Decimal(uncaptured) else []
    if Decimal(net):
        groups.append(done(A.CAPTURE, net, "c", final=not Decimal(uncaptured)))
    summary = order_payment("o-1", Money(due, "EUR"), [ledger(*groups)])
    assert summary.authorise_status is authorise
    assert summary.charge_status is charge
    assert summary.balance == Money(balance, "EUR")


def test_split_shares_an_amount_in_tender_order() -> None:
    parts = split(Money("70", "EUR"), [("t1", Money("50", "EUR")), ("t2", Money("0", "EUR")),
                                       ("t3", Money("40", "EUR"))])
    assert parts == [("t1", Money("50", "EUR")), ("t3", Money("20", "EUR"))]


def test_business_keys_are_stable_and_fit_an_identifier() -> None:
    key = business_key("o-1.1", A.CAPTURE, "fo-7")
    assert key == "o-1.1:capture:fo-7" == business_key("o-1.1", A.CAPTURE, "fo-7")
    long = business_key("o-1.1", A.REFUND, "x" * 200)
    assert len(attempt_key(long, 12)) <= 128
    assert long == business_key("o-1.1", A.REFUND, "x" * 200)
    assert base_of(attempt_key(key, 2)) == key
    assert attempt_key(key, 1) == key
