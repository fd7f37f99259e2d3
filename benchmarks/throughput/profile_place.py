"""Where ``oms.orders.place`` spends its time on PostgreSQL: cProfile plus statements per order.

    python benchmarks/throughput/profile_place.py [--orders 500] [--postgres URL]
    python benchmarks/throughput/profile_place.py --sqlite --batch 100   # place_many on SQLite

Seeds the throughput benchmark's network in a scratch schema, warms up with 50 orders, then
places ``--orders`` orders one by one under cProfile, counting the SQL statements sent per
order (by kind) and the time spent inside the driver's ``execute``. Prints the top functions
by cumulative and by own time. Writes nothing.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import DEFAULT_PG, open_oms, sa_url, warmed_up

SCHEMA = "omskit_profile"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=500)
    parser.add_argument("--postgres", default=DEFAULT_PG)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--sqlite", action="store_true", help="a SQLite file (WAL) instead")
    parser.add_argument("--batch", type=int, default=0,
                        help="place through place_many in batches of this size")
    args = parser.parse_args()
    tmp = tempfile.TemporaryDirectory()
    url = f"sqlite:///{tmp.name}/profile.db" if args.sqlite else sa_url(args.postgres)
    engine = sa.create_engine(url)
    if not args.sqlite:
        with engine.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{SCHEMA}" CASCADE')
            conn.exec_driver_sql(f'CREATE SCHEMA "{SCHEMA}"')
    try:
        oms = open_oms(url, None if args.sqlite else SCHEMA)
        oms.create_schema()
        commands = warmed_up(oms, args.orders)

        kinds: Counter[str] = Counter()
        in_db = [0.0]
        started_at: list[float] = []

        @sa.event.listens_for(oms.engine, "before_cursor_execute")
        def before(conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
            words = statement.split()
            kind = words[0].upper()
            if kind in ("INSERT", "UPDATE", "DELETE"):
                target = words[2] if kind != "UPDATE" else words[1]
                kind = f"{kind} {target.split('.')[-1]}"
            elif kind == "SELECT":
                table = next((w for i, w in enumerate(words) if words[i - 1].upper() == "FROM"),
                             "?")
                kind = f"SELECT from {table.split('.')[-1]}"
            kinds[kind] += 1
            started_at.append(time.perf_counter())

        @sa.event.listens_for(oms.engine, "after_cursor_execute")
        def after(*_: Any) -> None:
            in_db[0] += time.perf_counter() - started_at.pop()

        @sa.event.listens_for(oms.engine, "commit")
        def on_commit(conn: Any) -> None:
            kinds["COMMIT"] += 1

        profile = cProfile.Profile()
        t0 = time.perf_counter()
        profile.enable()
        if args.batch:
            for i in range(0, len(commands), args.batch):
                oms.orders.place_many(commands[i:i + args.batch])
        else:
            for command in commands:
                oms.orders.place(command)
        profile.disable()
        elapsed = time.perf_counter() - t0
        oms.close()
    finally:
        if not args.sqlite:
            with engine.begin() as conn:
                conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{SCHEMA}" CASCADE')
        engine.dispose()
        tmp.cleanup()

    n = args.orders
    print(f"{n} orders in {elapsed:.2f} s under cProfile: {elapsed / n * 1000:.2f} ms per order, "
          f"{in_db[0] / n * 1000:.2f} ms of it in cursor.execute "
          f"({sum(kinds.values()) / n:.1f} statements per order)")
    for kind, count in kinds.most_common():
        print(f"  {count / n:6.2f} per order  {kind}")
    for key in ("cumulative", "tottime"):
        out = io.StringIO()
        pstats.Stats(profile, stream=out).sort_stats(key).print_stats(args.top)
        print(out.getvalue())


if __name__ == "__main__":
    main()
