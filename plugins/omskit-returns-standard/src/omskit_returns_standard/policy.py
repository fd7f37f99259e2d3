"""The standard returns policy: judge a return request and price its refund."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from omskit import (
    RefundContext,
    RefundQuote,
    RefusalCode,
    ReturnContext,
    ReturnRefusal,
    minor_units,
)

from omskit_returns_standard.settings import ShippingRefund, standard_settings

#: The policy's code (``settings["returns"]["policy"]`` names it when several are installed).
CODE = "standard"


def _cents(amount: Decimal, currency: str) -> Decimal:
    return amount.quantize(Decimal(1).scaleb(-minor_units(currency)), rounding=ROUND_HALF_UP)


class StandardReturnsPolicy:
    """A return window from delivery, reasons, non-returnable categories, a restocking fee,
    a label fee, shipping refunds and store-return rules, read from
    ``settings["returns_standard"]`` (see :mod:`omskit_returns_standard.settings`)."""

    code = CODE

    def evaluate(self, context: ReturnContext,
                 settings: Mapping[str, Any]) -> Sequence[ReturnRefusal]:
        """Every reason to refuse the request (empty: it may go ahead)."""
        rules = standard_settings(settings)
        found: list[ReturnRefusal] = []
        start = context.delivered_at or context.shipped_at or context.placed_at
        if context.requested_at > start + timedelta(days=rules.window_days):
            found.append(ReturnRefusal(
                code=RefusalCode.WINDOW_CLOSED,
                message=f"the {rules.window_days}-day return window closed on "
                        f"{(start + timedelta(days=rules.window_days)).date().isoformat()}"))
        if rules.channels and context.channel not in rules.channels:
            found.append(ReturnRefusal(
                code=RefusalCode.OTHER,
                message=f"returns are not taken through channel {context.channel!r}"))
        if context.location_is_store:
            found.extend(self._store(context, rules.stores.accept, rules.stores.other_stores,
                                     rules.stores.order_channels))
        for line in context.lines:
            category = rules.category(line.sku)
            if category is not None and category in rules.non_returnable_categories:
                found.append(ReturnRefusal(
                    code=RefusalCode.NON_RETURNABLE, line_id=line.line_id,
                    message=f"{line.sku} ({category}) cannot be returned"))
            if rules.require_reason and not line.reason:
                found.append(ReturnRefusal(code=RefusalCode.REASON, line_id=line.line_id,
                                           message=f"line {line.line_id}: give a reason"))
            elif line.reason and rules.reasons and line.reason not in rules.reasons:
                found.append(ReturnRefusal(
                    code=RefusalCode.REASON, line_id=line.line_id,
                    message=f"line {line.line_id}: {line.reason!r} is not a return reason "
                            f"(one of {', '.join(sorted(rules.reasons))})"))
        return found

    @staticmethod
    def _store(context: ReturnContext, accept: bool, other_stores: bool,
               order_channels: frozenset[str]) -> list[ReturnRefusal]:
        where = context.location or "the store"
        if not accept:
            return [ReturnRefusal(code=RefusalCode.LOCATION,
                                  message="stores do not take returns")]
        found: list[ReturnRefusal] = []
        if not other_stores and context.location not in context.shipped_from:
            found.append(ReturnRefusal(
                code=RefusalCode.LOCATION,
                message=f"{where} did not ship this order and takes back only its own"))
        if order_channels and context.order_channel not in order_channels:
            found.append(ReturnRefusal(
                code=RefusalCode.LOCATION,
                message=f"orders from {context.order_channel!r} cannot be returned in a "
                        "store"))
        return found

    def quote(self, context: RefundContext, settings: Mapping[str, Any]) -> RefundQuote:
        """Items received (less unrefunded dispositions), shipping by the rule, and fees."""
        rules = standard_settings(settings)
        items = Decimal(0)
        fees = Decimal(0)
        notes: list[str] = []
        reasons: set[str] = set()
        for line in context.lines:
            kept = sum(n for d, n in line.dispositions.items()
                       if d in rules.unrefunded_dispositions)
            units = max(line.received - kept, 0)
            value = line.unit_price * units
            items += value
            if units:
                reasons.add(line.reason)
            fee_applies = (not rules.restocking_fee_reasons
                           or line.reason in rules.restocking_fee_reasons)
            if units and rules.restocking_fee_percent and fee_applies:
                fee = _cents(value * rules.restocking_fee_percent / 100, context.currency)
                fees += fee
                notes.append(f"restocking fee {rules.restocking_fee_percent}% on line "
                             f"{line.line_id}: {fee}")
        if (context.label_used and rules.label_fee and items
                and not (reasons and reasons <= rules.free_label_reasons)):
            fees += rules.label_fee
            notes.append(f"return label: {rules.label_fee}")
        refund_shipping = (rules.shipping_refund is ShippingRefund.ALWAYS
                           or (rules.shipping_refund is ShippingRefund.WHOLE_ORDER
                               and context.whole_order_returned))
        shipping = context.shipping_paid if refund_shipping and items else Decimal(0)
        return RefundQuote(items=_cents(items, context.currency),
                           shipping=_cents(shipping, context.currency),
                           fees=_cents(min(fees, items + shipping), context.currency),
                           notes=tuple(notes))
