"""The operations API and page: the exceptions queue, the sweep, parked events; scopes
apply (a store key sees none of it, a read-only key changes nothing)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import omskit
import pytest
from click.testing import CliRunner
from litestar.testing import TestClient
from omskit.testing import TestDatabase, location, order_command

from omskit_reference import Deployment, Scope
from omskit_reference.asgi import app_from_environment
from omskit_reference.cli import main

from .conftest import Client, Clock, place_body, post
from .test_pages import ACTION, signed_in


def late_and_held(admin: Client, external_id: str, clock: Clock) -> dict[str, Any]:
    """An order whose promised date passed three days ago, held for an address check
    (omskit computes the promise itself: the deployment's clock moves past it)."""
    placed = post(admin, "/orders", place_body(external_id, {"SKU-D": 1}))
    promised = date.fromisoformat(placed.json()["promised_date"])
    clock.advance(days=(promised - clock().date()).days + 3)
    assert placed.status_code == 201, placed.text
    held = post(admin, f"/orders/{placed.json()['id']}/holds",
                {"code": "address-check", "reason": "the courier could not find the street"},
                If_Match=placed.headers["ETag"])
    assert held.status_code == 200, held.text
    order: dict[str, Any] = placed.json()
    return order


def test_the_exceptions_queue_lists_late_and_held_orders(
        admin: Client, client_for: Callable[..., Client], clock: Clock) -> None:
    order = late_and_held(admin, "W-LATE", clock)
    post(admin, "/orders", place_body("W-FINE", {"SKU-D": 1}))
    found = admin.get("/exceptions").json()
    assert {(x["kind"], x["order_id"]) for x in found} == {("late", order["id"]),
                                                            ("held", order["id"])}
    (held,) = [x for x in found if x["kind"] == "held"]
    assert held["reference"] == "address-check"
    assert [x["kind"] for x in admin.get("/exceptions?kind=late").json()] == ["late"]
    assert admin.get("/exceptions?kind=on_fire").status_code == 400
    reader = client_for(Scope.READ)
    assert len(reader.get("/exceptions").json()) == 2
    store = client_for(Scope.STORE, location="store-roma")
    answer = store.get("/exceptions")
    assert answer.status_code == 403
    assert answer.headers["content-type"].startswith("application/problem+json")


def test_a_sweep_raises_each_exception_once(admin: Client, client_for: Callable[..., Client],
                                            clock: Clock) -> None:
    late_and_held(admin, "W-LATE", clock)
    first = post(admin, "/sweeps", {"jobs": ["monitor"]})
    assert first.status_code == 200, first.text
    assert first.json()["ran"] is True
    assert sorted(x["kind"] for x in first.json()["exceptions_raised"]) == ["held", "late"]
    again = post(admin, "/sweeps", {})
    assert again.json()["exceptions_raised"] == []
    assert again.json()["jobs"] == ["carts", "edits", "authorisations", "pickups", "monitor",
                                   "notifications"]
    bad = post(admin, "/sweeps", {"jobs": ["laundry"]})
    assert bad.status_code == 422  # omskit refused the command, naming the problem
    assert "unknown job 'laundry'" in bad.text
    reader = client_for(Scope.READ)
    assert post(reader, "/sweeps", {}).status_code == 403


def test_parked_events_are_listed_retried_and_skipped(admin: Client,
                                                      deployment: Deployment) -> None:
    assert admin.get("/outbox/parked").json() == []
    assert post(admin, "/outbox/999999/retry").status_code == 404
    assert post(admin, "/outbox/999999/skip", {"reason": "x"}).status_code == 404


def test_an_operator_releases_a_hold_from_the_exceptions_page(
        admin: Client, deployment: Deployment, clock: Clock) -> None:
    order = late_and_held(admin, "W-LATE", clock)
    client = signed_in(deployment, Scope.OPERATIONS)
    html = client.get("/ui/exceptions").text
    assert "W-LATE" in html
    assert 'aria-label="late orders by days late"' in html
    assert "Release hold address-check" in html
    url = f"/ui/exceptions/orders/{order['id']}/holds/address-check/release"
    assert client.post(url).status_code == 403  # not sent by the page's htmx
    answer = client.post(url, headers=ACTION)
    assert answer.status_code == 200
    assert "Release hold" not in answer.text
    assert deployment.oms.orders.get(order["id"]).active_holds == ()
    reader = signed_in(deployment, Scope.READ)
    assert "Release hold" not in reader.get("/ui/exceptions").text
    store = signed_in(deployment, Scope.STORE, location="store-roma")
    assert store.get("/ui/exceptions").status_code == 403


def test_the_worker_runs_a_round_and_raises_each_exception_once(
        omskit_database: TestDatabase) -> None:
    url, schema = omskit_database.url, omskit_database.schema
    deployment = Deployment.open(url, plugins=[omskit.ManualCarriers("brt")], schema=schema)
    try:
        oms = deployment.oms
        oms.inventory.save_location(location("dc-milano", 45.46, 9.19))
        oms.inventory.receive("dc-milano", "SKU-D", 5)
        order = oms.orders.place(order_command("W-1", {"SKU-D": 1}))
        oms.orders.place_hold(order.id, "fraud_review", "score 91")
    finally:
        deployment.close()
    args = ["worker", "--database", url, "--once", *(["--schema", schema] if schema else [])]
    first = CliRunner().invoke(main, args)
    assert first.exit_code == 0, first.output
    assert "1 exception(s) raised" in first.output
    again = CliRunner().invoke(main, args)
    assert "0 exception(s) raised" in again.output


def test_migrate_then_api_processes_that_do_not_migrate(
        omskit_database: TestDatabase, monkeypatch: pytest.MonkeyPatch) -> None:
    """Several machines: one `omskit-reference migrate`, then API processes started by the
    ASGI factory from the environment (database, schema, pool size) that only open it."""
    url, schema = omskit_database.url, omskit_database.schema
    args = ["migrate", "--database", url, *(["--schema", schema] if schema else [])]
    done = CliRunner().invoke(main, args)
    assert done.exit_code == 0, done.output
    assert "database up to date" in done.output
    again = CliRunner().invoke(main, args)  # migrating an up-to-date database is a no-op
    assert again.exit_code == 0, again.output

    monkeypatch.setenv("OMSKIT_DATABASE_URL", url)
    if schema:
        monkeypatch.setenv("OMSKIT_SCHEMA", schema)
    monkeypatch.setenv("OMSKIT_POOL_SIZE", "3")
    opened: list[Deployment] = []
    real_open = Deployment.open

    def spy(*args: Any, **kwargs: Any) -> Deployment:
        assert kwargs["migrate"] is False
        assert kwargs["schema"] == (schema or None)
        opened.append(real_open(*args, **kwargs))
        return opened[-1]

    monkeypatch.setattr(Deployment, "open", spy)
    with TestClient(app_from_environment()) as client:
        assert client.get("/health").status_code == 200
        (deployment,) = opened
        if url.startswith("postgresql"):
            assert deployment.oms.engine.pool.size() == 3  # type: ignore[attr-defined]

    monkeypatch.setenv("OMSKIT_POOL_SIZE", "many")
    with pytest.raises(RuntimeError, match="OMSKIT_POOL_SIZE"):
        app_from_environment()
