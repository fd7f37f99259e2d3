"""The files supplier: the conformance kit, and the files themselves (CSV and JSON)."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
from omskit import (
    FulfillmentStatus,
    InvalidCommand,
    LocationKind,
    ManualCarriers,
    Oms,
    OrderStatus,
    PurchaseOrderStatus,
)
from omskit.testing import SupplierConformance, location, order_command

import omskit_supplier_files
from omskit_supplier_files import FileSupplier

CODE = "sup-files"


class FolderDesk:
    """The supplier's side: reads the purchase orders, drops its files."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _drop(self, kind: str, name: str, content: str) -> None:
        (self.folder / kind).mkdir(parents=True, exist_ok=True)
        (self.folder / kind / name).write_text(content, encoding="utf-8")

    def received(self) -> list[dict[str, Any]]:
        orders = self.folder / "purchase-orders"
        return [json.loads(p.with_suffix(".json").read_text(encoding="utf-8"))
                for p in sorted(orders.glob("*.key"))] if orders.is_dir() else []

    def acknowledge(self, purchase_order_id: str, message_id: str) -> None:
        self._drop("responses", f"{message_id}.csv",
                   f"purchase_order_id,status,reason\n{purchase_order_id},acknowledged,\n")

    def refuse(self, purchase_order_id: str, message_id: str, reason: str) -> None:
        self._drop("responses", f"{message_id}.json", json.dumps(
            {"purchase_order_id": purchase_order_id, "status": "refused", "reason": reason}))

    def ship(self, purchase_order_id: str, message_id: str, lines: Mapping[str, int],
             carrier: str, tracking_number: str) -> None:
        rows = "".join(f"{purchase_order_id},{carrier},{tracking_number},{sku},{q}\n"
                       for sku, q in lines.items())
        self._drop("ship-notices", f"{message_id}.csv",
                   "purchase_order_id,carrier,tracking_number,sku,quantity\n" + rows)

    def stock(self, message_id: str, levels: Mapping[str, int]) -> None:
        self._drop("stock", f"{message_id}.json", json.dumps(
            {"levels": [{"sku": sku, "quantity": q} for sku, q in levels.items()]}))


class TestFileSupplier(SupplierConformance):
    @pytest.fixture
    def supplier_code(self) -> str:
        return CODE

    @pytest.fixture
    def supplier_settings(self, tmp_path: Path) -> Mapping[str, Any]:
        return {"supplier-files": {"suppliers": {CODE: str(tmp_path / "acme")}}}

    @pytest.fixture
    def supplier_plugin(self) -> object:
        return omskit_supplier_files

    @pytest.fixture
    def supplier_connector(self, tmp_path: Path) -> FileSupplier:
        return FileSupplier(CODE, tmp_path / "acme")

    @pytest.fixture
    def supplier_desk(self, tmp_path: Path) -> FolderDesk:
        return FolderDesk(tmp_path / "acme")


@pytest.fixture
def shop(make_oms: Callable[..., Oms], tmp_path: Path) -> Oms:
    oms = make_oms(plugins=[omskit_supplier_files, ManualCarriers("brt")],
                   settings={"supplier-files": {"suppliers": {CODE: str(tmp_path / "acme")}}})
    oms.inventory.save_location(location(CODE, 45.07, 7.69, country="IT",
                                         kind=LocationKind.SUPPLIER))
    oms.inventory.save_location(location("dc-napoli", 40.85, 14.27, country="IT"))
    for where in (CODE, "dc-napoli"):
        oms.inventory.receive(where, "SKU-1", 10)
    return oms


def test_the_purchase_order_is_written_as_json_and_html(shop: Oms, tmp_path: Path) -> None:
    order = shop.orders.place(order_command("F-1", {"SKU-1": 2}, lat=45.07, lon=7.69))
    shop.fulfillment.release(order.id)
    (po,) = shop.dropship.purchase_orders(CODE)
    folder = tmp_path / "acme" / "purchase-orders"
    assert sorted(p.name for p in folder.iterdir()) == [
        f"{po.id}.html", f"{po.id}.json", f"{po.id}.key"]
    data = json.loads((folder / f"{po.id}.json").read_text(encoding="utf-8"))
    assert data["ship_to"]["country"] == "IT"
    assert data["lines"][0]["quantity"] == 2
    assert "<h1>Purchase order" in (folder / f"{po.id}.html").read_text(encoding="utf-8")


def test_a_csv_ship_notice_for_part_then_a_json_one_for_the_rest(shop: Oms,
                                                                 tmp_path: Path) -> None:
    order = shop.orders.place(order_command("F-2", {"SKU-1": 3}, lat=45.07, lon=7.69))
    shop.fulfillment.release(order.id)
    (po,) = shop.dropship.purchase_orders(CODE)
    desk = FolderDesk(tmp_path / "acme")
    desk.ship(po.id, "asn-1", {"SKU-1": 1}, "brt", "BRT-1")
    desk._drop("ship-notices", "asn-2.json", json.dumps({
        "purchase_order_id": po.id, "carrier": "brt", "tracking_number": "BRT-2",
        "shipped_at": "2026-12-04T10:00:00+01:00", "lines": [{"sku": "SKU-1", "quantity": 2}]}))
    (result,) = shop.dropship.poll(CODE)
    assert result.processed == 2
    done = shop.orders.get(order.id)
    assert done.status is OrderStatus.SHIPPED
    assert done.fulfillment_orders[0].status is FulfillmentStatus.SHIPPED
    assert shop.dropship.get(po.id).status is PurchaseOrderStatus.SHIPPED


def test_a_malformed_file_is_a_typed_error(shop: Oms, tmp_path: Path) -> None:
    FolderDesk(tmp_path / "acme")._drop("stock", "bad.csv", "sku,quantity\nSKU-1,many\n")
    with pytest.raises(InvalidCommand, match="many"):
        shop.dropship.poll(CODE)
    assert shop.inventory.stock_item(CODE, "SKU-1").on_hand == 10


def test_settings_are_checked(make_oms: Callable[..., Oms]) -> None:
    with pytest.raises(Exception, match=r"supplier-files\.suppliers"):
        make_oms(plugins=[omskit_supplier_files], settings={"supplier-files": {"x": 1}})
