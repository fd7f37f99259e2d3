"""The global stock view over HTTP: per location and per kind of location, in transit, and
available to promise by a date."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from omskit import LocationKind
from omskit.testing import location

from omskit_reference import Deployment, Scope

from .conftest import Client, Clock


def test_stock_by_kind_of_location_with_supply_and_atp_by_date(
        admin: Client, client_for: Callable[..., Client], clock: Clock,
        deployment: Deployment) -> None:
    inventory = deployment.oms.inventory
    inventory.save_location(location("3pl-bologna", 44.49, 11.34,
                                     kind=LocationKind.THIRD_PARTY_LOGISTICS))
    inventory.save_location(location("supplier-acme", 45.5, 9.2, kind=LocationKind.SUPPLIER))
    inventory.receive("3pl-bologna", "SKU-D", 5)
    inventory.receive("supplier-acme", "SKU-D", 100)
    eta = clock.now + timedelta(days=3)
    inventory.register_supply("dc-milano", "SKU-D", 20, eta, reference="PO-1")

    reader = client_for(Scope.READ)
    now = reader.get("/stock/SKU-D")
    assert now.status_code == 200, now.text
    view = now.json()
    assert (view["on_hand"], view["in_transit"], view["available"]) == (155, 20, 155)
    assert view["by_kind"]["3pl"]["on_hand"] == 5
    assert view["by_kind"]["supplier"]["on_hand"] == 100
    assert view["by_kind"]["warehouse"]["in_transit"] == 20
    milano = next(p for p in view["positions"] if p["location"] == "dc-milano")
    assert [s["quantity"] for s in milano["incoming"]] == [20]
    assert view["available_at"] is None

    before_eta = (clock.now + timedelta(days=1)).isoformat()
    after_eta = (clock.now + timedelta(days=4)).isoformat()
    early = reader.get("/stock/SKU-D", params={"at": before_eta}).json()
    late = reader.get("/stock/SKU-D", params={"at": after_eta}).json()
    assert (early["available_at"], late["available_at"]) == (155, 175)
    assert next(p for p in late["positions"]
                if p["location"] == "dc-milano")["available_at"] == 70

    naive = reader.get("/stock/SKU-D", params={"at": "2026-01-01T00:00:00"})
    assert naive.status_code == 422
    store = client_for(Scope.STORE, location="store-roma")
    assert store.get("/stock/SKU-D").status_code == 403
    assert client_for(Scope.CHANNEL, channel="web").get("/stock/SKU-D").status_code == 403
