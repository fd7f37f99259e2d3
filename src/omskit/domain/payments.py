"""The payment ledger: one transaction per tender, append-only entries, amounts derived.

An order is paid through one :class:`PaymentTransaction` per tender (a card, a gift card, a
till's cash: split tender is several). Everything that happens to a transaction is a
:class:`PaymentEntry` appended to its ledger, never changed: a *request* written before the
provider is called, then its *success* or *failure*, under the same idempotency key; or a
success reported by a provider's webhook or by the channel that took the money itself.
Every amount (authorised, captured, refunded, pending) and the order's authorise and
charge status and balance are computed from the entries by :class:`PaymentLedger` and
:func:`order_payment`; none is stored, so none can disagree with the history.

Pure Python: no database, no provider. The payment service stores the entries and calls
the providers; this module decides what the entries mean and what may be asked next.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import ClassVar

import attrs

from omskit.domain.checks import MAX_ID_LENGTH
from omskit.domain.errors import (
    AuthorisationExpired,
    PaymentAmountExceeded,
    UnsupportedPaymentOperation,
)
from omskit.domain.events import OrderEvent
from omskit.domain.values import Money, exactly

#: How long an authorisation holds when the provider does not say (card schemes: 7 days).
DEFAULT_AUTHORISATION_TTL = timedelta(days=7)
#: Hold code of an order whose payment is not authorised yet (or was declined).
PAYMENT_PENDING = "payment_pending"


class PaymentCapability(enum.StrEnum):
    """What a payment provider can do; the core branches on these, never on a name."""

    #: Authorise now, capture later (else: authorise captures at once).
    MANUAL_CAPTURE = "manual_capture"
    #: Capture less than was authorised.
    PARTIAL_CAPTURE = "partial_capture"
    #: Capture one authorisation in several parts (one per shipment).
    MULTI_CAPTURE = "multi_capture"
    #: Raise an authorisation's amount.
    INCREMENTAL_AUTHORISATION = "incremental_authorisation"
    #: Release an authorisation without capturing it.
    VOID = "void"
    #: Release part of an authorisation and keep the rest (an authorisation adjusted down,
    #: when an order's total falls before capture).
    PARTIAL_VOID = "partial_void"
    #: Refund less than was captured.
    PARTIAL_REFUND = "partial_refund"
    #: Refund one capture in several parts.
    MULTIPLE_REFUNDS = "multiple_refunds"
    #: Tell omskit about outcomes through signed webhooks.
    WEBHOOKS = "webhooks"


class PaymentAction(enum.StrEnum):
    """What an entry is about."""

    AUTHORISE = "authorise"
    CAPTURE = "capture"
    VOID = "void"
    REFUND = "refund"
    #: The card holder's bank took captured funds back (a dispute lost).
    CHARGEBACK = "chargeback"
    #: A chargeback was reversed (a dispute won): the funds came back.
    CHARGEBACK_REVERSAL = "chargeback_reversal"


class PaymentOutcome(enum.StrEnum):
    """Whether an entry asks, or says how an ask ended."""

    REQUEST = "request"
    SUCCESS = "success"
    FAILURE = "failure"


class PaymentErrorClass(enum.StrEnum):
    """How a provider call failed (see ``PaymentProviderError``)."""

    #: Nothing happened at the provider; the same call may succeed later.
    RETRYABLE = "retryable"
    #: The provider refused (a decline, a rule): asking again will not help.
    PERMANENT = "permanent"
    #: Nobody knows whether it happened: reconcile with ``retrieve`` before any retry.
    OUTCOME_UNKNOWN = "outcome_unknown"


class PaymentEntrySource(enum.StrEnum):
    """Who reported an entry."""

    #: omskit, calling the provider.
    CORE = "core"
    #: The provider, through a verified webhook.
    WEBHOOK = "webhook"
    #: The provider's answer to ``retrieve`` after an outcome-unknown call.
    RECONCILE = "reconcile"
    #: The sales channel, which took the money itself (a till, a marketplace).
    CHANNEL = "channel"


class PaymentTransactionKind(enum.StrEnum):
    """Whether omskit moves the money or only records it."""

    #: Through a payment provider plugin.
    PROVIDER = "provider"
    #: Captured by the channel (a till, a marketplace); omskit only records it.
    CHANNEL = "channel"


class AuthoriseStatus(enum.StrEnum):
    """How much of what the order owes is covered by authorised or captured funds."""

    NONE = "none"
    PARTIAL = "partial"
    FULL = "full"


class ChargeStatus(enum.StrEnum):
    """How much of what the order owes has been captured (net of refunds, chargebacks)."""

    NONE = "none"
    PARTIAL = "partial"
    FULL = "full"
    #: More was captured than is owed now (lines cancelled after capture): refund due.
    OVERCHARGED = "overcharged"


@attrs.frozen(kw_only=True)
class PaymentTransaction:
    """One tender of an order: a provider (or the channel) and the amount it pays."""

    id: str
    order_id: str
    #: The payment provider's code, or the channel's code for funds it captured itself.
    provider: str
    kind: PaymentTransactionKind = PaymentTransactionKind.PROVIDER
    #: What this tender is meant to pay, in the order's currency.
    amount: Money
    #: The payment method token from checkout (a card token, a PaymentMethod id); opaque.
    method_token: str | None = None
    #: The provider's id of the payment (a PaymentIntent id), known once authorised.
    provider_reference: str | None = None
    created_at: datetime

    @property
    def currency(self) -> str:
        """The order's currency."""
        return self.amount.currency


