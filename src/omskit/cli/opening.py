"""Opening the database for a command: one line that says what is wrong, never a traceback.

A newcomer's mistakes (a file that is not there, a URL of a database omskit has no driver
for, a server that refuses the connection, a database without omskit's tables) are told in
one line with the command that fixes them. Read commands never create a database: SQLite
would otherwise leave an empty file behind that the next command trips over.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import click
import sqlalchemy as sa

from omskit.app import ENV_DATABASE_URL, Oms, bootstrap
from omskit.store.engine import DEFAULT_URL, normalise_url

#: What a command needs of the database before it runs.
#: ``tables``: omskit's tables exist; ``database``: the database exists (``db current``);
#: ``create``: it may be created (``db upgrade``); ``none``: no database at all (``plugins``).
Need = Literal["tables", "database", "create", "none"]

_SUPPORTED = ("sqlite", "postgresql")


class DatabaseProblem(click.ClickException):
    """The database cannot be used as asked; the message says how to fix it."""


class NoDatabase(DatabaseProblem):
    """The SQLite file the URL names does not exist (and the command would not create it)."""


def resolve_url(url: str | None) -> sa.URL:
    """The URL a command uses: ``--db``, else ``$OMSKIT_DATABASE_URL``, else the default."""
    raw = url or os.environ.get(ENV_DATABASE_URL) or DEFAULT_URL
    try:
        return normalise_url(raw)
    except sa.exc.ArgumentError as exc:
        raise DatabaseProblem(
            f"{raw!r} is not a database URL: give one such as sqlite:///omskit.db or "
            "postgresql://user@host:5432/dbname") from exc


def shown(url: sa.URL) -> str:
    """The URL as it may be printed (the password hidden)."""
    return url.render_as_string(hide_password=True)


def sqlite_path(url: sa.URL) -> Path | None:
    """The file a SQLite URL names (``None`` for another database or in-memory SQLite)."""
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return Path(url.database)


def _check_url(url: sa.URL, need: Need) -> None:
    backend = url.get_backend_name()
    if backend not in _SUPPORTED:
        raise DatabaseProblem(
            f"{shown(url)}: omskit runs on SQLite and PostgreSQL, not {backend}; give "
            "--db sqlite:///omskit.db or --db postgresql://user@host:5432/dbname")
    path = sqlite_path(url)
    if path is None or path.exists():
        return
    if need == "create":
        if not path.parent.exists():
            raise DatabaseProblem(f"cannot create {path}: the folder {path.parent} does "
                                  "not exist")
        return
    if need in ("tables", "database"):
        raise NoDatabase(
            f"no database at {path}: create one with `omskit --db {shown(url)} db upgrade`, "
            "or run `omskit demo` to fill the default database with a day of orders")


def _first_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    return str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__


def _check_connects(oms: Oms, url: sa.URL) -> None:
    try:
        with oms.engine.connect():
            pass
    except sa.exc.DBAPIError as exc:
        hint = ""
        if url.get_backend_name() == "postgresql":
            hint = " (is the server running, and does the database exist?)"
        raise DatabaseProblem(f"cannot connect to {shown(url)}: {_first_line(exc)}{hint}") \
            from exc


def _check_tables(oms: Oms, url: sa.URL) -> None:
    table = oms.tables.orders
    with oms.engine.connect() as conn:
        present = sa.inspect(conn).has_table(table.name, schema=table.schema)
    if not present:
        where = f" in schema {table.schema}" if table.schema else ""
        option = f" --schema {table.schema}" if table.schema else ""
        raise DatabaseProblem(
            f"{shown(url)} has no omskit tables{where}: create them with "
            f"`omskit --db {shown(url)}{option} db upgrade`")


def open_oms(database_url: str | None, *, load_plugins: bool, schema: str | None,
             table_prefix: str, settings: Mapping[str, Any], need: Need) -> Oms:
    """An ``Oms`` on the command's database, checked as far as ``need`` asks."""
    url = resolve_url(database_url)
    _check_url(url, need)
    try:
        oms = bootstrap(url, load_entrypoints=load_plugins, schema=schema,
                        table_prefix=table_prefix, settings=settings)
    except ImportError as exc:
        # SQLAlchemy knows the dialect but its driver is not installed.
        raise DatabaseProblem(f"{shown(url)}: its database driver is not installed "
                              f"({exc})") from exc
    if need == "none":
        return oms
    try:
        _check_connects(oms, url)
        if need == "tables":
            _check_tables(oms, url)
    except BaseException:
        oms.close()
        raise
    return oms
