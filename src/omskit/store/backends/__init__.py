"""One backend object per database dialect: where SQLite and PostgreSQL differ.

:func:`backend_for` chooses it once, from a connection's dialect (the unit of work does so
per transaction) or an engine URL's backend name; :class:`StoreBackend` says what a backend
does and states the reservation contract every backend keeps.
"""

from __future__ import annotations

import sqlalchemy as sa

from omskit.store.backends.base import PortableBackend, Row, RowDemand, StoreBackend
from omskit.store.backends.postgresql import PostgreSQLBackend
from omskit.store.backends.sqlite import SQLiteBackend

#: The backends by dialect name (they hold no state: one instance each serves every engine).
BACKENDS: dict[str, StoreBackend] = {
    SQLiteBackend.name: SQLiteBackend(), PostgreSQLBackend.name: PostgreSQLBackend()}
_PORTABLE = PortableBackend()


def backend_for(dialect: sa.Dialect | str) -> StoreBackend:
    """The backend of ``dialect`` (a dialect or its name); :class:`PortableBackend` for a
    dialect omskit does not know."""
    name = dialect if isinstance(dialect, str) else dialect.name
    return BACKENDS.get(name, _PORTABLE)


__all__ = ["BACKENDS", "PortableBackend", "PostgreSQLBackend", "Row", "RowDemand",
           "SQLiteBackend", "StoreBackend", "backend_for"]
