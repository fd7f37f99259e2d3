"""Reuse of PostgreSQL test schemas between tests with the same tables (decision 49).

Creating omskit's tables (35 and their indexes) in a fresh schema and dropping them with it
cost 0.5 to 1.8 s per PostgreSQL test under load, most of a short test's time: every table,
index and sequence is a set of catalog rows and files. Emptying those tables costs a few
milliseconds. So when a test that passed ends, the schema ``make_oms`` created its tables in is
emptied and renamed into a per-process pool, keyed by the exact DDL of the tables; the next
test whose first ``make_oms`` wants the same tables gets that schema renamed to its own empty
schema's name instead of creating them. What a test sees is unchanged: its schema has the
name ``omskit_database`` gave it, exactly the tables its plugins define, no rows, and every
sequence at its start.

A schema goes back to the pool only if all of these hold, otherwise it is dropped as before:

- the test passed (a failed test's schema is never reused);
- its catalog (tables, columns, defaults, constraints, indexes, triggers, rules, policies,
  sequences, types, functions, privileges) is exactly what it was right after ``make_oms``
  created the tables: a test that altered, added or dropped anything is not reused;
- it holds only tables, indexes and sequences, and under ``MAX_POOLED_BYTES`` (so that the
  dead rows of a large test do not slow the next ones until autovacuum).

Emptying deletes every row in foreign-key order and resets every sequence, in one
transaction. Before a pooled schema is handed over, the same transaction that renames it
checks that no table has a row and no sequence was used (a process a test left running could
have written after the deletes); a schema that fails the check is dropped and the test's
tables are created as before.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence

import attrs
import sqlalchemy as sa
from sqlalchemy.schema import CreateIndex, CreateTable

from omskit import create_engine

# Beyond this (tables, indexes and TOAST), a schema is dropped rather than emptied and reused.
MAX_POOLED_BYTES = 8 * 1024 * 1024

# Every catalog row describing the schema's contents, as (catalog, row id, xmin): any DDL a
# test runs (CREATE, ALTER, DROP, GRANT, COMMENT aside) inserts, deletes or writes a new version
# of one of these rows, so a new xmin or a missing or extra row shows it, without deparsing
# anything. Deleting rows, setval() and VACUUM or ANALYZE (in-place updates) leave them alone;
# renaming the schema changes only its pg_namespace row, left out but for owner and privileges.
# Everything is reached through indexes (the schema's objects through pg_depend, which records
# each one's dependency on its schema): a test suite churns the catalogs, and a scan of a
# bloated pg_class or pg_attribute took a second (run with seq scans off, see _indexed).
_FINGERPRINT = """
WITH ns AS (SELECT oid FROM pg_namespace WHERE nspname = %(schema)s),
deps AS (SELECT d.classid, d.objid FROM pg_depend d JOIN ns ON d.refobjid = ns.oid
          WHERE d.refclassid = 'pg_namespace'::regclass),
rels AS (SELECT c.oid, c.relkind, c.xmin FROM pg_class c
           JOIN deps d ON d.classid = 'pg_class'::regclass AND d.objid = c.oid),
idx AS (SELECT i.indexrelid AS oid, i.xmin FROM pg_index i JOIN rels r ON i.indrelid = r.oid),
types AS (SELECT t.oid, t.xmin FROM pg_type t
            JOIN deps d ON d.classid = 'pg_type'::regclass AND d.objid = t.oid)
SELECT md5(coalesce(string_agg(x, ',' ORDER BY x), '')),
       (SELECT coalesce(sum(pg_total_relation_size(oid)), 0) FROM rels WHERE relkind = 'r'),
       (SELECT count(*) FROM rels WHERE relkind NOT IN ('r', 'i', 'S'))
       + (SELECT count(*) FROM deps WHERE classid <> 'pg_class'::regclass)
