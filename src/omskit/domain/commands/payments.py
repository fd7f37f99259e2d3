"""Payment commands (``oms.payments``) and the payment part of ``PlaceOrder``.

Money moves only once per business action: each command names its action (the order, the
fulfilment order or refund key it is for), omskit derives the idempotency key from it, and
a repeat of the same command changes nothing and returns the same summary.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

import attrs

from omskit.domain.checks import check_code, check_text
from omskit.domain.commands.base import Command, checked, code, identifier, text
from omskit.domain.values import decimal_places, to_decimal

#: Largest amount of one tender, capture or refund: above any order's total.
MAX_PAYMENT_AMOUNT = Decimal("1000000000000000000000")


def check_payment_amount(value: object, field: str, problems: list[str]) -> None:
    """Append a problem unless ``value`` is a Decimal above zero, at most
    :data:`MAX_PAYMENT_AMOUNT`, with at most four decimals (the currency's own limit is
    checked against the order's currency)."""
    if not isinstance(value, Decimal) or not value.is_finite():
        problems.append(f"{field}: must be a decimal amount, not {value!r}")
    elif not 0 < value <= MAX_PAYMENT_AMOUNT:
        problems.append(f"{field}: {value} is outside 0 (excluded)..{MAX_PAYMENT_AMOUNT}")
    elif decimal_places(value) > 4:
        problems.append(f"{field}: {value} has more than 4 decimals")


def _amount(value: object) -> Decimal:
    return to_decimal(value, field="amount")


def _optional_amount(value: object) -> Decimal | None:
    return None if value is None else _amount(value)


@attrs.frozen(kw_only=True)
class Tender:
    """One way an order is paid: a provider and a payment-method token to authorise, or
    funds the channel already captured (``captured=True``: a till, a marketplace; then
    ``provider`` is optional and ``reference`` is the channel's receipt)."""

    amount: Decimal = attrs.field(converter=_amount)
    provider: str | None = None
    method_token: str | None = None
    captured: bool = False
    reference: str = ""

    def problems(self, field: str) -> list[str]:
        """Every problem with this tender, each as ``field.x: message``."""
        found: list[str] = []
        check_payment_amount(self.amount, f"{field}.amount", found)
        if self.provider is not None:
            check_code(self.provider, f"{field}.provider", found)
        elif not self.captured:
            found.append(f"{field}.provider: required unless the channel captured the funds")
        if self.method_token is not None:
            check_text(self.method_token, f"{field}.method_token", found)
        captured: object = self.captured
        if not isinstance(captured, bool):
            found.append(f"{field}.captured: must be true or false")
        check_text(self.reference, f"{field}.reference", found)
        return found


def _as_tenders(value: object) -> tuple[Tender, ...]:
    return tuple(value) if isinstance(value, list | tuple) else value  # type: ignore[return-value]


@attrs.frozen(kw_only=True)
class OrderPayment:
    """How an order placed with ``PlaceOrder(payment=...)`` is paid: its tenders (split
    tender allowed). Tenders to authorise put the order on the ``payment_pending`` hold
    until omskit has authorised them, after the placement commits."""

    tenders: tuple[Tender, ...] = attrs.field(converter=_as_tenders)

    def problems(self) -> list[str]:
        """Every problem with the payment part, as ``payment.…: message``."""
        found: list[str] = []
        if not isinstance(self.tenders, tuple) or not self.tenders:
            return ["payment.tenders: give at least one tender"]
        if len(self.tenders) > 20:
            found.append("payment.tenders: more than 20 tenders")
        given: tuple[object, ...] = self.tenders[:20]
        for i, tender in enumerate(given):
            if not isinstance(tender, Tender):
                found.append(f"payment.tenders[{i}]: must be a Tender")
                continue
            found.extend(tender.problems(f"payment.tenders[{i}]"))
        return found


@attrs.frozen(kw_only=True)
class AuthorisePayment(Command):
    """Authorise the order's tenders that are not authorised yet (or one of them).
    Naturally idempotent: an authorised tender is not authorised again."""

    name = "authorise_payment"
    subject = "authorisation"

    order_id: str = identifier()
    transaction_id: str | None = identifier(optional=True, default=None)


@attrs.frozen(kw_only=True)
class CapturePayment(Command):
    """Capture ``amount`` (default: everything still authorised) for the business action
    ``reference`` (a fulfilment order id, say). Idempotent per reference."""

    name = "capture_payment"
    subject = "capture"

    order_id: str = identifier()
    reference: str = identifier()
    amount: Decimal | None = checked(  # noqa: RUF009 - attrs field, not a default value
        check_payment_amount, optional=True, default=None, converter=_optional_amount)
    #: The last capture: what is left of the authorisation is released.
    final: bool = False

    def check(self, problems: list[str]) -> None:
        final: object = self.final
        if not isinstance(final, bool):
            problems.append("final: must be true or false")


@attrs.frozen(kw_only=True)
class VoidPayment(Command):
    """Release what is left of every authorisation of the order. Naturally idempotent."""

    name = "void_payment"
    subject = "void"

    order_id: str = identifier()


@attrs.frozen(kw_only=True)
class RefundPayment(Command):
    """Give ``amount`` of what was captured back. Idempotent per ``refund_key``: the same
    key again changes nothing; with another amount it is ``IdempotencyKeyConflict``."""

    name = "refund_payment"
    subject = "refund"

    order_id: str = identifier()
    amount: Decimal = checked(check_payment_amount, converter=_amount)  # noqa: RUF009
    refund_key: str = identifier()
    reason: str = text()


@attrs.frozen(kw_only=True)
class RecordChannelCapture(Command):
    """Record funds the channel captured itself (a till, a marketplace) for an order.
    Idempotent per ``reference`` (the channel's receipt)."""

    name = "record_channel_capture"
    subject = "channel capture"

    order_id: str = identifier()
    amount: Decimal = checked(check_payment_amount, converter=_amount)  # noqa: RUF009
    reference: str = identifier()
    #: Who holds the money (default: the order's channel).
    channel: str | None = code(optional=True, default=None)


def _headers(value: object) -> Mapping[str, str]:
    return dict(value) if isinstance(value, Mapping) else value  # type: ignore[return-value]


def _body(value: object) -> bytes:
    # From JSON a body arrives as text: the bytes of that text are what was signed.
    return value.encode("utf-8") if isinstance(value, str) else value  # type: ignore[return-value]


@attrs.frozen(kw_only=True)
class HandlePaymentWebhook(Command):
    """A provider's webhook, exactly as received: its headers and raw body. The provider
    plugin verifies the signature; a delivery seen before changes nothing."""

    name = "handle_payment_webhook"
    subject = "payment webhook"

    provider: str = code()
    headers: Mapping[str, str] = attrs.field(converter=_headers)
    body: bytes = attrs.field(converter=_body)

    def check(self, problems: list[str]) -> None:
        headers: object = self.headers
        if not isinstance(headers, Mapping) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in headers.items()):
            problems.append("headers: must map header names to strings")
        body: object = self.body
        if not isinstance(body, bytes):
            problems.append("body: must be bytes (or text)")
        elif len(body) > 1_000_000:
            problems.append("body: larger than 1 MB")


__all__ = ["MAX_PAYMENT_AMOUNT", "AuthorisePayment", "CapturePayment", "HandlePaymentWebhook",
           "OrderPayment", "RecordChannelCapture", "RefundPayment", "Tender", "VoidPayment",
           "check_payment_amount"]
