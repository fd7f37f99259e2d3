"""What omskit writes into Stripe objects' ``metadata``, and reads back to reconcile.

Stripe keeps no look-up by idempotency key, so the key travels with the objects it made:

- a PaymentIntent carries its authorisation's key (``omskit_idempotency_key``) and the
  order's id (``omskit_order_id``, for people reading the Dashboard);
- each capture adds a marker, ``omskit_capture_<hash of its key>`` = the amount it took in
  Stripe's minor units, in the same request as the capture, so the marker exists exactly
  when the capture does (metadata is merged, never replaced);
- a Refund carries its key and the order's id.

Stripe allows 50 metadata keys per object: with the two fixed ones, a payment can be captured
48 times through omskit (Stripe's own limit is 50).
"""

from __future__ import annotations

import hashlib
from typing import Final

#: The idempotency key of the request that made the object (an authorisation, a refund).
KEY: Final = "omskit_idempotency_key"
#: The omskit order the payment belongs to.
ORDER: Final = "omskit_order_id"
#: Prefix of a capture's marker.
CAPTURE_PREFIX: Final = "omskit_capture_"


def capture_marker(idempotency_key: str) -> str:
    """The metadata key recording the capture made under ``idempotency_key`` (Stripe's keys
    are at most 40 characters, so the idempotency key is hashed)."""
    return CAPTURE_PREFIX + hashlib.sha256(idempotency_key.encode()).hexdigest()[:24]
