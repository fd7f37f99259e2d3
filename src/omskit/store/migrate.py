"""Running omskit's Alembic migrations from Python (``omskit db upgrade`` calls this)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command
from alembic.config import Config

SCRIPT_LOCATION = "omskit.store:migrations"


def alembic_config(connection: sa.Connection, *, prefix: str, schema: str | None) -> Config:
    """An Alembic ``Config`` for omskit's migrations on ``connection``."""
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    config.attributes["connection"] = connection
    config.attributes["table_prefix"] = prefix
    config.attributes["schema"] = schema
    return config


def version_table(prefix: str) -> str:
    """The name of omskit's own Alembic version table."""
    return f"{prefix}alembic_version"


def upgrade(engine: sa.Engine, *, prefix: str = "omskit_", schema: str | None = None,
            revision: str = "head") -> None:
    """Upgrade omskit's tables to ``revision`` in one transaction."""
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection, prefix=prefix, schema=schema), revision)


def current(engine: sa.Engine, *, prefix: str = "omskit_",
            schema: str | None = None) -> str | None:
    """The revision the database is at, or None before the first upgrade."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"version_table": version_table(prefix),
                              "version_table_schema": schema})
        return context.get_current_revision()


def head() -> str:
    """The newest revision omskit ships (what ``upgrade`` reaches by default)."""
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    heads = ScriptDirectory.from_config(config).get_heads()
    # One linear history: two heads would mean two migrations claim the same parent.
    if len(heads) != 1:
        raise RuntimeError(f"omskit's migrations have {len(heads)} heads: {sorted(heads)}")
    return str(heads[0])
