"""Engines that omskit creates itself (when the host passes a URL rather than an Engine)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from omskit.store.backends import backend_for
from omskit.store.jsontext import json_dumps

#: The embedded default: a SQLite file in the working directory.
DEFAULT_URL = "sqlite:///omskit.db"


def normalise_url(url: str | sa.URL) -> sa.URL:
    """Parse ``url``; a bare ``postgresql://`` URL is given the psycopg 3 driver."""
    parsed = sa.make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def create_engine(url: str | sa.URL, **kwargs: Any) -> sa.Engine:
    """Create an engine tuned for omskit by the database's backend
    (:mod:`omskit.store.backends`).

    SQLite gets WAL journaling, enforced foreign keys, a busy timeout and ``BEGIN IMMEDIATE``
    transactions: a transaction takes the write lock when it starts, so two writers queue
    instead of failing when one tries to upgrade a read lock. An in-memory database uses one
    shared connection so every unit of work sees the same data, lent to one thread at a time
    (:class:`~omskit.store.pools.SerialisedStaticPool`). PostgreSQL's pool checks a
    connection before handing it out.
    """
    parsed = normalise_url(url)
    kwargs.setdefault("json_serializer", json_dumps)
    return backend_for(parsed.get_backend_name()).create_engine(parsed, kwargs)


__all__ = ["DEFAULT_URL", "create_engine", "json_dumps", "normalise_url"]