@attrs.frozen(kw_only=True)
class PaymentEntry:
    """One append-only entry of a transaction's ledger (a payment event)."""

    transaction_id: str
    action: PaymentAction
    outcome: PaymentOutcome
    amount: Money
    #: Pairs a request with its result; the provider receives it and de-duplicates on it.
    idempotency_key: str
    #: The provider's id of this operation (a refund id, a capture id), when it gave one.
    provider_reference: str = ""
    #: A capture that closes the authorisation: what is left of it is released.
    final: bool = False
    #: For a failure: how the call failed, and the provider's reason (``card_declined``).
    error_class: PaymentErrorClass | None = None
    error_message: str = ""
    #: For an authorisation's success: when it stops holding the funds.
    expires_at: datetime | None = None
    source: PaymentEntrySource = PaymentEntrySource.CORE
    occurred_at: datetime
    #: Write order in the ledger (0 until stored).
    seq: int = 0

    @property
    def is_result(self) -> bool:
        """Whether this entry ends a request (a success or a failure)."""
        return self.outcome is not PaymentOutcome.REQUEST


def business_key(transaction_id: str, action: PaymentAction, reference: str) -> str:
    """The idempotency key of one business action on one transaction: capture for this
    fulfilment order, refund under this key... Long keys are hashed to fit an identifier,
    so the same action always gets the same key."""
    key = f"{transaction_id}:{action.value}:{reference}"
    if len(key) <= MAX_ID_LENGTH - 4:  # room for an attempt suffix ("#12")
        return key
    digest = hashlib.sha256(key.encode()).hexdigest()[:40]
    return f"{transaction_id}:{action.value}:{digest}"


def attempt_key(base: str, attempt: int) -> str:
    """The key of the ``attempt``-th try of a business action (1: the base key itself).

    A failed try ends its key; the next try of the same action is a new key, so the
    provider cannot answer it with the stored failure."""
    return base if attempt <= 1 else f"{base}#{attempt}"


def base_of(key: str) -> str:
    """The business key an attempt key belongs to."""
    return key.rpartition("#")[0] if "#" in key else key


def _sum(currency: str, amounts: Iterable[Decimal]) -> Money:
    return Money(exactly("sum", lambda: sum(amounts, Decimal(0))), currency)


def _minus(currency: str, a: Decimal, *rest: Decimal) -> Decimal:
    return exactly("difference", lambda: a - sum(rest, Decimal(0)))


def _entries(entries: Iterable[PaymentEntry]) -> tuple[PaymentEntry, ...]:
    return tuple(entries)


