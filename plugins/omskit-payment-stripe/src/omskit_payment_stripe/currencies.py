"""Amounts as Stripe writes them: integers in each currency's smallest unit, by Stripe's rules.

Stripe's minor units are not always ISO 4217's (which omskit's ``Money`` follows): the
zero-decimal currencies take the amount as it is (500 JPY is ``500``), the three-decimal ones
take thousandths whose last digit must be 0 (5.120 KWD is ``5120``), and everything else
is hundredths, ISK included (5 ISK is ``500``: Stripe kept it two-decimal when it became
whole krónur only, which ISO 4217's 0 decimals already ensure). Where Stripe has fewer
decimals than ISO (MGA: ISO 2, Stripe 0) an amount with cents cannot be sent. The lists are
Stripe's "Supported currencies" page.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Final

from omskit import Money

#: Taken as they are, without multiplying by 100.
ZERO_DECIMAL: Final = frozenset({"BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG",
                                 "RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF"})
#: Thousandths, rounded to the nearest ten (the last digit must be 0).
THREE_DECIMAL: Final = frozenset({"BHD", "JOD", "KWD", "OMR", "TND"})


def exponent(currency: str) -> int:
    """How many decimals Stripe's integer amounts carry in ``currency``."""
    code = currency.upper()
    if code in ZERO_DECIMAL:
        return 0
    return 3 if code in THREE_DECIMAL else 2


def to_minor(money: Money) -> int:
    """``money`` as Stripe's integer amount; ``ValueError`` when Stripe cannot take it
    (more decimals than Stripe's unit, or a three-decimal amount not rounded to ten)."""
    scaled = money.amount.scaleb(exponent(money.currency))
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{money.amount} {money.currency} has more decimals than Stripe takes "
                         f"in {money.currency} ({exponent(money.currency)})")
    minor = int(scaled)
    if money.currency.upper() in THREE_DECIMAL and minor % 10:
        raise ValueError(f"Stripe takes {money.currency} amounts rounded to the hundredth "
                         f"(the last of three decimals 0), not {money.amount}")
    return minor


def from_minor(amount: int, currency: str) -> Money:
    """Stripe's integer ``amount`` in ``currency`` (any case) as ``Money``."""
    code = currency.upper()
    return Money(Decimal(amount).scaleb(-exponent(code)), code)
