"""``omskit pickups ready|collect|expire`` on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from click.testing import CliRunner, Result

from omskit import Capability, FulfillmentStatus, LocationKind, Oms
from omskit.cli import cli
from omskit.testing import TestDatabase, location, order_command


def run(db: TestDatabase, *args: str) -> Result:
    base = ["--db", db.url, "--no-plugins"]
    if db.schema:
        base += ["--schema", db.schema]
    return CliRunner().invoke(cli, [*base, *args])


def test_ready_collect_and_expire(omskit_database: TestDatabase,
                                  make_oms: Callable[..., Oms]) -> None:
    oms = make_oms()
    oms.inventory.save_location(location("store-roma", 41.9, 12.5, kind=LocationKind.STORE,
                                         capabilities=(Capability.PICKUP,)))
    oms.inventory.receive("store-roma", "A", 5)
    collected = oms.orders.place(order_command("P-1", {"A": 3}, pickup_at="store-roma"))
    forgotten = oms.orders.place(order_command("P-2", {"A": 1}, pickup_at="store-roma"))
    oms.fulfillment.release(collected.id)
    oms.fulfillment.release(forgotten.id)
    fo = collected.fulfillment_orders[0].id
    other = forgotten.fulfillment_orders[0].id

    ready = run(omskit_database, "pickups", "ready", fo, "--json")
    assert ready.exit_code == 0, ready.output
    assert json.loads(ready.output)["status"] == "ready_for_pickup"
    assert run(omskit_database, "pickups", "ready", other).output.startswith(
        f"{other} ready at store-roma: collect by ")

    too_many = run(omskit_database, "pickups", "collect", fo, "--line", "1=4")
    assert too_many.exit_code != 0
    assert "but 3 are ready to collect" in str(too_many.exception)
    part = run(omskit_database, "pickups", "collect", fo, "--line", "1=1")
    assert part.output.strip() == f"{fo} ready_for_pickup: 2 units left to collect"
    rest = run(omskit_database, "pickups", "collect", fo, "--json")
    assert json.loads(rest.output) == {"fulfillment_order_id": fo, "status": "delivered",
                                       "left": {}}

    later = (datetime.now(UTC) + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%S%z")
    assert run(omskit_database, "pickups", "expire").output.strip() == "0 pickups expired"
    assert run(omskit_database, "pickups", "expire", "--now", later).output.strip() == (
        "1 pickups expired")
    assert oms.fulfillment.get(other).status is FulfillmentStatus.CANCELLED
    assert oms.inventory.stock_item("store-roma", "A").reserved == 0  # type: ignore[union-attr]
