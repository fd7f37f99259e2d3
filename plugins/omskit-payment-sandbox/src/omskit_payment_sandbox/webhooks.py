"""Webhook signatures: HMAC-SHA256 over the timestamp and the raw body, as Stripe signs.

The header is ``Sandbox-Signature: t=<unix seconds>,v1=<hex digest>``; the digest is
``HMAC-SHA256(secret, f"{t}." + body)``. A signature older than the tolerance is refused, so
a captured delivery cannot be replayed much later.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime

#: The header carrying the signature.
SIGNATURE_HEADER = "Sandbox-Signature"
#: How old a signature may be, in seconds.
TOLERANCE_SECONDS = 300


def sign(secret: bytes, body: bytes, at: datetime) -> dict[str, str]:
    """Headers for delivering ``body``, signed at ``at``."""
    timestamp = str(int(at.timestamp()))
    digest = hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return {SIGNATURE_HEADER: f"t={timestamp},v1={digest}",
            "Content-Type": "application/json"}


def verify(secret: bytes, headers: Mapping[str, str], body: bytes, at: datetime) -> list[str]:
    """Every problem with the signature of ``body`` (empty when it verifies)."""
    found = {k.lower(): v for k, v in headers.items()}.get(SIGNATURE_HEADER.lower())
    if found is None:
        return [f"headers: no {SIGNATURE_HEADER} header"]
    parts = dict(p.split("=", 1) for p in found.split(",") if "=" in p)
    timestamp, digest = parts.get("t", ""), parts.get("v1", "")
    if not timestamp.isdigit() or not digest:
        return [f"headers.{SIGNATURE_HEADER}: expected t=<seconds>,v1=<hex digest>"]
    expected = hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, digest):
        return [f"headers.{SIGNATURE_HEADER}: the signature does not match the body"]
    if abs(at.timestamp() - int(timestamp)) > TOLERANCE_SECONDS:
        return [f"headers.{SIGNATURE_HEADER}: signed more than {TOLERANCE_SECONDS} s from now"]
    return []
