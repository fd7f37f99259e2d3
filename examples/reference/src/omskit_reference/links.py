"""Tracking links: how a customer reaches their own order, and nothing else.

A link carries a random token (256 bits); only its SHA-256 is stored. Whoever holds the link
sees that one order's status, expected date and tracking events, and cannot change anything.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from datetime import datetime

import sqlalchemy as sa
from omskit import Oms

from omskit_reference.tables import ReferenceTables


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class TrackingLinks:
    """Issue a link's token for an order; find the order a token names."""

    def __init__(self, oms: Oms, tables: ReferenceTables,
                 clock: Callable[[], datetime]) -> None:
        self._oms = oms
        self._t = tables.tracking_links
        self._clock = clock

    def issue(self, order_id: str) -> str:
        """A new token for the order (``OrderNotFound`` for an unknown one)."""
        self._oms.orders.get(order_id)
        token = secrets.token_urlsafe(32)
        with self._oms.engine.begin() as conn:
            conn.execute(self._t.insert().values(token_hash=_hash(token), order_id=order_id,
                                                 created_at=self._clock().isoformat()))
        return token

    def order_id(self, token: str) -> str | None:
        """The order the token was issued for, or ``None``."""
        if not token or len(token) > 128:
            return None
        with self._oms.engine.connect() as conn:
            found = conn.execute(sa.select(self._t.c.order_id).where(
                self._t.c.token_hash == _hash(token))).scalar_one_or_none()
        return None if found is None else str(found)