@attrs.frozen
class PaymentLedger:
    """A transaction and its entries, with every amount derived from them.

    Read it under the transaction's row lock to decide whether a request may be made; the
    answers count pending requests (asked, no result yet) as if they had succeeded, so
    concurrent requests can never add up to more than is there.
    """

    transaction: PaymentTransaction
    entries: tuple[PaymentEntry, ...] = attrs.field(converter=_entries)

    # -- requests and their results -----------------------------------------------------------

    def result_of(self, key: str) -> PaymentEntry | None:
        """The success or failure recorded under ``key``, if any."""
        return next((e for e in self.entries if e.idempotency_key == key and e.is_result),
                    None)

    def request_of(self, key: str) -> PaymentEntry | None:
        """The request written under ``key``, if any."""
        return next((e for e in self.entries if e.idempotency_key == key
                     and e.outcome is PaymentOutcome.REQUEST), None)

    def pending(self, action: PaymentAction | None = None) -> tuple[PaymentEntry, ...]:
        """Requests with no result yet (of ``action``), oldest first."""
        done = {e.idempotency_key for e in self.entries if e.is_result}
        return tuple(e for e in self.entries if e.outcome is PaymentOutcome.REQUEST
                     and e.idempotency_key not in done
                     and (action is None or e.action is action))

    def attempts(self, base: str) -> list[PaymentEntry]:
        """The requests made for business key ``base``, oldest first."""
        return [e for e in self.entries if e.outcome is PaymentOutcome.REQUEST
                and base_of(e.idempotency_key) == base]

    def _total(self, action: PaymentAction, outcome: PaymentOutcome) -> Decimal:
        return exactly("sum", lambda: sum(
            (e.amount.amount for e in self.entries
             if e.action is action and e.outcome is outcome), Decimal(0)))

    def _pending_total(self, action: PaymentAction) -> Decimal:
        return exactly("sum", lambda: sum(
            (e.amount.amount for e in self.pending(action)), Decimal(0)))

    def _money(self, amount: Decimal) -> Money:
        return Money(amount, self.transaction.currency)

    # -- derived amounts -----------------------------------------------------------------------

    @property
    def authorised(self) -> Money:
        """Every successful authorisation (incremental ones add up)."""
        return self._money(self._total(PaymentAction.AUTHORISE, PaymentOutcome.SUCCESS))

    @property
    def captured(self) -> Money:
        """Every successful capture (before refunds and chargebacks)."""
        return self._money(self._total(PaymentAction.CAPTURE, PaymentOutcome.SUCCESS))

    @property
    def refunded(self) -> Money:
        """Every successful refund."""
        return self._money(self._total(PaymentAction.REFUND, PaymentOutcome.SUCCESS))

    @property
    def voided(self) -> Money:
        """What voids released of the authorisation."""
        return self._money(self._total(PaymentAction.VOID, PaymentOutcome.SUCCESS))

    @property
    def charged_back(self) -> Money:
        """Chargebacks, less the chargebacks reversed."""
        return self._money(_minus(
            self.transaction.currency,
            self._total(PaymentAction.CHARGEBACK, PaymentOutcome.SUCCESS),
            self._total(PaymentAction.CHARGEBACK_REVERSAL, PaymentOutcome.SUCCESS)))

    @property
    def net_captured(self) -> Money:
        """Money the merchant holds: captured, less refunds and standing chargebacks."""
        return self._money(_minus(self.transaction.currency, self.captured.amount,
                                  self.refunded.amount, self.charged_back.amount))

    @property
    def closed(self) -> bool:
        """Whether the authorisation is over: a void released everything left on it, or a
        final capture released the rest. A void of part of it (``partial_void``: an order
        whose total fell) leaves the rest open."""
        authorised = captured = voided = Decimal(0)
        for e in self.entries:
            if e.outcome is not PaymentOutcome.SUCCESS:
                continue
            amount = e.amount.amount
            if e.action is PaymentAction.AUTHORISE:
                authorised += amount
            elif e.action is PaymentAction.CAPTURE:
                if e.final:
                    return True
                captured += amount
            elif e.action is PaymentAction.VOID:
                if amount >= authorised - captured - voided:
                    return True
                voided += amount
        return False

    @property
    def expires_at(self) -> datetime | None:
        """When the latest successful authorisation stops holding the funds."""
        found = [e.expires_at for e in self.entries
                 if e.action is PaymentAction.AUTHORISE
                 and e.outcome is PaymentOutcome.SUCCESS and e.expires_at is not None]
        return max(found) if found else None

    @property
    def renewal_unanswered(self) -> bool:
        """Whether a renewal of an expired authorisation was asked of the provider and no
        answer recorded (a crash between the call and the record)."""
        renewal = business_key(self.transaction.id, PaymentAction.AUTHORISE, "renewal")
        return any(base_of(e.idempotency_key) == renewal
                   for e in self.pending(PaymentAction.AUTHORISE))

    def expired(self, at: datetime) -> bool:
        """Whether an authorisation with something left on it has expired by ``at``."""
        expires = self.expires_at
        return (expires is not None and at >= expires and not self.closed
                and self.uncaptured.amount > 0)

    @property
    def uncaptured(self) -> Money:
        """What the authorisation still holds: authorised, less captured and voided; zero
        once closed. Pending requests not counted (see :meth:`capturable`)."""
        if self.closed:
            return self._money(Decimal(0))
        left = _minus(self.transaction.currency, self.authorised.amount,
                      self.captured.amount, self.voided.amount)
        return self._money(max(left, Decimal(0)))

    def capturable(self, at: datetime) -> Money:
        """What a new capture may take now: the uncaptured authorisation, less pending
        captures; nothing while a void is pending or once the authorisation expired."""
        if self.pending(PaymentAction.VOID) or self.expired(at):
            return self._money(Decimal(0))
        left = _minus(self.transaction.currency, self.uncaptured.amount,
                      self._pending_total(PaymentAction.CAPTURE))
        return self._money(max(left, Decimal(0)))

    @property
    def refundable(self) -> Money:
        """What a new refund may give back: net captured, less pending refunds."""
        left = _minus(self.transaction.currency, self.net_captured.amount,
                      self._pending_total(PaymentAction.REFUND))
        return self._money(max(left, Decimal(0)))

    @property
    def pending_amount(self) -> Money:
        """Amounts asked of the provider and not answered yet (every action)."""
        return _sum(self.transaction.currency, (e.amount.amount for e in self.pending()))

    @property
    def authorisation_failure(self) -> PaymentEntry | None:
        """The latest failed authorisation, unless one succeeded since."""
        last = None
        for e in self.entries:
            if e.action is PaymentAction.AUTHORISE and e.is_result:
                last = e
        return last if last is not None and last.outcome is PaymentOutcome.FAILURE else None

    @property
    def needs_authorisation(self) -> bool:
        """A provider tender that has no successful authorisation yet."""
        return (self.transaction.kind is PaymentTransactionKind.PROVIDER
                and self.authorised.amount == 0 and not self.closed)

    # -- what may be asked next ----------------------------------------------------------------

    def _live_requests(self, action: PaymentAction) -> list[PaymentEntry]:
        """Requests of ``action`` that did not fail (pending or succeeded)."""
        failed = {e.idempotency_key for e in self.entries
                  if e.outcome is PaymentOutcome.FAILURE}
        return [e for e in self.entries if e.action is action
                and e.outcome is PaymentOutcome.REQUEST and e.idempotency_key not in failed]

    def check_capture(self, amount: Money, at: datetime, capabilities: frozenset[str],
                      *, final: bool) -> None:
        """Raise unless a capture of ``amount`` may be asked now (writes nothing)."""
        tx = self.transaction
        if self.expired(at):
            raise AuthorisationExpired(tx.id, self.expires_at)
        available = self.capturable(at)
        if amount.amount > available.amount:
            raise PaymentAmountExceeded(tx.id, PaymentAction.CAPTURE.value, amount.amount,
                                        available.amount)
        if (self._live_requests(PaymentAction.CAPTURE)
                and PaymentCapability.MULTI_CAPTURE not in capabilities):
            raise UnsupportedPaymentOperation(tx.provider, "a second capture",
                                              PaymentCapability.MULTI_CAPTURE.value)
        partial = amount.amount < self.uncaptured.amount
        if partial and PaymentCapability.PARTIAL_CAPTURE not in capabilities:
            raise UnsupportedPaymentOperation(tx.provider, "a partial capture",
                                              PaymentCapability.PARTIAL_CAPTURE.value)

    def check_void(self, amount: Money, capabilities: frozenset[str]) -> None:
        """Raise unless a void of ``amount`` may be asked now (writes nothing): less than all
        the authorisation still holds only with ``partial_void``."""
        tx = self.transaction
        if PaymentCapability.VOID not in capabilities:
            raise UnsupportedPaymentOperation(tx.provider, "a void",
                                              PaymentCapability.VOID.value)
        # A void of everything left (or more: a capture landed since it was planned) closes
        # the authorisation, as voids always did; only less than that needs partial_void.
        left = self.uncaptured
        if amount.amount < left.amount and PaymentCapability.PARTIAL_VOID not in capabilities:
            raise UnsupportedPaymentOperation(tx.provider, "a partial void",
                                              PaymentCapability.PARTIAL_VOID.value)

    def check_refund(self, amount: Money, capabilities: frozenset[str]) -> None:
        """Raise unless a refund of ``amount`` may be asked now (writes nothing)."""
        tx = self.transaction
        available = self.refundable
        if amount.amount > available.amount:
            raise PaymentAmountExceeded(tx.id, PaymentAction.REFUND.value, amount.amount,
                                        available.amount)
        if tx.kind is PaymentTransactionKind.CHANNEL:
            return  # the channel refunds its own money; omskit records what it did
        if (self._live_requests(PaymentAction.REFUND)
                and PaymentCapability.MULTIPLE_REFUNDS not in capabilities):
            raise UnsupportedPaymentOperation(tx.provider, "a second refund",
                                              PaymentCapability.MULTIPLE_REFUNDS.value)
        if (amount.amount < self.net_captured.amount
                and PaymentCapability.PARTIAL_REFUND not in capabilities):
            raise UnsupportedPaymentOperation(tx.provider, "a partial refund",
                                              PaymentCapability.PARTIAL_REFUND.value)


