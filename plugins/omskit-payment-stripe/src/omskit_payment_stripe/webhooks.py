"""Stripe events as omskit payment notifications (after the signature was verified).

- ``payment_intent.amount_capturable_updated``: with nothing captured yet, an ``authorise``
  success of the amount held; after a capture, that ``capture`` (a part of a multicapture).
- ``payment_intent.succeeded``: the final ``capture``.
- ``payment_intent.payment_failed``: an ``authorise`` failure, the decline code as reason.
- ``payment_intent.canceled`` (unless ``automatic``): a ``void`` of what was not captured.
- ``refund.created``, ``refund.updated``, ``refund.failed``, and ``charge.refunded`` when it
  lists its refunds: a ``refund`` success (pending or succeeded) or failure per Refund.
- ``charge.dispute.created`` (unless an inquiry): a ``chargeback`` of the disputed amount;
  ``charge.dispute.closed`` as ``won``: its ``chargeback_reversal``.
- Any other event: nothing.

Each notification carries the event's id (a second delivery changes nothing), the
PaymentIntent's id, and the idempotency key of the request it answers when there is one: the
event's ``request.idempotency_key``, or the key omskit wrote into the object's metadata.

A capture is reported only when it was made through omskit: the event's request key names a
capture marker in the intent's metadata, which says how much that capture took (the intent
itself only shows running totals). A capture made in the Dashboard is therefore not
reported; refunds and disputes are, wherever they came from. Stripe cancelling an
authorisation when it lapses (``cancellation_reason=automatic``) is not reported either: the
core already knows when it lapses (``capture_before``) and renews it before a release.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from omskit import PaymentAction, PaymentNotification, PaymentOutcome

from omskit_payment_stripe import currencies, metadata

Event = Mapping[str, Any]
Notes = list[PaymentNotification]


def _at(seconds: object) -> datetime:
    if isinstance(seconds, bool) or not isinstance(seconds, int):
        raise TypeError(f"a timestamp in seconds, not {seconds!r}")
    return datetime.fromtimestamp(seconds, UTC)


def _request_key(event: Event) -> str | None:
    found = (event.get("request") or {}).get("idempotency_key")
    return str(found) if found else None


def _note(event: Event, obj: Mapping[str, Any], *, action: PaymentAction,
          outcome: PaymentOutcome, amount: int, payment: str, key: str | None,
          operation: str = "", reason: str = "", final: bool = False,
          suffix: str = "") -> PaymentNotification:
    return PaymentNotification(
        notification_id=f"{event['id']}{suffix}", provider_reference=payment, action=action,
        outcome=outcome, amount=currencies.from_minor(amount, str(obj["currency"])),
        occurred_at=_at(event["created"]), idempotency_key=key, operation_reference=operation,
        reason=reason, final=final)


def _capture(event: Event, intent: Mapping[str, Any], *, final: bool) -> Notes:
    key = _request_key(event)
    marker = (intent.get("metadata") or {}).get(metadata.capture_marker(key)) if key else None
    if marker is None:
        return []  # not captured through omskit (see the module docstring)
    charge = intent.get("latest_charge")
    return [_note(event, intent, action=PaymentAction.CAPTURE, outcome=PaymentOutcome.SUCCESS,
                  amount=int(marker), payment=str(intent["id"]), key=key,
                  operation=charge if isinstance(charge, str) else "", final=final)]


def _capturable(event: Event, intent: Mapping[str, Any]) -> Notes:
    if intent["status"] != "requires_capture":
        return []
    if intent["amount_received"] > 0:
        return _capture(event, intent, final=False)
    key = (intent.get("metadata") or {}).get(metadata.KEY) or _request_key(event)
    return [_note(event, intent, action=PaymentAction.AUTHORISE,
                  outcome=PaymentOutcome.SUCCESS, amount=int(intent["amount_capturable"]),
                  payment=str(intent["id"]), key=key)]


def _succeeded(event: Event, intent: Mapping[str, Any]) -> Notes:
    return _capture(event, intent, final=True)


def _failed(event: Event, intent: Mapping[str, Any]) -> Notes:
    error = intent.get("last_payment_error") or {}
    reason = error.get("decline_code") or error.get("code") or "card_declined"
    key = (intent.get("metadata") or {}).get(metadata.KEY) or _request_key(event)
    return [_note(event, intent, action=PaymentAction.AUTHORISE, outcome=PaymentOutcome.FAILURE,
                  amount=int(intent["amount"]), payment=str(intent["id"]), key=key,
                  reason=str(reason))]


def _canceled(event: Event, intent: Mapping[str, Any]) -> Notes:
    released = int(intent["amount"]) - int(intent.get("amount_received") or 0)
    if intent.get("cancellation_reason") == "automatic" or released <= 0:
        return []
    if not intent.get("latest_charge") or intent.get("last_payment_error"):
        return []  # never authorised (declined, or left waiting for 3-D Secure): nothing held
    return [_note(event, intent, action=PaymentAction.VOID, outcome=PaymentOutcome.SUCCESS,
                  amount=released, payment=str(intent["id"]), key=_request_key(event))]


def _refund(event: Event, refund: Mapping[str, Any], *, suffix: str = "") -> Notes:
    payment = refund.get("payment_intent")
    status = refund.get("status")
    if not isinstance(payment, str) or status not in ("pending", "succeeded", "failed",
                                                     "canceled"):
        return []  # a refund of a bare charge, or one still waiting for the customer
    failed = status in ("failed", "canceled")
    key = (refund.get("metadata") or {}).get(metadata.KEY)
    if key is None and event["type"] == "refund.created":
        key = _request_key(event)
    return [_note(event, refund, action=PaymentAction.REFUND,
                  outcome=PaymentOutcome.FAILURE if failed else PaymentOutcome.SUCCESS,
                  amount=int(refund["amount"]), payment=payment, key=key,
                  operation=str(refund["id"]),
                  reason=str(refund.get("failure_reason") or status) if failed else "",
                  suffix=suffix)]


def _refund_event(event: Event, refund: Mapping[str, Any]) -> Notes:
    return _refund(event, refund)


def _charge_refunded(event: Event, charge: Mapping[str, Any]) -> Notes:
    # Recent API versions leave the refunds out of the charge; refund.* events carry them.
    listed = (charge.get("refunds") or {}).get("data") or []
    return [note for refund in listed for note in _refund(event, refund, suffix=f"/{refund['id']}")]


def _dispute(event: Event, dispute: Mapping[str, Any], action: PaymentAction) -> Notes:
    payment = dispute.get("payment_intent")
    if not isinstance(payment, str):
        return []
    return [_note(event, dispute, action=action, outcome=PaymentOutcome.SUCCESS,
                  amount=int(dispute["amount"]), payment=payment, key=None,
                  operation=str(dispute["id"]), reason=str(dispute.get("reason") or ""))]


def _dispute_created(event: Event, dispute: Mapping[str, Any]) -> Notes:
    if str(dispute["status"]).startswith("warning_"):
        return []  # an inquiry: no funds were taken
    return _dispute(event, dispute, PaymentAction.CHARGEBACK)


def _dispute_closed(event: Event, dispute: Mapping[str, Any]) -> Notes:
    if dispute["status"] != "won":
        return []  # lost: the chargeback stands; an inquiry closed: nothing was taken
    return _dispute(event, dispute, PaymentAction.CHARGEBACK_REVERSAL)


#: What each event type reports (every other type reports nothing).
HANDLERS: Mapping[str, Callable[[Event, Mapping[str, Any]], Notes]] = {
    "payment_intent.amount_capturable_updated": _capturable,
    "payment_intent.succeeded": _succeeded,
    "payment_intent.payment_failed": _failed,
    "payment_intent.canceled": _canceled,
    "refund.created": _refund_event,
    "refund.updated": _refund_event,
    "refund.failed": _refund_event,
    "charge.refunded": _charge_refunded,
    "charge.dispute.created": _dispute_created,
    "charge.dispute.closed": _dispute_closed,
}


def notifications(event: object) -> Notes:
    """The notifications of one verified event (``KeyError``, ``TypeError`` or
    ``ValueError`` when it is not shaped as a Stripe event)."""
    if not isinstance(event, Mapping) or event.get("object") != "event":
        raise TypeError("not an event object")
    handler = HANDLERS.get(str(event["type"]))
    if handler is None:
        _at(event["created"])  # still an event: check its shape, report nothing
        return []
    obj = event["data"]["object"]
    if not isinstance(obj, Mapping):
        raise TypeError("data.object is not an object")
    return handler(event, obj)
