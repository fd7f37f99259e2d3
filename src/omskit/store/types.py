"""Column types that keep values exact and timezone-aware on every database."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect


class UTCDateTime(sa.TypeDecorator[datetime]):
    """A timestamp that always comes back timezone-aware in UTC.

    SQLite has no timezone support, so values are stored there as naive UTC; PostgreSQL gets
    ``timestamptz``. Accepts ISO 8601 strings on the way in (as the converter produces).
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        moment: datetime = datetime.fromisoformat(value) if isinstance(value, str) else value
        if moment.tzinfo is None:
            raise ValueError(f"naive datetime {moment!r}: omskit stores timezone-aware times")
        moment = moment.astimezone(UTC)
        return moment.replace(tzinfo=None) if dialect.name == "sqlite" else moment

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        moment: datetime = datetime.fromisoformat(value) if isinstance(value, str) else value
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)

    def bind_processor(self, dialect: Dialect) -> Callable[[Any], Any] | None:
        """On SQLite, one step to the text SQLAlchemy's ``DATETIME`` stores
        (``YYYY-MM-DD HH:MM:SS.ffffff``, naive UTC) instead of two processors in a row: a
        placement writes dozens of timestamps. Elsewhere, the usual chain."""
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)
        to_naive_utc = self.process_bind_param

        def process(value: Any) -> str | None:
            moment = to_naive_utc(value, dialect)
            return None if moment is None else moment.isoformat(" ", "microseconds")

        return process


class DecimalText(sa.TypeDecorator[Decimal]):
    """An exact decimal stored as text, so SQLite never rounds it through a float."""

    impl = sa.String(48)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else str(Decimal(value))

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        return None if value is None else Decimal(value)


#: JSON that is ``jsonb`` on PostgreSQL.
JSONDocument = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
#: An auto-incrementing 64-bit key (SQLite only auto-increments ``INTEGER PRIMARY KEY``).
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
