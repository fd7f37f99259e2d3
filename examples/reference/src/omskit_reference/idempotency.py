"""``Idempotency-Key`` on every POST: a retried request gets the first answer back.

The key is claimed before the work starts (a row in ``running`` state, unique per API key
and idempotency key), and the answer is stored when it is known. A retry then:

- with the same request, gets the stored status and body (and ``Idempotent-Replayed: true``);
- while the first is still running, gets 409 and ``Retry-After``;
- with a different request under the same key, gets 422: the key was reused by mistake.

Answers are stored for successes and for omskit's typed errors (the request was judged, a
retry would be judged the same way); an unexpected failure frees the key so that a retry
runs again. omskit's own commands are idempotent too (an order is placed once per channel
and external id), so a crash between the work and storing its answer costs a repeated
answer, never a repeated effect.

The claim, the stored answer and the look-up of a retry are one statement each, sent
without a transaction around them on PostgreSQL (one round trip, not three: see
:mod:`.connections`): a single statement is atomic by itself, and the primary key still lets
exactly one of two concurrent requests claim.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime

import attrs
import sqlalchemy as sa
from omskit import Oms

from omskit_reference.connections import one_statement
from omskit_reference.tables import ReferenceTables

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255


@attrs.frozen(kw_only=True)
class Reply:
    """An answer as sent and as stored: status, body, media type and the order's ETag."""

    status: int
    body: bytes
    media_type: str = "application/json"
    etag: str | None = None
    replayed: bool = False


@attrs.frozen
class KeyInUse:
    """The first request with this key is still being served."""


@attrs.frozen
class KeyReused:
    """The key was used before for another request."""


def request_hash(method: str, path: str, body: bytes) -> str:
    """What identifies a request under one idempotency key."""
    digest = hashlib.sha256()
    for part in (method.encode(), path.encode(), body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


class IdempotencyKeys:
    """The claimed keys and their stored answers."""

    def __init__(self, oms: Oms, tables: ReferenceTables,
                 clock: Callable[[], datetime]) -> None:
        self._oms = oms
        self._t = tables.idempotency
        self._clock = clock

    def run(self, api_key_id: str, key: str, fingerprint: str,
            work: Callable[[], Reply]) -> Reply | KeyInUse | KeyReused:
        """Serve the request once under ``key``; see the module docstring."""
        t = self._t
        claimed = self._claim(api_key_id, key, fingerprint)
        if not claimed:
            with one_statement(self._oms.engine) as conn:
                row = conn.execute(sa.select(t).where(
                    t.c.api_key_id == api_key_id, t.c.idempotency_key == key)).one_or_none()
            if row is None:  # the first attempt failed and freed the key meanwhile
                return KeyInUse()
            if row.request_hash != fingerprint:
                return KeyReused()
            if row.state != "done":
                return KeyInUse()
            return Reply(status=row.status_code, body=row.body, media_type=row.media_type,
                         etag=row.etag, replayed=True)
        try:
            reply = work()
        except BaseException:
            with one_statement(self._oms.engine) as conn:
                conn.execute(t.delete().where(t.c.api_key_id == api_key_id,
                                              t.c.idempotency_key == key))
            raise
        with one_statement(self._oms.engine) as conn:
            conn.execute(t.update().where(t.c.api_key_id == api_key_id,
                                          t.c.idempotency_key == key)
                         .values(state="done", status_code=reply.status, body=reply.body,
                                 media_type=reply.media_type, etag=reply.etag))
        return reply

    def _claim(self, api_key_id: str, key: str, fingerprint: str) -> bool:
        try:
            with one_statement(self._oms.engine) as conn:
                conn.execute(self._t.insert().values(
                    api_key_id=api_key_id, idempotency_key=key, request_hash=fingerprint,
                    state="running", created_at=self._clock().isoformat()))
        except sa.exc.IntegrityError:
            return False
        return True
