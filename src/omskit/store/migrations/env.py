"""Alembic environment for omskit's own migrations (run through ``omskit.store.migrate``)."""

from __future__ import annotations

from alembic import context

from omskit.store.migrate import version_table
from omskit.store.tables import build_metadata

config = context.config
connection = config.attributes["connection"]
prefix: str = config.attributes.get("table_prefix", "omskit_")
schema: str | None = config.attributes.get("schema")

context.configure(
    connection=connection,
    target_metadata=build_metadata(prefix, schema).metadata,
    version_table=version_table(prefix),
    version_table_schema=schema,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
