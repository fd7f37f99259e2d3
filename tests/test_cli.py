"""The ``omskit`` command, run in-process with click's runner on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import re
import socket
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result

from omskit import Oms, bootstrap
from omskit.cli import cli
from omskit.store import migrate
from omskit.store.tables import build_metadata
from omskit.testing import TestDatabase, location, order_command

DOCS = Path(__file__).resolve().parents[1] / "docs" / "cli.md"


def run(db: TestDatabase, *args: str) -> Result:
    base = ["--db", db.url, "--no-plugins"]
    if db.schema:
        base += ["--schema", db.schema]
    return CliRunner().invoke(cli, [*base, *args], catch_exceptions=False)


def test_db_upgrade_then_current(omskit_database: TestDatabase) -> None:
    assert run(omskit_database, "db", "current").output.strip() == "none"
    upgraded = run(omskit_database, "db", "upgrade")
    assert upgraded.exit_code == 0
    assert f"revision {migrate.head()}" in upgraded.output
    assert run(omskit_database, "db", "current").output.strip() == migrate.head()


def test_demo_runs_a_day_and_summarises_it(omskit_database: TestDatabase,
                                           tmp_path: Path) -> None:
    mail = tmp_path / "mail"
    result = run(omskit_database, "demo", "--orders", "60", "--skus", "40", "--json",
                 "--mail-dir", str(mail))
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output[result.output.index("{"):])
    assert summary["orders"] == 60
    assert sum(summary["by_status"].values()) == 60
    assert set(summary["by_channel"]) <= {"web", "mobile", "call_center", "store"}
    # Orders placed early in the day are delivered by its end.
    assert summary["by_status"].get("delivered", 0) > 0
    assert 0 <= summary["split_rate"] <= 1
    assert 0 <= summary["backorder_rate"] <= 1
    assert sum(summary["units_shipped_by_location"].values()) > 0
    # The day ends with a sweep: each exception it lists was raised once, and is open.
    assert summary["exceptions_raised"] == sum(summary["exceptions"].values()) > 0
    engine = omskit_database.engine()
    try:
        with engine.connect() as conn:
            breaches = build_metadata(schema=omskit_database.schema).monitor_breaches
            open_now = conn.execute(sa.select(breaches.c.kind)
                                    .where(breaches.c.cleared_at.is_(None))).scalars()
            assert Counter(open_now) == summary["exceptions"]
    finally:
        engine.dispose()
    # The paid order's customer heard about each step, in Italian; each e-mail is a file.
    assert [m["kind"] for m in summary["emails"]] == [
        "order_confirmed", "order_shipped", "out_for_delivery", "order_delivered",
        "return_received", "refund_issued"]
    assert {m["to"] for m in summary["emails"]} == {"giulia@example.it"}
    files = sorted(mail.glob("*.eml"))
    assert len(files) == 6
    assert any(b"Subject: Rimborso" in f.read_bytes() for f in files)
    # A second run on the same database refuses to mix days, unless --reset.
    again = CliRunner().invoke(cli, ["--db", omskit_database.url, "--no-plugins",
                                     *(["--schema", omskit_database.schema]
                                       if omskit_database.schema else []),
                                     "demo", "--orders", "5", "--skus", "10",
                                     "--mail-dir", str(mail)])
    assert again.exit_code != 0
    assert "already holds orders" in again.output
    reset = run(omskit_database, "demo", "--orders", "5", "--skus", "10", "--reset", "--json",
                "--mail-dir", str(mail))
    assert reset.exit_code == 0, reset.output


@pytest.fixture
def seeded(omskit_database: TestDatabase) -> str:
    with bootstrap(omskit_database.url, schema=omskit_database.schema,
                   load_entrypoints=False) as oms:
        oms.upgrade()
        oms.inventory.save_location(location("dc-milano", 45.46, 9.19))
        oms.inventory.save_location(location("dc-roma", 41.90, 12.50))
        oms.inventory.receive("dc-milano", "SHIRT-1", 7)
        oms.inventory.receive("dc-roma", "SHIRT-1", 3)
        oms.inventory.set_safety_stock("dc-roma", "SHIRT-1", 1)
        order = oms.orders.place(order_command("W-1", {"SHIRT-1": 2}, customer_id="c-9"))
        oms.orders.place(order_command("M-1", {"SHIRT-1": 1}, channel="mobile"))
        return order.id


def test_orders_list_filters(omskit_database: TestDatabase, seeded: str) -> None:
    everything = json.loads(run(omskit_database, "orders", "list", "--json").output)
    assert {o["external_id"] for o in everything} == {"W-1", "M-1"}
    mobile = json.loads(run(omskit_database, "orders", "list", "--channel", "mobile",
                            "--json").output)
    assert [o["external_id"] for o in mobile] == ["M-1"]
    by_customer = json.loads(run(omskit_database, "orders", "list", "--customer", "c-9",
                                 "--json").output)
    assert [o["id"] for o in by_customer] == [seeded]
    none = json.loads(run(omskit_database, "orders", "list", "--status", "shipped",
                          "--json").output)
    assert none == []
    table = run(omskit_database, "orders", "list")
    assert "W-1" in table.output
    assert "M-1" in table.output


def test_orders_show(omskit_database: TestDatabase, seeded: str) -> None:
    shown = json.loads(run(omskit_database, "orders", "show", seeded, "--json").output)
    assert shown["status"] == "allocated"
    assert shown["total"] == "20.00"
    assert [fo["location"] for fo in shown["fulfillment_orders"]] == ["dc-milano"]
    assert shown["timeline"][0]["event_type"] == "order.placed"
    text = run(omskit_database, "orders", "show", seeded).output
    assert "dc-milano" in text
    assert "order.placed" in text


def test_orders_cancel_lines_and_short_close(omskit_database: TestDatabase,
                                            seeded: str) -> None:
    cancelled = run(omskit_database, "orders", "cancel-lines", seeded, "1=1",
                    "--reason", "customer asked", "--idempotency-key", "k-1", "--json")
    assert cancelled.exit_code == 0, cancelled.output
    data = json.loads(cancelled.output)
    assert (data["status"], data["lines"][0]["cancelled_quantity"]) == ("allocated", 1)
    again = run(omskit_database, "orders", "cancel-lines", seeded, "1=1",
                "--reason", "customer asked", "--idempotency-key", "k-1", "--json")
    assert json.loads(again.output)["lines"][0]["cancelled_quantity"] == 1
    assert "cancelled" in run(omskit_database, "orders", "show", seeded).output
    base = ["--db", omskit_database.url, "--no-plugins",
            *(["--schema", omskit_database.schema] if omskit_database.schema else [])]
    bad = CliRunner().invoke(cli, [*base, "orders", "cancel-lines", seeded, "1:1"])
    assert bad.exit_code == 2
    assert "LINE_ID=UNITS" in bad.output
    too_many = CliRunner().invoke(cli, [*base, "orders", "cancel-lines", seeded, "1=5"])
    assert too_many.exit_code != 0
    assert "only 1 can be cancelled" in str(too_many.exception)

    closed = run(omskit_database, "orders", "short-close", seeded, "--reason", "discontinued")
    assert closed.exit_code == 0, closed.output
    assert "cancelled" in closed.output  # nothing had shipped: the whole order is cancelled
    shown = json.loads(run(omskit_database, "orders", "show", seeded, "--json").output)
    assert shown["status"] == "cancelled"
    assert "order.short_closed" in [e["event_type"] for e in shown["timeline"]]


def test_orders_edit_stages_previews_and_commits(omskit_database: TestDatabase, seeded: str,
                                                tmp_path: Path) -> None:
    previewed = run(omskit_database, "orders", "edit", "W-1", "1=3", "--channel", "mobile",
                    "--actor", "cus-9", "--preview", "--json")
    assert previewed.exit_code == 0, previewed.output
    data = json.loads(previewed.output)
    assert data["status"] == "open"
    assert [(x["before"], x["after"]) for x in data["summary"]["lines"]] == [(2, 3)]
    assert data["summary"]["total_after"] == "30.00"
    shown = json.loads(run(omskit_database, "orders", "show", seeded, "--json").output)
    assert shown["lines"][0]["quantity"] == 2  # a preview changes nothing
    committed = run(omskit_database, "orders", "edit", seeded, "--edit", data["edit_id"],
                    "--commit")
    assert committed.exit_code == 0, committed.output
    assert "committed" in committed.output
    assert "30.00" in committed.output
    changes = tmp_path / "changes.json"
    changes.write_text(json.dumps({"add_lines": [{"sku": "SHIRT-1", "quantity": 1,
                                                  "unit_price": "9.90"}]}))
    whole = json.loads(run(omskit_database, "orders", "edit", "web/W-1", "--file",
                           str(changes), "--commit", "--json").output)
    assert whole["summary"]["lines"][0]["line_id"] == "2"
    shown = json.loads(run(omskit_database, "orders", "show", seeded, "--json").output)
    assert [x["quantity"] for x in shown["lines"]] == [3, 1]
    assert [e["event_type"] for e in shown["timeline"]].count("order.edit_committed") == 2
    staged = run(omskit_database, "orders", "edit", seeded, "--remove", "2")
    assert "open" in staged.output
    edit_id = re.search(r"edit ([0-9a-f]{32})", staged.output)
    assert edit_id is not None
    abandoned = run(omskit_database, "orders", "edit", seeded, "--edit", edit_id.group(1),
                    "--abandon", "--json")
    assert json.loads(abandoned.output)["status"] == "abandoned"
    base = ["--db", omskit_database.url, "--no-plugins",
            *(["--schema", omskit_database.schema] if omskit_database.schema else [])]
    bad = CliRunner().invoke(cli, [*base, "orders", "edit", seeded, "--add", "SHIRT-1:2"])
    assert bad.exit_code == 2
    assert "SKU:UNITS:UNIT_PRICE" in bad.output
    with bootstrap(omskit_database.url, schema=omskit_database.schema,
                   load_entrypoints=False) as oms:
        oms.fulfillment.release(seeded)
    released = CliRunner().invoke(cli, [*base, "orders", "edit", seeded, "1=1", "--commit"])
    assert released.exit_code != 0
    assert "is released" in str(released.exception)


def test_unknown_order_is_a_clear_error(omskit_database: TestDatabase, seeded: str) -> None:
    base = ["--db", omskit_database.url, "--no-plugins",
            *(["--schema", omskit_database.schema] if omskit_database.schema else [])]
    result = CliRunner().invoke(cli, [*base, "orders", "show", "nope"])
    assert result.exit_code != 0
    assert "nope" in str(result.exception) or "nope" in result.output


def test_inventory_show(omskit_database: TestDatabase, seeded: str) -> None:
    data = json.loads(run(omskit_database, "inventory", "show", "SHIRT-1", "--json").output)
    by_location = {p["location"]: p for p in data["locations"]}
    # Milano shipped nothing yet: 7 on hand, 2 + 1 reserved for the two orders.
    assert by_location["dc-milano"]["on_hand"] == 7
    assert by_location["dc-milano"]["reserved"] == 3
    assert by_location["dc-milano"]["available"] == 4
    assert by_location["dc-roma"]["available"] == 2  # 3 on hand − 1 safety
    assert data["on_hand"] == 10
    assert data["available"] == 6
    text = run(omskit_database, "inventory", "show", "SHIRT-1").output
    assert "dc-roma" in text
    assert "total" in text


def test_plugins_json_lists_builtins(omskit_database: TestDatabase) -> None:
    plugins = json.loads(run(omskit_database, "plugins", "--json").output)
    builtin = {p["name"]: p for p in plugins if p["builtin"]}
    assert "omskit_validate_order" in builtin["omskit.builtin.validation"]["hooks"]
    assert "omskit_register_routing_strategies" in builtin["omskit.builtin.strategies"]["hooks"]


def test_every_command_is_documented() -> None:
    headings = [line for line in DOCS.read_text().splitlines() if line.startswith("## ")]
    documented = {name for line in headings
                  for name in re.findall(r"`omskit ([a-z -]+?)(?: [A-Z_]+)?`", line)}

    def walk(group: object, prefix: str = "") -> set[str]:
        found: set[str] = set()
        for name, command in getattr(group, "commands", {}).items():
            if hasattr(command, "commands"):
                found |= walk(command, f"{prefix}{name} ")
            else:
                found.add(f"{prefix}{name}")
        return found

    assert walk(cli) <= documented, f"undocumented: {walk(cli) - documented}"


def test_inventory_expire_carts(omskit_database: TestDatabase,
                                make_oms: Callable[..., Oms]) -> None:
    from datetime import UTC, datetime, timedelta

    past = datetime.now(UTC) - timedelta(hours=2)
    oms = make_oms(clock=lambda: past)
    oms.inventory.save_location(location("dc-milano", 45.46, 9.19))
    oms.inventory.receive("dc-milano", "A", 5)
    oms.carts.hold("cart-1", {"A": 2}, ttl=timedelta(minutes=30), channel="web")
    assert oms.inventory.stock_item("dc-milano", "A").reserved == 2  # type: ignore[union-attr]
    result = run(omskit_database, "inventory", "expire-carts")
    assert result.output.strip() == "1 soft reservations expired"
    assert oms.inventory.stock_item("dc-milano", "A").reserved == 0  # type: ignore[union-attr]
    assert run(omskit_database, "inventory", "expire-carts").output.strip() == (
        "0 soft reservations expired")


def test_the_demo_sends_its_emails_to_an_smtp_sink(omskit_database: TestDatabase,
                                                   tmp_path: Path) -> None:
    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Message

    received: list[Any] = []

    class Sink(Message):  # type: ignore[misc]
        def handle_message(self, message: Any) -> None:
            received.append(message)

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sink = Controller(Sink(), hostname="127.0.0.1", port=port)
    sink.start()
    try:
        result = run(omskit_database, "demo", "--orders", "5", "--skus", "10", "--json",
                     "--mail-dir", str(tmp_path / "mail"), "--smtp", f"127.0.0.1:{port}")
    finally:
        sink.stop()
    assert result.exit_code == 0, result.output
    assert {m["To"] for m in received} == {"giulia@example.it"}
    assert len(received) == 6
    assert sorted(m["Subject"] for m in received) == sorted(
        m["subject"] for m in json.loads(result.output[result.output.index("{"):])["emails"])
    bad = run(omskit_database, "demo", "--smtp", "nowhere")
    assert bad.exit_code == 2
    assert "is not HOST:PORT" in bad.output
