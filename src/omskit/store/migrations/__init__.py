"""omskit's Alembic migrations (``versions/``), run by :mod:`omskit.store.migrate`."""

from __future__ import annotations

from alembic import context


def names() -> tuple[str, str | None]:
    """(table prefix, schema) of the migration being run, as ``omskit.store.migrate`` passed
    them to Alembic."""
    attributes = context.config.attributes
    prefix: str = attributes.get("table_prefix", "omskit_")
    schema: str | None = attributes.get("schema")
    return prefix, schema
