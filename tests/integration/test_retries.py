"""Transient conflicts are retried; when every attempt meets one, the caller gets the typed
``ConcurrencyConflict`` the docs promise, never the driver's deadlock error."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from omskit import Oms
from omskit.domain.errors import ConcurrencyConflict
from omskit.services.database import MAX_ATTEMPTS


class Deadlock(Exception):
    sqlstate = "40P01"


def test_retries_that_run_out_raise_concurrency_conflict(oms: Oms,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("time.sleep", lambda _s: None)
    calls: list[int] = []

    def deadlocks() -> None:
        calls.append(1)
        raise sa.exc.OperationalError("UPDATE ...", {}, Deadlock("deadlock detected"))

    with pytest.raises(ConcurrencyConflict) as caught:
        oms._db.retrying(deadlocks)
    assert len(calls) == MAX_ATTEMPTS
    assert "gave up after 8 attempts" in str(caught.value)
    assert isinstance(caught.value.__cause__, sa.exc.OperationalError)


def test_a_conflict_that_clears_is_retried_silently(oms: Oms,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("time.sleep", lambda _s: None)
    calls: list[int] = []

    def once() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise ConcurrencyConflict("order", "o-1")
        return "done"

    assert oms._db.retrying(once) == "done"
    assert len(calls) == 3


def test_other_errors_are_not_retried(oms: Oms) -> None:
    calls: list[int] = []

    def broken() -> None:
        calls.append(1)
        raise sa.exc.OperationalError("SELECT", {}, Exception("no such table"))

    with pytest.raises(sa.exc.OperationalError):
        oms._db.retrying(broken)
    assert calls == [1]
