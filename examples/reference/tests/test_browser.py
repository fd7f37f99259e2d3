"""Journeys in a real browser (Playwright driving Debian's chromium) against the deployment
served by uvicorn: an operator finds a late order in the exceptions queue and releases its
hold, a store associate ships an order from the store page, a store associate marks a pickup
ready and collected, a customer follows a tracking link, a store takes a return at the returns
desk and operations approves it."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from omskit import Capability, LocationKind
from omskit.testing import location
from playwright.sync_api import Browser, Page, expect, sync_playwright

from omskit_reference import Deployment, Scope, create_app

from .conftest import Client, Clock, place_body, post
from .test_operations import late_and_held
from .test_returns import on_hand, shipped

CHROMIUM = os.environ.get("OMSKIT_CHROMIUM", shutil.which("chromium") or "/usr/bin/chromium")
SHOTS = Path(os.environ.get("OMSKIT_SCREENSHOTS", "")) if os.environ.get(
    "OMSKIT_SCREENSHOTS") else None


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"the browser tests need chromium at {CHROMIUM} "
                    "(apt-get install -y chromium; .ci/run installs it)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM,
                                              args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture
def server(deployment: Deployment) -> Iterator[str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(create_app(deployment), host="127.0.0.1", port=port,
                            log_level="warning")
    running = uvicorn.Server(config)
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not running.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    running.should_exit = True
    thread.join(10)


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    yield context.new_page()
    context.close()


def sign_in(page: Page, server: str, token: str) -> None:
    page.goto(f"{server}/ui/login")
    page.get_by_label("API key").fill(token)
    page.get_by_role("button", name="Sign in").click()


def shot(page: Page, name: str) -> None:
    if SHOTS is not None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_an_operator_finds_a_late_order_and_releases_its_hold(
        page: Page, server: str, admin: Client, deployment: Deployment, clock: Clock) -> None:
    late = late_and_held(admin, "W-LATE", clock)
    post(admin, "/orders", place_body("W-FINE", {"SKU-D": 1}))
    sign_in(page, server, deployment.keys.issue("Operator", Scope.OPERATIONS).token)
    shot(page, "dashboard")

    page.get_by_role("link", name="Exceptions").click()
    queue = page.get_by_role("table", name="exceptions")
    expect(queue.get_by_role("link", name="W-LATE")).to_have_count(2)  # late, and held
    expect(queue.get_by_role("link", name="W-FINE")).to_have_count(0)
    expect(page.get_by_role("img", name="late orders by days late")).to_be_visible()
    shot(page, "exceptions")
    queue.get_by_role("link", name="W-LATE").first.click()
    expect(page.locator("#order-status")).to_have_text("on_hold")
    shot(page, "order")
    page.get_by_role("button", name="Release hold address-check").click()
    expect(page.locator("#order-status")).to_have_text("allocated")
    expect(page.get_by_role("table", name="holds")).to_contain_text("No holds.")
    assert deployment.oms.orders.get(late["id"]).active_holds == ()
    page.get_by_role("link", name="Exceptions").click()
    expect(page.get_by_role("table", name="exceptions")).not_to_contain_text("address-check")


def test_a_store_associate_ships_an_order_from_the_store_page(
        page: Page, server: str, admin: Client, deployment: Deployment) -> None:
    placed = post(admin, "/orders", place_body("W-ROMA", {"SKU-R": 2}, lat=41.9, lon=12.5))
    post(admin, f"/orders/{placed.json()['id']}/release", If_Match=placed.headers["ETag"])
    sign_in(page, server, deployment.keys.issue("Roma", Scope.STORE,
                                                location="store-roma").token)

    queue = page.get_by_role("table", name="work queue")
    expect(queue).to_contain_text("W-ROMA")
    for step in ("Accept", "Pick", "Pack"):
        queue.get_by_role("button", name=step).click()
        expect(queue.get_by_role("button", name=step)).to_have_count(0)
    shot(page, "store")
    queue.get_by_placeholder("carrier").fill("brt")
    queue.get_by_placeholder("tracking number").fill("BRT-4242")
    queue.get_by_role("button", name="Ship").click()
    expect(queue).to_contain_text("Nothing to do.")
    [fo] = deployment.oms.orders.get(placed.json()["id"]).fulfillment_orders
    assert (fo.status.value, fo.shipments[0].tracking_number) == ("shipped", "BRT-4242")


def test_a_customer_opens_a_tracking_link(page: Page, server: str, admin: Client,
                                          deployment: Deployment) -> None:
    placed = post(admin, "/orders", place_body("W-TRACK", {"SKU-D": 1}))
    order_id = placed.json()["id"]
    link = post(admin, f"/orders/{order_id}/tracking-links").json()
    deployment.oms.fulfillment.release(order_id)
    [fo] = deployment.oms.orders.get(order_id).fulfillment_orders
    for step in (deployment.oms.fulfillment.accept, deployment.oms.fulfillment.pick,
                 deployment.oms.fulfillment.pack):
        step(fo.id)
    deployment.oms.fulfillment.ship(fo.id, carrier="brt", tracking_number="BRT-7")

    page.goto(server + link["url"])
    expect(page.get_by_role("heading", name="Order W-TRACK")).to_be_visible()
    expect(page.locator("#order-status")).to_have_text("Your order is on its way.")
    expect(page.get_by_role("heading", name="Parcel with brt BRT-7")).to_be_visible()
    shot(page, "tracking")
    # The customer turns off e-mails about their orders from this channel.
    customer = deployment.oms.orders.get(order_id).customer.id
    messages = page.locator("#messages")
    expect(messages.get_by_label("E-mail me when my order moves")).to_be_checked()
    messages.get_by_label("No e-mails").check()
    messages.get_by_role("button", name="Save").click()
    expect(page.locator("#messages").get_by_role("status")).to_have_text("Saved.")
    expect(page.locator("#messages").get_by_label("No e-mails")).to_be_checked()
    assert deployment.oms.notifications.preferences(customer) == {"web": "none"}
    page.goto(server + "/track/not-a-real-token")
    expect(page.get_by_role("heading", name="We could not find this order")).to_be_visible()


def test_a_store_associate_marks_a_pickup_ready_and_collected(
        page: Page, server: str, admin: Client, deployment: Deployment) -> None:
    deployment.oms.inventory.save_location(location(
        "store-roma", 41.90, 12.49, kind=LocationKind.STORE,
        capabilities=[Capability.SHIP, Capability.PICKUP]))
    placed = post(admin, "/orders", place_body("W-PICKUP", {"SKU-R": 1},
                                               pickup_at="store-roma"))
    post(admin, f"/orders/{placed.json()['id']}/release", If_Match=placed.headers["ETag"])
    [fo] = placed.json()["fulfillment_orders"]
    sign_in(page, server, deployment.keys.issue("Roma", Scope.STORE,
                                                location="store-roma").token)

    queue = page.get_by_role("table", name="work queue")
    row = queue.get_by_role("row").filter(has_text="W-PICKUP")
    expect(row.get_by_role("button", name="Collected")).to_have_count(0)
    row.get_by_role("button", name="Ready for pickup").click()
    expect(row.locator(".status")).to_have_text("ready_for_pickup")
    shot(page, "pickup")
    assert deployment.oms.fulfillment.get(fo["id"]).status.value == "ready_for_pickup"
    row.get_by_role("button", name="Collected").click()
    expect(queue).not_to_contain_text("W-PICKUP")
    assert deployment.oms.fulfillment.get(fo["id"]).status.value == "delivered"
    assert on_hand(deployment, "store-roma", "SKU-R") == 9


def test_a_store_takes_a_return_at_the_desk_and_operations_approves_it(
        page: Page, browser: Browser, server: str, admin: Client,
        deployment: Deployment) -> None:
    order = shipped(admin, "W-RETURN", {"SKU-D": 1})
    sign_in(page, server, deployment.keys.issue("Roma", Scope.STORE,
                                                location="store-roma").token)
    page.get_by_role("link", name="Returns").click()
    page.get_by_label("order number").fill("W-RETURN")
    page.get_by_label("reason").fill("size")
    page.get_by_role("button", name="Request return").click()
    desk = page.get_by_role("table", name="returns")
    expect(desk).to_contain_text("waiting for approval")
    expect(desk.get_by_role("button", name="Approve")).to_have_count(0)  # not the store's call

    operations = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    try:
        sign_in(operations, server, deployment.keys.issue("Ops", Scope.OPERATIONS).token)
        operations.goto(f"{server}/ui/returns")
        operations.get_by_role("table", name="returns").get_by_role(
            "button", name="Approve").click()
        expect(operations.get_by_role("table", name="returns").get_by_role(
            "button", name="Approve")).to_have_count(0)
    finally:
        operations.context.close()

    page.reload()
    desk = page.get_by_role("table", name="returns")
    desk.get_by_role("button", name="Receive").click()
    desk.get_by_role("button", name="Restock").click()
    expect(desk).to_contain_text("inspected 1")
    expect(desk.get_by_role("button", name="Restock")).to_have_count(0)
    shot(page, "returns")
    [rma] = deployment.oms.returns.for_order(order["id"])
    assert (rma.location, len(rma.receipts)) == ("store-roma", 1)
    assert on_hand(deployment, "store-roma", "SKU-D") == 1