FROM (
  SELECT concat_ws(' ', 'c', oid, xmin) FROM rels
  UNION ALL
  SELECT concat_ws(' ', 'c', c.oid, c.xmin) FROM pg_class c JOIN idx i ON c.oid = i.oid
  UNION ALL
  SELECT concat_ws(' ', 'i', oid, xmin) FROM idx
  UNION ALL
  SELECT concat_ws(' ', 'a', a.attrelid, a.attnum, a.xmin)
    FROM pg_attribute a JOIN rels r ON a.attrelid = r.oid
  UNION ALL
  SELECT concat_ws(' ', 'd', d.oid, d.xmin) FROM pg_attrdef d JOIN rels r ON d.adrelid = r.oid
  UNION ALL
  SELECT concat_ws(' ', 'k', k.oid, k.xmin) FROM pg_constraint k JOIN rels r ON k.conrelid = r.oid
  UNION ALL
  SELECT concat_ws(' ', 't', t.oid, t.xmin) FROM pg_trigger t JOIN rels r ON t.tgrelid = r.oid
  UNION ALL
  SELECT concat_ws(' ', 'w', w.oid, w.xmin) FROM pg_rewrite w JOIN rels r ON w.ev_class = r.oid
  UNION ALL
  SELECT concat_ws(' ', 'p', p.oid, p.xmin) FROM pg_policy p JOIN rels r ON p.polrelid = r.oid
  UNION ALL
  SELECT concat_ws(' ', 'h', h.inhrelid, h.inhparent, h.xmin)
    FROM pg_inherits h JOIN rels r ON h.inhrelid = r.oid
  UNION ALL
  SELECT concat_ws(' ', 'h', h.inhrelid, h.inhparent, h.xmin)
    FROM pg_inherits h JOIN rels r ON h.inhparent = r.oid
  UNION ALL
  SELECT concat_ws(' ', 's', q.seqrelid, q.xmin)
    FROM pg_sequence q JOIN rels r ON q.seqrelid = r.oid
  UNION ALL
  SELECT concat_ws(' ', 'y', oid, xmin) FROM types
  UNION ALL
  SELECT concat_ws(' ', 'o', classid, objid) FROM deps WHERE classid <> 'pg_class'::regclass
  UNION ALL
  SELECT concat_ws(' ', 'n', n.nspowner, n.nspacl::text) FROM pg_namespace n JOIN ns USING (oid)
) f(x)
"""

# The catalogs are reached through their indexes whatever their (often stale) statistics say.
_INDEXED = "SET LOCAL enable_seqscan = off; SET LOCAL enable_hashjoin = off; " \
    "SET LOCAL enable_mergejoin = off"

# Tables, the foreign keys between them, and sequences: how to empty the schema.
_LAYOUT = """
WITH rels AS (
  SELECT c.oid, c.relname, c.relkind FROM pg_depend d JOIN pg_class c ON c.oid = d.objid
   WHERE d.refclassid = 'pg_namespace'::regclass AND d.refobjid = %(schema)s::regnamespace
     AND d.classid = 'pg_class'::regclass)
SELECT 't', relname, NULL FROM rels WHERE relkind = 'r'
UNION ALL
SELECT 'f', r.relname, p.relname FROM rels r JOIN pg_constraint k ON k.conrelid = r.oid
  JOIN pg_class p ON p.oid = k.confrelid WHERE k.contype = 'f'
UNION ALL
SELECT 's', r.relname, q.seqstart::text FROM rels r JOIN pg_sequence q ON q.seqrelid = r.oid
"""

# Whether a schema holds anything at all.
_OCCUPIED = """
SELECT EXISTS (SELECT FROM pg_depend WHERE refclassid = 'pg_namespace'::regclass
                                       AND refobjid = %(schema)s::regnamespace)
"""

# A placeholder for the schema's name in the SQL kept per table set.
_SCHEMA = "\x00schema\x00"


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def table_set_key(metadata: sa.MetaData, dialect: sa.Dialect, schema: str) -> str:
    """The exact DDL of ``metadata``'s tables with the schema's name taken out, hashed."""
    ddl: list[str] = []
    for table in metadata.sorted_tables:
        ddl.append(str(CreateTable(table).compile(dialect=dialect)))
        ddl.extend(str(CreateIndex(index).compile(dialect=dialect))
                   for index in sorted(table.indexes, key=lambda i: i.name or ""))
    text = "\n".join(ddl).replace(schema, _SCHEMA)
    return hashlib.sha256(text.encode()).hexdigest()


@attrs.define
class _TableSet:
    """What is known of one set of tables: its catalog fingerprint and how to empty it."""

    fingerprint: str | None = None
    empty_sql: str | None = None  # deletes, sequence restarts (schema as _SCHEMA)
    check_sql: str | None = None  # raises unless every table and sequence is untouched


@attrs.define
class _Claim:
    """A test's schema whose tables came from ``make_oms`` (created or taken from the pool)."""

    key: str
    fingerprint: str | None


