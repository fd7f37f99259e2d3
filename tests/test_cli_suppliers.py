"""``omskit suppliers``, run in-process on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from click.testing import CliRunner, Result

from omskit import LocationKind, SupplierConnector, bootstrap, hookimpl
from omskit.cli import cli
from omskit.testing import MemorySupplier, TestDatabase, location, order_command


def run(db: TestDatabase, *args: str) -> Result:
    base = ["--db", db.url, "--no-plugins"]
    if db.schema:
        base += ["--schema", db.schema]
    return CliRunner().invoke(cli, [*base, *args], catch_exceptions=False)


class Acme:
    @hookimpl
    def omskit_register_suppliers(self, register: Callable[[SupplierConnector], None]) -> None:
        register(MemorySupplier("sup-acme"))


@pytest.fixture
def dropshipped(omskit_database: TestDatabase) -> str:
    with bootstrap(omskit_database.url, schema=omskit_database.schema,
                   load_entrypoints=False, plugins=[Acme()]) as oms:
        oms.upgrade()
        oms.inventory.save_location(location("sup-acme", 45.07, 7.69, country="IT",
                                             kind=LocationKind.SUPPLIER))
        oms.inventory.receive("sup-acme", "SKU-1", 5)
        order = oms.orders.place(order_command("S-1", {"SKU-1": 2}, lat=45.07, lon=7.69))
        oms.fulfillment.release(order.id)
        (po,) = oms.dropship.purchase_orders()
        return po.id


def test_purchase_orders_listed_and_filtered(omskit_database: TestDatabase,
                                             dropshipped: str) -> None:
    listed = json.loads(run(omskit_database, "suppliers", "purchase-orders", "--json").output)
    assert [(p["id"], p["supplier"], p["status"], p["units"]) for p in listed] == [
        (dropshipped, "sup-acme", "sent", 2)]
    none = run(omskit_database, "suppliers", "purchase-orders", "--status", "refused",
               "--json")
    assert json.loads(none.output) == []
    table = run(omskit_database, "suppliers", "purchase-orders")
    assert "1 purchase orders" in table.output
    assert "sup-acme" in table.output


def test_poll_without_connectors_says_so(omskit_database: TestDatabase,
                                         dropshipped: str) -> None:
    result = run(omskit_database, "suppliers", "poll")
    assert result.exit_code == 0
    assert "no supplier connectors installed" in result.output
    assert json.loads(run(omskit_database, "suppliers", "poll", "--json").output) == []
