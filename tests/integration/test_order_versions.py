"""A change made against a version of the order (HTTP's If-Match): checked under the order's
row lock, on SQLite and PostgreSQL, so two changes that read the same version cannot both be
applied; a stale version changes nothing."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from omskit import InvalidCommand, Oms, OrderStatus, OrderVersionMismatch
from omskit.testing import location, order_command


@pytest.fixture
def oms(make_oms: Callable[..., Oms]) -> Oms:
    oms = make_oms()
    oms.inventory.save_location(location("dc-milan", 45.47, 9.19))
    oms.inventory.receive("dc-milan", "SKU-1", 10)
    return oms


def test_a_stale_version_changes_nothing(oms: Oms) -> None:
    order = oms.orders.place(order_command("V-1", {"SKU-1": 2}))
    read = order.version
    oms.orders.place_hold(order.id, "fraud_review", "score 91")  # someone else came first
    with pytest.raises(OrderVersionMismatch) as caught, \
            oms.orders.expecting_version(order.id, read):
        oms.orders.cancel(order.id, "customer asked")
    assert (caught.value.expected, caught.value.actual) == (read, read + 1)
    after = oms.orders.get(order.id)
    assert after.status is OrderStatus.ON_HOLD
    assert after.version == read + 1


def test_the_current_version_goes_through_and_only_the_first_change_is_checked(
        oms: Oms) -> None:
    order = oms.orders.place(order_command("V-1", {"SKU-1": 2}))
    with oms.orders.expecting_version(order.id, order.version):
        held = oms.orders.place_hold(order.id, "fraud_review", "score 91")
        # The operation's later changes are its own: not held to the version read.
        released = oms.orders.release_hold(order.id, "fraud_review")
    assert released.version > held.version > order.version
    # Outside the block nothing is checked any more; another order is never checked.
    other = oms.orders.place(order_command("V-2", {"SKU-1": 1}))
    with oms.orders.expecting_version(order.id, 0):
        assert oms.orders.place_hold(other.id, "x", "y").status is OrderStatus.ON_HOLD
    assert oms.orders.cancel(order.id).status is OrderStatus.CANCELLED


def test_two_changes_that_read_the_same_version_apply_once(oms: Oms) -> None:
    """Two requests read version v and both ask for a change at v: the row lock orders them,
    and the second finds v + 1."""
    order = oms.orders.place(order_command("V-1", {"SKU-1": 2}))
    both_read = threading.Barrier(2, timeout=30)
    outcomes: list[str] = []

    def change(code: str) -> None:
        version = oms.orders.get(order.id).version
        both_read.wait()
        try:
            with oms.orders.expecting_version(order.id, version):
                oms.orders.place_hold(order.id, code, "review")
            outcomes.append("applied")
        except OrderVersionMismatch:
            outcomes.append("refused")

    threads = [threading.Thread(target=change, args=(code,)) for code in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["applied", "refused"]
    after = oms.orders.get(order.id)
    assert after.version == order.version + 1
    assert len(after.active_holds) == 1


def test_a_bad_version_is_a_typed_error(oms: Oms) -> None:
    order = oms.orders.place(order_command("V-1", {"SKU-1": 1}))
    for bad in (-1, "3", True, 1.5):
        with pytest.raises(InvalidCommand), \
                oms.orders.expecting_version(order.id, bad):  # type: ignore[arg-type]
            pass