def _topological(tables: Sequence[str], edges: Sequence[tuple[str, str]]) -> list[str] | None:
    """Tables in an order where each comes before the tables it references (None on a cycle)."""
    references = {t: {p for c, p in edges if c == t and p != t} for t in tables}
    ordered: list[str] = []
    referenced_by = {t: {c for c, p in edges if p == t and c != t} for t in tables}
    ready = sorted(t for t in tables if not referenced_by[t])
    while ready:
        table = ready.pop()
        ordered.append(table)
        for parent in references[table]:
            referenced_by[parent].discard(table)
            if not referenced_by[parent]:
                ready.append(parent)
    return ordered if len(ordered) == len(tables) else None


class SchemaPool:
    """One process's emptied schemas, by table set (one per pytest process or xdist worker)."""

    def __init__(self, prefix: str = "omskit_pool_") -> None:
        self.prefix = prefix  # of the pooled schemas' names
        self._sets: dict[str, _TableSet] = {}
        self._free: dict[tuple[str, str], list[str]] = {}  # (url, key) -> pooled schema names
        self._claims: dict[tuple[str, str], _Claim] = {}  # (url, test schema) -> its claim
        self._engines: dict[str, sa.Engine] = {}

    def _engine(self, url: str) -> sa.Engine:
        engine = self._engines.get(url)
        if engine is None:
            # One connection kept per URL: these statements run between tests, never inside.
            engine = self._engines[url] = create_engine(url, poolclass=sa.pool.StaticPool)
        return engine

    def claimed(self, url: str, schema: str) -> bool:
        """Whether ``make_oms`` already set up tables in this test's schema."""
        return (url, schema) in self._claims

    def create_empty(self, url: str, schema: str) -> None:
        """Create a test's empty schema."""
        with self._engine(url).begin() as conn:
            conn.exec_driver_sql(f"CREATE SCHEMA {_quote(schema)}")

    def take(self, url: str, schema: str, key: str) -> str:
        """Rename a pooled schema with these tables to ``schema``, which must be empty.

        ``"taken"``: done. ``"empty"``: none pooled and ``schema`` is still empty; the caller
        creates the tables and calls :meth:`created`. ``"occupied"``: the test already put
        something in ``schema``; nothing changed and it is not reused.
        """
        table_set = self._sets.get(key)
        free = self._free.get((url, key))
        while table_set is not None and free:
            pooled = free.pop()
            assert table_set.check_sql is not None
            sql = (table_set.check_sql.replace(_SCHEMA, pooled)
                   + f"; DROP SCHEMA {_quote(schema)} RESTRICT"
                   + f"; ALTER SCHEMA {_quote(pooled)} RENAME TO {_quote(schema)}")
            try:
                with self._engine(url).begin() as conn:
                    conn.exec_driver_sql(sql)
            except sa.exc.DBAPIError as error:
                if "omskit-testing: pooled schema not empty" in str(error.orig):
                    self._drop(url, [pooled])
                    continue
                # DROP ... RESTRICT refused: the test's schema holds something already.
                free.append(pooled)
                self._claims[(url, schema)] = _Claim(key=key, fingerprint=None)
                return "occupied"
            self._claims[(url, schema)] = _Claim(key=key, fingerprint=table_set.fingerprint)
            return "taken"
        with self._engine(url).begin() as conn:
            conn.exec_driver_sql(_INDEXED)
            occupied = conn.exec_driver_sql(_OCCUPIED, {"schema": schema}).scalar()
        if occupied:
            self._claims[(url, schema)] = _Claim(key=key, fingerprint=None)
            return "occupied"
        return "empty"

    def created(self, url: str, schema: str, key: str) -> None:
        """``make_oms`` created the tables of ``key`` in the empty ``schema``."""
        table_set = self._sets.setdefault(key, _TableSet())
        fingerprint, _size, _others = self._fingerprint(url, schema)
        if table_set.fingerprint is None:
            table_set.fingerprint = fingerprint
        # A different catalog from the same DDL (should not happen): never pooled.
        self._claims[(url, schema)] = _Claim(
            key=key, fingerprint=fingerprint if fingerprint == table_set.fingerprint else None)

    def release(self, url: str, schema: str, *, reusable: bool) -> None:
        """The test using ``schema`` ended: empty it into the pool, or drop it."""
        claim = self._claims.pop((url, schema), None)
        if claim is not None and reusable and claim.fingerprint is not None:
            try:
                if self._empty_into_pool(url, schema, claim):
                    return
            except sa.exc.DBAPIError:
                pass  # dropped below, as every schema used to be
        self._drop(url, [schema])

    def _fingerprint(self, url: str, schema: str) -> tuple[str, int, int]:
        with self._engine(url).begin() as conn:
            conn.exec_driver_sql(_INDEXED)
            row = conn.exec_driver_sql(_FINGERPRINT, {"schema": schema}).one()
        return str(row[0]), int(row[1]), int(row[2])

    def _empty_into_pool(self, url: str, schema: str, claim: _Claim) -> bool:
        fingerprint, size, others = self._fingerprint(url, schema)
        if fingerprint != claim.fingerprint or size > MAX_POOLED_BYTES or others:
            return False
        table_set = self._sets[claim.key]
        if table_set.empty_sql is None and not self._learn_layout(url, schema, table_set):
            return False
        assert table_set.empty_sql is not None
        pooled = f"{self.prefix}{uuid.uuid4().hex[:12]}"
        with self._engine(url).begin() as conn:
            conn.exec_driver_sql(table_set.empty_sql.replace(_SCHEMA, schema)
                                 + f"; ALTER SCHEMA {_quote(schema)} RENAME TO {_quote(pooled)}")
        self._free.setdefault((url, claim.key), []).append(pooled)
        return True

    def _learn_layout(self, url: str, schema: str, table_set: _TableSet) -> bool:
        """Build the SQL that empties and checks a schema of this table set."""
        with self._engine(url).begin() as conn:
            conn.exec_driver_sql(_INDEXED)
            rows = conn.exec_driver_sql(_LAYOUT, {"schema": schema}).all()
        tables = [name for kind, name, _ in rows if kind == "t"]
        edges = [(name, parent) for kind, name, parent in rows if kind == "f"]
        sequences = sorted((name, int(start)) for kind, name, start in rows if kind == "s")
        order = _topological(tables, edges)
        if order is None or not tables:
            return False

        def qualified(name: str) -> str:
            return f"{_quote(_SCHEMA)}.{_quote(name)}"

        # No LOCK TABLE first: ACCESS EXCLUSIVE waits for autovacuum, which the deletes set
        # off on these tables, to cancel itself (deadlock_timeout, 1 s). A writer still running
        # after its test can still add rows after the deletes: the hand-over check finds them.
        statements = [f"DELETE FROM {qualified(t)}" for t in order]
        # setval(..., false), not ALTER SEQUENCE ... RESTART: the same next value, without
        # writing the sequence's catalog row (which would change the fingerprint).
        if sequences:
            statements.append("SELECT " + ", ".join(
                f"setval('{qualified(s)}', {start}, false)" for s, start in sequences))
        table_set.empty_sql = "; ".join(statements)
        used = [f"EXISTS (SELECT FROM {qualified(t)})" for t in sorted(tables)]
        used += [f"(SELECT is_called FROM {qualified(s)})" for s, _ in sequences]
        table_set.check_sql = (
            "DO $omskit$ BEGIN IF " + " OR ".join(used)
            + " THEN RAISE EXCEPTION 'omskit-testing: pooled schema not empty'; END IF; END"
            " $omskit$")
        return True

    def _drop(self, url: str, schemas: Sequence[str]) -> None:
        if not schemas:
            return
        with self._engine(url).begin() as conn:
            conn.exec_driver_sql(
                "; ".join(f"DROP SCHEMA IF EXISTS {_quote(s)} CASCADE" for s in schemas))

    def close(self) -> None:
        """Drop every pooled schema (at the end of the session) and close the connections."""
        for (url, _key), names in self._free.items():
            for start in range(0, len(names), 20):
                self._drop(url, names[start:start + 20])
        self._free.clear()
        for engine in self._engines.values():
            engine.dispose()
        self._engines.clear()
