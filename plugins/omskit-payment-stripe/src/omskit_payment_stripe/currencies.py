"""Amounts as Stripe writes them: integers in each currency's smallest unit, by Stripe's rules.

Stripe's minor units are not always ISO 4217's (which omskit's ``Money`` follows): the
zero-decimal currencies take the amount as it is (500 JPY is ``500``), the three-decimal ones
take thousandths whose last digit must be 0 (5.120 KWD is ``5120``), and ISK stays a
two-decimal currency in the API although only whole krónur may be charged (5 ISK is
``500``). Everything else is hundredths. The lists are Stripe's "Supported currencies" page.
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
#: Hundredths, but only whole units may be charged (multiples of 100).
WHOLE_UNITS_IN_HUNDREDTHS: Final = frozenset({"ISK"})


def exponent(currency: str) -> int:
    """How many decimals Stripe's integer amounts carry in ``currency``."""
    code = currency.upper()
    if code in ZERO_DECIMAL:
        return 0
    return 3 if code in THREE_DECIMAL else 2


def _step(currency: str) -> int:
    code = currency.upper()
    if code in THREE_DECIMAL:
        return 10
    return 100 if code in WHOLE_UNITS_IN_HUNDREDTHS else 1


def to_minor(money: Money) -> int:
    """``money`` as Stripe's integer amount; ``ValueError`` when Stripe cannot take it
    (more decimals than Stripe's unit, or a unit Stripe requires to be rounded)."""
    scaled = money.amount.scaleb(exponent(money.currency))
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{money.amount} {money.currency} has more decimals than Stripe takes "
                         f"in {money.currency} ({exponent(money.currency)})")
    minor = int(scaled)
    step = _step(money.currency)
    if minor % step:
        raise ValueError(f"Stripe takes {money.currency} amounts only in multiples of {step} "
                         f"of its unit, not {minor}")
    return minor


def from_minor(amount: int, currency: str) -> Money:
    """Stripe's integer ``amount`` in ``currency`` (any case) as ``Money``."""
    code = currency.upper()
    return Money(Decimal(amount).scaleb(-exponent(code)), code)
