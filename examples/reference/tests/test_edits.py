"""Order edits over HTTP: begin, stage, preview, commit on the version, discard; scopes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from omskit.testing import table_contents

from omskit_reference import Deployment, Scope

from .conftest import Client, place_body, post
from .test_pages import ACTION, signed_in


def _placed(admin: Client, external_id: str = "W-E", channel: str = "web") -> Any:
    placed = post(admin, "/orders", place_body(external_id, {"SKU-D": 1}, channel=channel))
    assert placed.status_code == 201, placed.text
    return placed


def test_an_operator_edits_a_quantity_previews_and_commits_on_the_version(
        admin: Client, deployment: Deployment) -> None:
    placed = _placed(admin)
    order = placed.json()
    begun = post(admin, f"/orders/{order['id']}/edits", {"actor": "agent:anna"}, key="b-1")
    assert begun.status_code == 201, begun.text
    edit = begun.json()
    assert (edit["status"], edit["base_version"], edit["channel"]) == (
        "open", order["version"], "operations")
    again = post(admin, f"/orders/{order['id']}/edits", {"actor": "agent:anna"}, key="b-1")
    assert again.json()["id"] == edit["id"]
    assert len(deployment.oms.edits.for_order(order["id"])) == 1

    staged = post(admin, f"/order-edits/{edit['id']}/changes", {"quantities": {"1": 3}})
    assert staged.status_code == 200, staged.text
    assert staged.json()["changes"]["quantities"] == {"1": 3}

    preview = admin.get(f"/order-edits/{edit['id']}/preview")
    assert preview.status_code == 200, preview.text
    shown = preview.json()
    assert (shown["summary"]["total_before"], shown["summary"]["total_after"],
            shown["payment_difference"]) == ("10.00", "30.00", "20.00")
    assert deployment.oms.orders.get(order["id"]).line("1").quantity == 1  # nothing written

    url = f"/order-edits/{edit['id']}/commit"
    assert post(admin, url).status_code == 428
    stale = post(admin, url, If_Match='"999"')
    assert stale.status_code == 412
    assert stale.headers["ETag"] == placed.headers["ETag"]
    assert deployment.oms.orders.get(order["id"]).line("1").quantity == 1

    done = post(admin, url, key="c-1", If_Match=placed.headers["ETag"])
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "committed"
    assert done.json()["summary"]["total_after"] == "30.00"
    after = deployment.oms.orders.get(order["id"])
    assert after.line("1").quantity == 3
    assert done.headers["ETag"] == f'"{after.version}"'
    replay = post(admin, url, key="c-1", If_Match=placed.headers["ETag"])
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json() == done.json()
    assert deployment.oms.orders.get(order["id"]).version == after.version
    listed = admin.get(f"/orders/{order['id']}/edits").json()
    assert [e["status"] for e in listed] == ["committed"]


def test_an_edit_adds_and_removes_lines_and_changes_the_address(
        admin: Client, deployment: Deployment) -> None:
    placed = post(admin, "/orders", place_body("W-L", {"SKU-D": 2, "SKU-R": 1}, lat=41.9,
                                               lon=12.5))
    order = placed.json()
    edit = post(admin, f"/orders/{order['id']}/edits", {}).json()
    staged = post(admin, f"/order-edits/{edit['id']}/changes", {
        "add_lines": [{"sku": "SKU-T", "quantity": 1, "unit_price": "7.50"}],
        "remove_lines": ["2"],
        "shipping_address": {"line1": "Via Po 1", "city": "Torino", "country": "IT",
                             "coordinates": {"lat": 45.07, "lon": 7.69}}})
    assert staged.status_code == 200, staged.text
    preview = admin.get(f"/order-edits/{edit['id']}/preview").json()
    assert preview["address_changed"] is True
    assert preview["payment_difference"] == "-2.50"  # +7.50 for SKU-T, -10.00 for SKU-R
    done = post(admin, f"/order-edits/{edit['id']}/commit", If_Match=placed.headers["ETag"])
    assert done.status_code == 200, done.text
    after = deployment.oms.orders.get(order["id"])
    assert after.shipping_address is not None
    assert after.shipping_address.city == "Torino"
    assert after.line("2").open_quantity == 0
    assert [line.sku for line in after.lines] == ["SKU-D", "SKU-R", "SKU-T"]


def test_bad_changes_are_problems_and_change_nothing(
        admin: Client, deployment: Deployment) -> None:
    order = _placed(admin).json()
    edit = post(admin, f"/orders/{order['id']}/edits", {}).json()
    before = table_contents(deployment.oms)
    unknown = post(admin, f"/order-edits/{edit['id']}/changes", {"quantities": {"9": 2}})
    assert unknown.status_code == 404
    assert unknown.json()["type"] == "urn:omskit:error:LineNotFound"
    wrong = post(admin, f"/order-edits/{edit['id']}/changes", {"quantities": {"1": "many"}})
    assert wrong.status_code == 400
    assert wrong.headers["content-type"].startswith("application/problem+json")
    assert post(admin, "/order-edits/nope/changes", {"quantities": {"1": 2}}).status_code == 404
    assert table_contents(deployment.oms) == before


def test_an_edit_of_a_version_that_is_gone_is_a_conflict(
        admin: Client, deployment: Deployment) -> None:
    placed = _placed(admin)
    order = placed.json()
    stale = post(admin, f"/orders/{order['id']}/edits", {}).json()
    post(admin, f"/order-edits/{stale['id']}/changes", {"quantities": {"1": 2}})
    moved = post(admin, f"/orders/{order['id']}/holds", {"code": "fraud", "reason": "check"},
                 If_Match=placed.headers["ETag"])
    assert moved.status_code == 200
    refused = post(admin, f"/order-edits/{stale['id']}/commit", If_Match=moved.headers["ETag"])
    assert refused.status_code == 409
    assert refused.json()["type"] == "urn:omskit:error:OrderEditConflict"
    assert deployment.oms.orders.get(order["id"]).line("1").quantity == 1


def test_a_discarded_edit_changes_nothing_and_cannot_commit(
        admin: Client, deployment: Deployment) -> None:
    placed = _placed(admin)
    order = placed.json()
    edit = post(admin, f"/orders/{order['id']}/edits", {}).json()
    post(admin, f"/order-edits/{edit['id']}/changes", {"quantities": {"1": 5}})
    discarded = post(admin, f"/order-edits/{edit['id']}/discard")
    assert discarded.json()["status"] == "abandoned"
    closed = post(admin, f"/order-edits/{edit['id']}/commit", If_Match=placed.headers["ETag"])
    assert closed.status_code == 409
    assert closed.json()["type"] == "urn:omskit:error:OrderEditClosed"
    assert deployment.oms.orders.get(order["id"]).line("1").quantity == 1
    assert admin.get(f"/order-edits/{edit['id']}").json()["status"] == "abandoned"


def test_keys_out_of_scope_cannot_edit_and_change_nothing(
        admin: Client, client_for: Callable[..., Client], deployment: Deployment) -> None:
    placed = _placed(admin, channel="web")
    order = placed.json()
    edit = post(admin, f"/orders/{order['id']}/edits", {}).json()
    before = table_contents(deployment.oms)

    reader = client_for(Scope.READ)
    assert reader.get(f"/order-edits/{edit['id']}").status_code == 200
    assert post(reader, f"/orders/{order['id']}/edits", {}).status_code == 403
    assert post(reader, f"/order-edits/{edit['id']}/changes",
                {"quantities": {"1": 2}}).status_code == 403
    store = client_for(Scope.STORE, location="store-roma")
    assert post(store, f"/orders/{order['id']}/edits", {}).status_code == 403
    assert store.get(f"/order-edits/{edit['id']}").status_code == 403
    other = client_for(Scope.CHANNEL, channel="marketplace")
    assert post(other, f"/orders/{order['id']}/edits", {}).status_code == 404
    assert other.get(f"/order-edits/{edit['id']}").status_code == 404
    assert other.get(f"/orders/{order['id']}/edits").status_code == 404
    assert post(other, f"/order-edits/{edit['id']}/changes",
                {"quantities": {"1": 2}}).status_code == 404
    assert post(other, f"/order-edits/{edit['id']}/commit",
                If_Match=placed.headers["ETag"]).status_code == 404
    assert post(other, f"/order-edits/{edit['id']}/discard").status_code == 404
    assert table_contents(deployment.oms) == before

    web = client_for(Scope.CHANNEL, channel="web")
    assert post(web, f"/orders/{order['id']}/edits", {"channel": "mobile"}).status_code == 403
    own = post(web, f"/orders/{order['id']}/edits", {"actor": "customer:customer-1"})
    assert own.status_code == 201, own.text
    assert own.json()["channel"] == "web"
    assert post(web, f"/order-edits/{own.json()['id']}/changes",
                {"quantities": {"1": 2}}).status_code == 200
    assert post(web, f"/order-edits/{own.json()['id']}/commit",
                If_Match=placed.headers["ETag"]).status_code == 200
    assert deployment.oms.orders.get(order["id"]).line("1").quantity == 2


def test_an_operator_changes_a_quantity_from_the_order_page(
        admin: Client, deployment: Deployment) -> None:
    order = _placed(admin, "W-P").json()
    ops = signed_in(deployment, Scope.OPERATIONS)
    html = ops.get(f"/ui/orders/{order['id']}").text
    assert "Edit order" in html
    assert 'name="qty-1"' in html
    url = f"/ui/orders/{order['id']}/edit"
    forged = ops.post(url, data={"version": str(order["version"]), "qty-1": "4"})
    assert forged.status_code == 403
    old = ops.post(url, data={"version": "99", "qty-1": "4"}, headers=ACTION)
    assert "look at it again" in old.text
    assert deployment.oms.orders.get(order["id"]).line("1").quantity == 1
    done = ops.post(url, data={"version": str(order["version"]), "qty-1": "4"}, headers=ACTION)
    assert done.status_code == 200, done.text
    assert "Order edited." in done.text
    assert deployment.oms.orders.get(order["id"]).line("1").quantity == 4
    [edit] = deployment.oms.edits.for_order(order["id"])
    assert edit.status.value == "committed"
    assert edit.channel == "operations"
    assert "40.00" in done.text  # the edits table shows the new total

    reader = signed_in(deployment, Scope.READ)
    assert "Edit order" not in reader.get(f"/ui/orders/{order['id']}").text
    after = deployment.oms.orders.get(order["id"])
    refused = reader.post(url, data={"version": str(after.version), "qty-1": "1"},
                          headers=ACTION)
    assert refused.status_code == 403
    assert deployment.oms.orders.get(order["id"]).line("1").quantity == 4