@attrs.frozen(kw_only=True)
class PaymentSummary:
    """An order's payment position, derived from its transactions' ledgers."""

    order_id: str
    #: What the order owes now: its open lines (nothing once cancelled).
    due: Money
    authorised: Money
    captured: Money
    refunded: Money
    charged_back: Money
    #: Still held by authorisations, not yet captured.
    uncaptured: Money
    #: Asked of providers, no answer yet.
    pending: Money
    authorise_status: AuthoriseStatus
    charge_status: ChargeStatus
    #: ``due`` less net captured: what the customer still owes (negative: owed to them).
    balance: Money
    transactions: tuple[PaymentLedger, ...]


def order_payment(order_id: str, due: Money,
                  ledgers: Sequence[PaymentLedger]) -> PaymentSummary:
    """The order's payment position from its ledgers and what it owes now."""
    currency = due.currency

    def total(values: Iterable[Money]) -> Money:
        return _sum(currency, (m.amount for m in values))

    net = total(x.net_captured for x in ledgers)
    uncaptured = total(x.uncaptured for x in ledgers)
    covered = exactly("sum", lambda: net.amount + uncaptured.amount)
    if covered <= 0:
        authorise = AuthoriseStatus.NONE
    else:
        authorise = AuthoriseStatus.FULL if covered >= due.amount else AuthoriseStatus.PARTIAL
    if net.amount <= 0:
        charge = ChargeStatus.NONE
    elif net.amount < due.amount:
        charge = ChargeStatus.PARTIAL
    elif net.amount == due.amount:
        charge = ChargeStatus.FULL
    else:
        charge = ChargeStatus.OVERCHARGED
    return PaymentSummary(
        order_id=order_id, due=due, authorised=total(x.authorised for x in ledgers),
        captured=total(x.captured for x in ledgers),
        refunded=total(x.refunded for x in ledgers),
        charged_back=total(x.charged_back for x in ledgers), uncaptured=uncaptured,
        pending=total(x.pending_amount for x in ledgers), authorise_status=authorise,
        charge_status=charge,
        balance=Money(_minus(currency, due.amount, net.amount), currency),
        transactions=tuple(ledgers))


