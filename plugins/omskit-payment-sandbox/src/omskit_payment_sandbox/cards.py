"""Test card numbers and what the sandbox does with them (as card processors' test modes do)."""

from __future__ import annotations

from typing import Final

#: Authorised (any amount).
APPROVED: Final = "4242424242424242"
#: Declined by the issuer at authorisation: ``card_declined``.
DECLINED: Final = "4000000000000002"
#: Declined at authorisation for lack of funds: ``insufficient_funds``.
INSUFFICIENT_FUNDS: Final = "4000000000009995"
#: Declined at authorisation as expired: ``expired_card``.
EXPIRED_CARD: Final = "4000000000000069"

#: Decline reason per test card; any other well-formed number is approved.
DECLINES: Final[dict[str, str]] = {
    DECLINED: "card_declined",
    INSUFFICIENT_FUNDS: "insufficient_funds",
    EXPIRED_CARD: "expired_card",
}


def decline_reason(card: str | None) -> str | None:
    """Why the sandbox declines an authorisation on ``card`` (None: it approves).

    A missing or malformed number (not 12 to 19 digits) is ``invalid_number``."""
    if card is None or not card.isdigit() or not 12 <= len(card) <= 19:
        return "invalid_number"
    return DECLINES.get(card)
