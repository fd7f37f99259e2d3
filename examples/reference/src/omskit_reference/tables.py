"""The deployment's own tables, added to omskit's ``MetaData`` the way any plugin adds its own.

They sit beside omskit's tables, in the same schema and with the same prefix
(``omskit_reference_api_keys``...), so ``oms.create_schema()`` makes them in tests and
:func:`create_tables` makes any that are missing in a database omskit's migrations keep.
"""

from __future__ import annotations

import attrs
import sqlalchemy as sa
from omskit import Oms, hookimpl

NAME = "reference"


@attrs.frozen
class ReferenceTables:
    """Names the deployment's tables; filled in by :meth:`omskit_configure_metadata`."""

    api_keys: sa.Table
    idempotency: sa.Table
    tracking_links: sa.Table


class TablesPlugin:
    """The plugin that adds the deployment's tables to one ``Oms``'s ``MetaData``."""

    def __init__(self) -> None:
        self.tables: ReferenceTables | None = None

    @hookimpl
    def omskit_configure_metadata(self, metadata: sa.MetaData, table_prefix: str,
                                  schema: str | None) -> None:
        """Define the API key and idempotency tables."""
        prefix = f"{table_prefix}{NAME}_"
        api_keys = sa.Table(
            f"{prefix}api_keys", metadata,
            sa.Column("id", sa.String(32), primary_key=True),
            sa.Column("name", sa.String(200), nullable=False),
            # The SHA-256 of the secret half of the key: a key is 256 random bits, so a
            # fast hash is enough (there is nothing to guess); the secret itself is never
            # stored and is shown once.
            sa.Column("secret_hash", sa.String(64), nullable=False),
            sa.Column("scope", sa.String(32), nullable=False),
            sa.Column("location", sa.String(64), nullable=True),
            sa.Column("channel", sa.String(64), nullable=True),
            sa.Column("created_at", sa.String(40), nullable=False),
            sa.Column("revoked_at", sa.String(40), nullable=True),
            sa.Column("replaces", sa.String(32), nullable=True),
            schema=schema,
        )
        idempotency = sa.Table(
            f"{prefix}idempotency", metadata,
            sa.Column("api_key_id", sa.String(32), primary_key=True),
            sa.Column("idempotency_key", sa.String(255), primary_key=True),
            sa.Column("request_hash", sa.String(64), nullable=False),
            # running: the first request is still being served; done: status and body
            # are what every retry gets back.
            sa.Column("state", sa.String(8), nullable=False),
            sa.Column("status_code", sa.Integer, nullable=True),
            sa.Column("media_type", sa.String(64), nullable=True),
            sa.Column("body", sa.LargeBinary, nullable=True),
            sa.Column("etag", sa.String(64), nullable=True),
            sa.Column("created_at", sa.String(40), nullable=False),
            schema=schema,
        )
        tracking_links = sa.Table(
            f"{prefix}tracking_links", metadata,
            # The SHA-256 of the link's random token: the link is the customer's only
            # credential, so it is never stored as given.
            sa.Column("token_hash", sa.String(64), primary_key=True),
            sa.Column("order_id", sa.String(64), nullable=False, index=True),
            sa.Column("created_at", sa.String(40), nullable=False),
            schema=schema,
        )
        self.tables = ReferenceTables(api_keys=api_keys, idempotency=idempotency,
                                      tracking_links=tracking_links)


def tables_of(plugin: TablesPlugin) -> ReferenceTables:
    """The tables the plugin defined (after ``bootstrap``)."""
    if plugin.tables is None:
        raise RuntimeError("the reference tables plugin was not given to omskit.bootstrap")
    return plugin.tables


def create_tables(oms: Oms, tables: ReferenceTables) -> None:
    """Create the deployment's tables that do not exist yet (after ``oms.upgrade()``)."""
    with oms.engine.begin() as conn:
        for table in (tables.api_keys, tables.idempotency, tables.tracking_links):
            table.create(conn, checkfirst=True)