def split(amount: Money, available: Sequence[tuple[str, Money]]) -> list[tuple[str, Money]]:
    """Share ``amount`` over transactions in the order given, each up to what it has:
    ``[(transaction_id, part), ...]`` without zero parts. The caller checks the total."""
    parts: list[tuple[str, Money]] = []
    left = amount.amount
    for tx_id, room in available:
        if left <= 0:
            break
        take = min(left, room.amount)
        if take > 0:
            parts.append((tx_id, Money(take, amount.currency)))
            left = exactly("difference", lambda: left - take)  # noqa: B023 - used at once
    return parts


# -- settling a changed total ---------------------------------------------------------------------


class PaymentStepKind(enum.StrEnum):
    """What settling an order's changed total asks of a tender."""

    #: Raise the tender's authorisation by the difference (``incremental_authorisation``).
    INCREMENTAL_AUTHORISATION = "incremental_authorisation"
    #: Authorise the difference as a new transaction on the same tender (provider and
    #: payment method), when the provider cannot raise an authorisation.
    NEW_AUTHORISATION = "new_authorisation"
    #: Give back money captured beyond what the order owes now.
    REFUND = "refund"
    #: Release everything the tender's authorisation still holds.
    VOID = "void"
    #: Release part of the authorisation (``partial_void``), keep the rest for the capture.
    VOID_DOWN = "void_down"
    #: The provider cannot release part of an authorisation: what the order no longer
    #: needs stays held until the final capture (or a cancellation) releases it.
    LEFT_TO_FINAL_CAPTURE = "left_to_final_capture"


