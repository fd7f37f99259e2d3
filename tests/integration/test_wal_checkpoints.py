"""A SQLite file's write-ahead log is checkpointed by a background thread, not by the commit
that takes it past SQLite's threshold (decision 53); PostgreSQL has nothing of the kind."""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from omskit import Oms, bootstrap
from omskit.store.backends import SQLiteBackend
from omskit.store.backends.checkpoints import BACKSTOP_PAGES
from omskit.testing import location, order_command
from tests.support import MILAN


def checkpoint_threads(database: Path | str) -> list[threading.Thread]:
    """The checkpointing threads of ``database`` (other tests' files have their own)."""
    return [t for t in threading.enumerate() if t.name == f"omskit-wal-checkpoint:{database}"]


def eventually(condition: Callable[[], bool], seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def open_shop(path: Path) -> Oms:
    """An Oms on a new SQLite file at ``path``, its tables created."""
    oms = bootstrap(f"sqlite:///{path}", load_entrypoints=False)
    oms.create_schema()
    return oms


def stocked(oms: Oms) -> None:
    oms.inventory.save_location(location("milan", *MILAN))
    oms.inventory.receive("milan", "A", 10_000)


def autocheckpoint(oms: Oms) -> int:
    with oms.engine.connect() as conn:
        pages = conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar()
    assert isinstance(pages, int)
    return pages


def test_the_log_is_copied_into_the_database_file_in_the_background(
        tmp_path: Path) -> None:
    path = tmp_path / "shop.db"
    oms = open_shop(path)
    try:
        stocked(oms)
        # Writers checkpoint only past the backstop, far more than these orders write.
        assert autocheckpoint(oms) == BACKSTOP_PAGES
        assert len(checkpoint_threads(path)) == 1
        before = path.stat().st_size
        for n in range(30):
            oms.orders.place(order_command(f"W-{n}", {"A": 1}))
        log = Path(f"{path}-wal").stat().st_size
        assert log > 0
        # Only a checkpoint makes the database file itself grow: the thread's.
        assert eventually(lambda: path.stat().st_size > before)
        assert sum(oms.orders.count_by_status().values()) == 30
    finally:
        oms.close()
    assert eventually(lambda: not checkpoint_threads(path))


def test_after_close_the_database_file_alone_holds_everything(tmp_path: Path) -> None:
    # Closing the Oms waits for the thread's connection to close too: the last connection
    # closed checkpoints the log into the file and removes it, so a copy of the file taken
    # right after close() (a backup, a benchmark's seeded copy) has every order.
    path = tmp_path / "shop.db"
    oms = open_shop(path)
    stocked(oms)
    for n in range(20):
        oms.orders.place(order_command(f"W-{n}", {"A": 1}))
    oms.close()
    assert checkpoint_threads(path) == []
    assert not Path(f"{path}-wal").exists()
    copy = tmp_path / "copy.db"
    shutil.copy(path, copy)
    again = bootstrap(f"sqlite:///{copy}", load_entrypoints=False)
    try:
        assert sum(again.orders.count_by_status().values()) == 20
        assert again.inventory.ledger_mismatches() == []
    finally:
        again.close()


def test_the_thread_starts_again_with_the_first_connection_after_dispose(
        tmp_path: Path) -> None:
    path = tmp_path / "shop.db"
    oms = open_shop(path)
    try:
        assert len(checkpoint_threads(path)) == 1
        oms.engine.dispose()
        assert eventually(lambda: not checkpoint_threads(path))
        stocked(oms)  # new connections
        assert len(checkpoint_threads(path)) == 1
    finally:
        oms.close()
    assert eventually(lambda: not checkpoint_threads(path))


def test_turned_off_the_writers_checkpoint_as_sqlite_does_by_default(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(SQLiteBackend, "checkpoint_every", None)
    path = tmp_path / "shop.db"
    oms = open_shop(path)
    try:
        stocked(oms)
        assert checkpoint_threads(path) == []
        assert autocheckpoint(oms) == 1000  # SQLite's own default
    finally:
        oms.close()


def test_a_database_file_removed_under_the_thread_is_not_created_again(
        tmp_path: Path, caplog: pytest.LogCaptureFixture,
        monkeypatch: pytest.MonkeyPatch) -> None:
    # The file is removed well before the thread's first look (half a second after it
    # starts), so that look finds a log beside no database.
    monkeypatch.setattr(SQLiteBackend, "checkpoint_every", 0.5)
    path = tmp_path / "shop.db"
    oms = open_shop(path)
    try:
        oms.engine.dispose()  # the last connection closes: the log is checkpointed away
        assert eventually(lambda: not checkpoint_threads(path))
        with oms.engine.connect() as conn:
            # The thread again; the log exists while this pooled connection stays open.
            conn.exec_driver_sql(f"SELECT count(*) FROM {oms.tables.orders.name}").scalar()
        assert Path(f"{path}-wal").exists()
        os.remove(path)
        assert eventually(lambda: "stopped" in caplog.text)
        assert not path.exists()
        assert eventually(lambda: not checkpoint_threads(path))
    finally:
        oms.close()


def test_postgresql_has_no_checkpoint_thread(oms: Oms, omskit_backend: str) -> None:
    stocked(oms)
    oms.orders.place(order_command("W-1", {"A": 1}))
    mine = [t for t in threading.enumerate() if t.name.startswith("omskit-wal-checkpoint:")
            and t.name.endswith(str(oms.engine.url.database))]
    assert len(mine) == (0 if omskit_backend == "postgresql" else 1)
