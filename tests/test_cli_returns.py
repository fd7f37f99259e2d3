"""``omskit returns``, run in-process on SQLite and PostgreSQL: a return requested through
the API is approved, received (twice, taken once), inspected, shown and listed from the
command line; bad input prints one line and changes nothing."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner, Result

from omskit import ManualCarriers, ReturnItem, bootstrap
from omskit.cli import cli
from omskit.cli.main import user_error
from omskit.testing import TestDatabase, location, order_command
from tests.integration.test_returns import WindowPolicyPlugin


def run(db: TestDatabase, *args: str) -> Result:
    base = ["--db", db.url, "--no-plugins"]
    if db.schema:
        base += ["--schema", db.schema]
    return CliRunner().invoke(cli, [*base, *args])


@pytest.fixture
def requested(omskit_database: TestDatabase) -> str:
    """A shipped order of two shirts with a return of both requested from the Roma store."""
    with bootstrap(omskit_database.url, schema=omskit_database.schema, load_entrypoints=False,
                   plugins=[ManualCarriers("brt"), WindowPolicyPlugin()]) as oms:
        oms.upgrade()
        oms.inventory.save_location(location("dc-milano", 45.46, 9.19))
        oms.inventory.save_location(location("store-roma", 41.9, 12.5))
        oms.inventory.receive("dc-milano", "SHIRT-1", 5)
        order = oms.fulfillment.release(
            oms.orders.place(order_command("W-1", {"SHIRT-1": 2})).id)
        fo = order.fulfillment_orders[0].id
        for step in (oms.fulfillment.accept, oms.fulfillment.pick, oms.fulfillment.pack):
            step(fo)
        oms.fulfillment.ship(fo, carrier="brt", tracking_number="T-1")
        return oms.returns.request(order.id, [ReturnItem(line_id="1", quantity=2)],
                                   channel="store", location="store-roma").id


def test_returns_from_the_command_line(omskit_database: TestDatabase, requested: str) -> None:
    approved = run(omskit_database, "returns", "approve", requested, "--json")
    assert approved.exit_code == 0, approved.output
    assert json.loads(approved.output)["status"] == "approved"
    for _ in range(2):
        received = run(omskit_database, "returns", "receive", requested, "1=2",
                       "--location", "store-roma", "--idempotency-key", "counter-1", "--json")
        assert received.exit_code == 0, received.output
        assert json.loads(received.output)["lines"][0]["received"] == 2
    inspected = run(omskit_database, "returns", "inspect", requested, "1=1:restock",
                    "1=1:damaged", "--idempotency-key", "bench-1")
    assert inspected.exit_code == 0, inspected.output
    assert "inspected" in inspected.output
    shown = json.loads(run(omskit_database, "returns", "show", requested, "--json").output)
    assert shown["lines"][0]["dispositions"] == {"restock": 1, "damaged": 1}
    listed = json.loads(run(omskit_database, "returns", "list", "--status", "inspected",
                            "--json").output)
    assert [r["id"] for r in listed] == [requested]
    assert "1 returns" in run(omskit_database, "returns", "list").output


def test_bad_input_prints_one_line_and_changes_nothing(omskit_database: TestDatabase,
                                                       requested: str) -> None:
    run(omskit_database, "returns", "approve", requested)
    too_many = run(omskit_database, "returns", "receive", requested, "1=3", "--location",
                   "store-roma", "--idempotency-key", "k")
    assert too_many.exit_code != 0
    message = user_error(too_many.exception) if too_many.exception else None
    assert message is not None
    assert "only 2 can be taken" in message
    malformed = run(omskit_database, "returns", "inspect", requested, "1=1:lost",
                    "--idempotency-key", "k")
    assert malformed.exit_code == 2
    assert "LINE_ID=UNITS:DISPOSITION" in malformed.output
    shown = json.loads(run(omskit_database, "returns", "show", requested, "--json").output)
    assert (shown["status"], shown["lines"][0]["received"]) == ("approved", 0)