@attrs.frozen(kw_only=True)
class PaymentStep:
    """One step of bringing an order's payment in line with what it owes now."""

    kind: PaymentStepKind
    amount: Decimal
    #: The tender it acts on (for a new authorisation: the tender whose provider and
    #: payment method it reuses).
    transaction_id: str


def settlement(ledgers: Sequence[PaymentLedger], due: Money, at: datetime,
               capabilities: Callable[[PaymentTransaction], frozenset[str]], *,
               increase: bool = True, reduce: bool = True) -> tuple[PaymentStep, ...]:
    """The steps that bring an order's tenders in line with ``due``, what it owes now.

    Money already captured, held by authorisations, asked for and not yet answered, or
    waiting for a tender's first authorisation counts as covering the order. What ``due``
    exceeds that by (``increase``) is authorised: as an increment of the latest open
    authorisation when its provider declares ``incremental_authorisation``, else as a new
    authorisation on the same tender. What was captured beyond ``due`` (``reduce``) is
    refunded, latest tenders first; then what authorisations hold beyond what is left to
    capture is released, latest first: a whole authorisation by a void, part of one by a
    partial void when the provider declares ``partial_void`` (else it stays held until the
    final capture releases it). Only provider tenders are acted on; money a channel took
    itself counts, and is the channel's to give back. Pure: nothing is asked or written.
    """
    currency = due.currency
    providers = [x for x in ledgers if x.transaction.kind is PaymentTransactionKind.PROVIDER]
    if not providers:
        return ()

    def total(values: Iterable[Decimal | list[Decimal]]) -> Decimal:
        flat = [v for value in values
                for v in (value if isinstance(value, list) else [value])]
        return exactly("sum", lambda: sum(flat, Decimal(0)))

    net = total(x.net_captured.amount for x in ledgers)
    pending_refunds = total(e.amount.amount for x in ledgers
                            for e in x.pending(PaymentAction.REFUND))
    pending_captures = total(e.amount.amount for x in ledgers
                             for e in x.pending(PaymentAction.CAPTURE))
    steps: list[PaymentStep] = []
    if increase:
        # A tender waiting for its first authorisation covers its amount; an authorised
        # one what it still holds, and increments asked of it and not yet answered.
        held = total([x.transaction.amount.amount] if x.needs_authorisation
                     else [x.uncaptured.amount,
                           *(e.amount.amount for e in x.pending(PaymentAction.AUTHORISE))]
                     for x in providers)
        shortfall = exactly("difference", lambda: due.amount - net - held)
        if shortfall > 0:
            open_ = [x for x in providers if x.authorised.amount > 0 and not x.closed
                     and not x.expired(at)
                     and PaymentCapability.INCREMENTAL_AUTHORISATION
                     in capabilities(x.transaction)]
            if open_:
                return (PaymentStep(kind=PaymentStepKind.INCREMENTAL_AUTHORISATION,
                                    amount=shortfall, transaction_id=open_[-1].transaction.id),)
            return (PaymentStep(kind=PaymentStepKind.NEW_AUTHORISATION, amount=shortfall,
                                transaction_id=providers[-1].transaction.id),)
    if not reduce:
        return ()
    over = exactly("difference", lambda: net - due.amount - pending_refunds)
    for x in reversed(providers):
        if over <= 0:
            break
        take = min(over, x.refundable.amount)
        if take <= 0:
            continue
        try:
            x.check_refund(Money(take, currency), capabilities(x.transaction))
        except (UnsupportedPaymentOperation, PaymentAmountExceeded):
            continue  # this provider cannot give part back: the balance shows it is owed
        steps.append(PaymentStep(kind=PaymentStepKind.REFUND, amount=take,
                                 transaction_id=x.transaction.id))
        over = exactly("difference", lambda: over - take)  # noqa: B023 - used at once
    refunded = total(s.amount for s in steps)
    still_captured = exactly("difference",
                             lambda: net - pending_refunds - refunded + pending_captures)
    needed = max(Decimal(0), exactly("difference", lambda: due.amount - still_captured))
    holding = [(x, x.capturable(at).amount) for x in providers]
    excess = exactly("difference",
                     lambda: total(amount for _, amount in holding) - needed)
    for x, amount in reversed(holding):
        if excess <= 0:
            break
        take = min(excess, amount)
        if take <= 0:
            continue
        caps = capabilities(x.transaction)
        whole = take >= x.uncaptured.amount
        if whole and PaymentCapability.VOID in caps:
            kind = PaymentStepKind.VOID
        elif not whole and {PaymentCapability.VOID, PaymentCapability.PARTIAL_VOID} <= caps:
            kind = PaymentStepKind.VOID_DOWN
        else:
            kind = PaymentStepKind.LEFT_TO_FINAL_CAPTURE
        steps.append(PaymentStep(kind=kind, amount=take, transaction_id=x.transaction.id))
        excess = exactly("difference", lambda: excess - take)  # noqa: B023 - used at once
    return tuple(steps)


