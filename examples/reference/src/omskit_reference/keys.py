"""API keys: who may do what.

A key reads ``omsk_<id>_<secret>``. The id finds the row; only the SHA-256 of the secret is
stored, and compared in constant time. A key has one scope:

- ``admin``: everything, API keys included;
- ``operations``: every order, fulfilment order and stock item, read and change;
- ``read``: every read, no change;
- ``store``: one location's work (its fulfilment orders and its stock), nothing else;
- ``channel``: one sales channel's orders: place them, read them, cancel them.

Rotating a key issues a new one with the same scope and revokes the old one at once.

An API process remembers a key it has verified for :data:`KEY_CACHE_SECONDS` (every request
carries one, and looking it up was a seventh of a placement's time through HTTP). Revoking
(or rotating) a key refuses it at once in the process that revoked it; another process
refuses it at the latest :data:`KEY_CACHE_SECONDS` later. Only keys that were found live are
remembered, so a new key works at once everywhere.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

import attrs
import sqlalchemy as sa
from omskit import InvalidCommand, NotFound, Oms

from omskit_reference.connections import one_statement
from omskit_reference.tables import ReferenceTables

PREFIX = "omsk"

#: How long an API process trusts a key it has verified without reading it again: the bound
#: on how late a revocation made by another process takes effect in this one.
KEY_CACHE_SECONDS = 5.0
#: The verified keys a process remembers at most (then it forgets them all and reads again).
KEY_CACHE_SIZE = 1024


class Scope(enum.StrEnum):
    """What a key may reach."""

    ADMIN = "admin"
    OPERATIONS = "operations"
    READ = "read"
    STORE = "store"
    CHANNEL = "channel"


class ApiKeyNotFound(NotFound):
    """No API key has this id (or, to rotate it, no live one)."""

    kind = "API key"


@attrs.frozen(kw_only=True)
class ApiKey:
    """A key as stored, without its secret."""

    id: str
    name: str
    scope: Scope
    #: The store (location code) a ``store`` key works for.
    location: str | None = None
    #: The channel code a ``channel`` key sells through.
    channel: str | None = None
    created_at: datetime
    revoked_at: datetime | None = None
    #: The key this one replaced when it was rotated.
    replaces: str | None = None

    @property
    def writes(self) -> bool:
        """Whether the key may change anything."""
        return self.scope is not Scope.READ

    @property
    def sees_everything(self) -> bool:
        """Whether every order and location is in reach (not a store or channel key)."""
        return self.scope in (Scope.ADMIN, Scope.OPERATIONS, Scope.READ)


@attrs.frozen
class IssuedKey:
    """A new key and, once only, its secret token."""

    key: ApiKey
    token: str


def utcnow() -> datetime:
    """The current time, timezone-aware."""
    return datetime.now(UTC)


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _check(scope: Scope, location: str | None, channel: str | None) -> None:
    problems = []
    if scope is Scope.STORE and not location:
        problems.append("a store key needs the location it works for")
    if scope is Scope.CHANNEL and not channel:
        problems.append("a channel key needs the channel it sells through")
    if scope is not Scope.STORE and location:
        problems.append(f"a {scope} key is not bound to a location")
    if scope is not Scope.CHANNEL and channel:
        problems.append(f"a {scope} key is not bound to a channel")
    if problems:
        raise InvalidCommand(problems, subject="API key")


class ApiKeys:
    """Issue, authenticate, rotate and revoke API keys."""

    def __init__(self, oms: Oms, tables: ReferenceTables,
                 clock: Callable[[], datetime] = utcnow, *,
                 cache_seconds: float = KEY_CACHE_SECONDS,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        """``cache_seconds``: how long a verified key is trusted without reading it again
        (0: read it on every request); ``monotonic``: the time that bound is measured in."""
        self._oms = oms
        self._t = tables.api_keys
        self._clock = clock
        self._cache_seconds = cache_seconds
        self._monotonic = monotonic
        # SHA-256 of the whole token -> (the key, when to read it again). The token itself
        # is not kept: a memory dump of the process does not hand out working keys.
        self._verified: dict[str, tuple[ApiKey, float]] = {}
        self._lock = threading.Lock()
        # Raised by every revocation: a key read before a revocation in this process is not
        # remembered after it (the read may predate the revocation's commit).
        self._revocations = 0

    def issue(self, name: str, scope: Scope, *, location: str | None = None,
              channel: str | None = None, replaces: str | None = None) -> IssuedKey:
        """A new key; its token is in the answer and nowhere else."""
        scope = Scope(scope)
        _check(scope, location, channel)
        if not name.strip() or len(name) > 200:
            raise InvalidCommand(["name: 1 to 200 characters"], subject="API key")
        if location is not None:
            self._oms.inventory.location(location)  # LocationNotFound for a misspelt store
        key_id, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
        now = self._clock()
        with self._oms.engine.begin() as conn:
            conn.execute(self._t.insert().values(
                id=key_id, name=name, secret_hash=_hash(secret), scope=scope.value,
                location=location, channel=channel, created_at=now.isoformat(),
                replaces=replaces))
        key = ApiKey(id=key_id, name=name, scope=scope, location=location, channel=channel,
                     created_at=now, replaces=replaces)
        return IssuedKey(key=key, token=f"{PREFIX}_{key_id}_{secret}")

    def remembered(self, token: str) -> ApiKey | None:
        """The key the token belongs to if this process verified it within the last
        ``cache_seconds``, else ``None`` (then :meth:`authenticate` reads it). It does not
        touch the database, so an event loop may call it."""
        remembered = self._verified.get(_hash(token))
        if remembered is not None and self._monotonic() < remembered[1]:
            return remembered[0]
        return None

    def authenticate(self, token: str) -> ApiKey | None:
        """The live key the token belongs to, or ``None`` (a key verified in this process
        within the last ``cache_seconds`` is not read again)."""
        parts = token.split("_", 2)
        if len(parts) != 3 or parts[0] != PREFIX:
            return None
        fingerprint = _hash(token)
        now = self._monotonic()
        remembered = self._verified.get(fingerprint)
        if remembered is not None and now < remembered[1]:
            return remembered[0]
        revocations = self._revocations
        with one_statement(self._oms.engine) as conn:
            row = conn.execute(sa.select(self._t).where(
                self._t.c.id == parts[1], self._t.c.revoked_at.is_(None))).one_or_none()
        if row is None:
            self._forget(parts[1], revoked_here=False)  # revoked elsewhere, perhaps
            return None
        if not hmac.compare_digest(row.secret_hash, _hash(parts[2])):
            return None
        key = _key(row)
        if self._cache_seconds > 0:
            with self._lock:
                if revocations != self._revocations:
                    return key
                if len(self._verified) >= KEY_CACHE_SIZE:
                    self._verified.clear()
                self._verified[fingerprint] = (key, now + self._cache_seconds)
        return key

    def _forget(self, key_id: str, *, revoked_here: bool = True) -> None:
        """Stop trusting ``key_id`` in this process (it was revoked, or found revoked)."""
        with self._lock:
            self._revocations += revoked_here
            for fingerprint in [f for f, (k, _) in self._verified.items() if k.id == key_id]:
                del self._verified[fingerprint]

    def get(self, key_id: str) -> ApiKey:
        """One key, live or revoked (``ApiKeyNotFound``)."""
        with self._oms.engine.connect() as conn:
            row = conn.execute(sa.select(self._t).where(self._t.c.id == key_id)).one_or_none()
        if row is None:
            raise ApiKeyNotFound(key_id)
        return _key(row)

    def list(self) -> list[ApiKey]:
        """Every key, oldest first."""
        with self._oms.engine.connect() as conn:
            rows = conn.execute(sa.select(self._t).order_by(self._t.c.created_at,
                                                            self._t.c.id)).all()
        return [_key(row) for row in rows]

    def revoke(self, key_id: str) -> ApiKey:
        """The key stops working: at once in this process, within
        :data:`KEY_CACHE_SECONDS` in the others (revoking twice is harmless)."""
        with self._oms.engine.begin() as conn:
            conn.execute(self._t.update().where(self._t.c.id == key_id,
                                                self._t.c.revoked_at.is_(None))
                         .values(revoked_at=self._clock().isoformat()))
        self._forget(key_id)
        return self.get(key_id)

    def rotate(self, key_id: str) -> IssuedKey:
        """A new key with the same scope; the old one is revoked."""
        old = self.get(key_id)
        if old.revoked_at is not None:
            raise ApiKeyNotFound(key_id)
        new = self.issue(old.name, old.scope, location=old.location, channel=old.channel,
                         replaces=old.id)
        self.revoke(old.id)
        return new


def _key(row: sa.Row[tuple[object, ...]]) -> ApiKey:
    m = row._mapping
    revoked = m["revoked_at"]
    return ApiKey(id=str(m["id"]), name=str(m["name"]), scope=Scope(m["scope"]),
                  location=m["location"], channel=m["channel"],
                  created_at=datetime.fromisoformat(str(m["created_at"])),
                  revoked_at=None if revoked is None else datetime.fromisoformat(str(revoked)),
                  replaces=m["replaces"])