# -- what the core and a provider plugin exchange ------------------------------------------------


@attrs.frozen(kw_only=True)
class PaymentRequest:
    """One call the core makes of a provider: what to do, for how much, under which key.

    The provider must pass ``idempotency_key`` on to its API (Stripe's ``Idempotency-Key``):
    the same key asked twice must never move money twice.
    """

    action: PaymentAction
    idempotency_key: str
    amount: Money
    order_id: str
    transaction_id: str
    #: The provider's id of the payment, once authorised (``None`` for a first
    #: authorisation).
    provider_reference: str | None = None
    #: The payment method token from checkout (authorisations).
    method_token: str | None = None
    #: For a capture: the last one; the provider releases what is left of the authorisation.
    final: bool = False


@attrs.frozen(kw_only=True)
class PaymentResult:
    """A provider's answer that an operation succeeded."""

    #: The provider's id of the payment (a PaymentIntent id): the same for every operation
    #: of a transaction.
    provider_reference: str
    #: What was moved (authorised, captured, voided, refunded).
    amount: Money
    #: The provider's id of this operation (a refund id), if it has one.
    operation_reference: str = ""
    #: For an authorisation: when it stops holding the funds (``None``: the default TTL).
    expires_at: datetime | None = None


@attrs.frozen(kw_only=True)
class PaymentNotification:
    """What a verified webhook says happened to a payment."""

    #: The provider's id of the notification: a second delivery of it changes nothing.
    notification_id: str
    #: The provider's id of the payment it is about.
    provider_reference: str
    action: PaymentAction
    #: ``success`` or ``failure``.
    outcome: PaymentOutcome
    amount: Money
    occurred_at: datetime
    #: The idempotency key of the request it answers, when the provider echoes it.
    idempotency_key: str | None = None
    operation_reference: str = ""
    #: For a failure: the provider's reason code.
    reason: str = ""
    #: For a capture: whether it closed the authorisation.
    final: bool = False
    expires_at: datetime | None = None


# -- events written to the outbox ---------------------------------------------------------------


@attrs.frozen(kw_only=True)
class PaymentAuthorisationRequested(OrderEvent):
    """An order was placed with tenders to authorise: omskit authorises them after commit
    (the ``payment_pending`` hold stays until they are)."""

    event_type: ClassVar[str] = "payment.authorisation_requested"
    transaction_ids: tuple[str, ...]


@attrs.frozen(kw_only=True)
class PaymentRecorded(OrderEvent):
    """A result was written to a transaction's ledger: a provider's answer, a webhook's
    news, or funds a channel captured."""

    event_type: ClassVar[str] = "payment.recorded"
    transaction_id: str
    provider: str
    action: str
    outcome: str
    amount: Decimal
    currency: str
    idempotency_key: str
    source: str
    reason: str = ""


#: The payment events the core registers.
PAYMENT_EVENTS: tuple[type[OrderEvent], ...] = (PaymentAuthorisationRequested, PaymentRecorded)
