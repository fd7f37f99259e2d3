"""omskit supplier connector for small suppliers who work with files.

Each supplier has a folder (``settings["supplier-files"]["suppliers"][<location code>]``):

- ``purchase-orders/<id>.json`` and ``<id>.html``: the purchase orders omskit sends, written
  atomically; ``<id>.key`` (written last) holds the idempotency key they were sent under;
- ``responses/*.json|*.csv``: acknowledgements and refusals the supplier drops;
- ``ship-notices/*.json|*.csv``: what left, with the carrier and tracking number;
- ``stock/*.json|*.csv``: the supplier's free stock per SKU.

The files stay where they are: omskit records each message id (the file name, with the
purchase order and tracking number for a CSV row) and processes it once.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from omskit import (
    InvalidCommand,
    PurchaseOrderDocument,
    ShipNotice,
    ShipNoticeLine,
    StockFeed,
    StockLevel,
    SupplierConnector,
    SupplierResponse,
    SupplierResponseKind,
    SupplierUnavailable,
    hookimpl,
)

#: The key of this plugin's settings.
SETTINGS_KEY = "supplier-files"

__all__ = ["SETTINGS_KEY", "FileSupplier", "omskit_register_suppliers",
           "omskit_validate_settings"]


def _folders(settings: Mapping[str, Any]) -> dict[str, Path]:
    own = settings.get(SETTINGS_KEY)
    suppliers = own.get("suppliers") if isinstance(own, Mapping) else None
    if not isinstance(suppliers, Mapping):
        return {}
    return {str(code): Path(str(folder)) for code, folder in suppliers.items()
            if isinstance(code, str) and isinstance(folder, str | os.PathLike)}


def _write(path: Path, content: str) -> None:
    """Write ``content`` so that a reader never sees half a file."""
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(content, encoding="utf-8")
    os.replace(temporary, path)


def _moment(value: object, where: str) -> datetime | None:
    if value in (None, ""):
        return None
    try:
        found = datetime.fromisoformat(str(value))
    except ValueError:
        raise InvalidCommand([f"{where}: {value!r} is not an ISO 8601 time"],
                             subject="supplier file") from None
    if found.tzinfo is None:
        raise InvalidCommand([f"{where}: {value!r} has no UTC offset"],
                             subject="supplier file")
    return found


def _quantity(value: object, where: str) -> int:
    try:
        return int(str(value).strip())
    except ValueError:
        raise InvalidCommand([f"{where}: {value!r} is not a whole number"],
                             subject="supplier file") from None


class FileSupplier:
    """The connector of one supplier whose folder is ``folder``."""

    def __init__(self, code: str, folder: Path) -> None:
        self.code = code
        self.folder = folder

    # -- purchase orders ------------------------------------------------------------------

    def _orders(self) -> Path:
        path = self.folder / "purchase-orders"
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:  # an unmounted share: nothing was written
            raise SupplierUnavailable(self.code, f"{path}: {exc}") from exc
        return path

    def send_purchase_order(self, document: PurchaseOrderDocument,
                            settings: Mapping[str, Any]) -> str:
        """Write ``<id>.json``, ``<id>.html`` and, last, ``<id>.key``: the same key again
        finds the key file and writes nothing."""
        orders = self._orders()
        if self.find_purchase_order(document.idempotency_key, settings) is not None:
            return document.purchase_order_id
        try:
            _write(orders / f"{document.purchase_order_id}.json", document.json)
            _write(orders / f"{document.purchase_order_id}.html", document.html)
        except OSError as exc:  # the supplier sees no purchase order without its key
            raise SupplierUnavailable(self.code, f"{orders}: {exc}") from exc
        _write(orders / f"{document.purchase_order_id}.key", document.idempotency_key)
        return document.purchase_order_id

    def find_purchase_order(self, idempotency_key: str,
                            settings: Mapping[str, Any]) -> str | None:
        """The purchase order id when its key file holds ``idempotency_key``."""
        purchase_order_id = idempotency_key.rsplit(":", 1)[0]
        key = self.folder / "purchase-orders" / f"{purchase_order_id}.key"
        try:
            found = key.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        return purchase_order_id if found == idempotency_key else None

    # -- messages -------------------------------------------------------------------------

    def _files(self, kind: str) -> Iterator[Path]:
        folder = self.folder / kind
        if not folder.is_dir():
            return
        for path in sorted(folder.iterdir()):
            if path.suffix.lower() in (".json", ".csv") and not path.name.startswith("."):
                yield path

    @staticmethod
    def _rows(path: Path) -> list[dict[str, Any]]:
        """A JSON object or list of objects, or CSV rows, as dictionaries."""
        text = path.read_text(encoding="utf-8-sig")
        if path.suffix.lower() == ".csv":
            return [dict(row) for row in csv.DictReader(text.splitlines())]
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise InvalidCommand([f"{path.name}: not JSON ({exc})"],
                                 subject="supplier file") from None
        rows = data if isinstance(data, list) else [data]
        if not all(isinstance(r, dict) for r in rows):
            raise InvalidCommand([f"{path.name}: a JSON object or a list of them"],
                                 subject="supplier file")
        return rows

    def _read(self, kind: str, parse: Callable[[Path, list[dict[str, Any]]], list[Any]]
              ) -> list[Any]:
        found: list[Any] = []
        for path in self._files(kind):
            try:
                found.extend(parse(path, self._rows(path)))
            except (KeyError, TypeError, AttributeError) as exc:
                raise InvalidCommand([f"{kind}/{path.name}: missing or malformed {exc}"],
                                     subject="supplier file") from None
        return found

    def read_responses(self, settings: Mapping[str, Any]) -> Sequence[SupplierResponse]:
        """``responses/``: rows of ``purchase_order_id``, ``status`` (``acknowledged`` or
        ``refused``), ``reason``, ``occurred_at``."""
        def parse(path: Path, rows: list[dict[str, Any]]) -> list[SupplierResponse]:
            found = []
            for i, row in enumerate(rows):
                status = str(row["status"]).strip().lower()
                if status not in ("acknowledged", "refused"):
                    raise InvalidCommand([f"responses/{path.name}[{i}].status: "
                                          "acknowledged or refused"], subject="supplier file")
                po = str(row["purchase_order_id"]).strip()
                found.append(SupplierResponse(
                    message_id=path.name if len(rows) == 1 else f"{path.name}:{po}",
                    purchase_order_id=po, kind=SupplierResponseKind(status),
                    reason=str(row.get("reason") or ""),
                    occurred_at=_moment(row.get("occurred_at"), f"{path.name}[{i}]")))
            return found

        return self._read("responses", parse)

    def read_ship_notices(self, settings: Mapping[str, Any]) -> Sequence[ShipNotice]:
        """``ship-notices/``: JSON objects with ``purchase_order_id``, ``carrier``,
        ``tracking_number``, ``shipped_at`` and ``lines`` (``sku``, ``quantity``); or CSV
        rows of ``purchase_order_id``, ``carrier``, ``tracking_number``, ``sku``,
        ``quantity``, one notice per purchase order and tracking number."""
        def parse(path: Path, rows: list[dict[str, Any]]) -> list[ShipNotice]:
            groups: dict[tuple[str, str, str], list[ShipNoticeLine]] = {}
            shipped: dict[tuple[str, str, str], datetime | None] = {}
            for i, row in enumerate(rows):
                key = (str(row["purchase_order_id"]).strip(), str(row["carrier"]).strip(),
                       str(row["tracking_number"]).strip())
                lines = row.get("lines", [row])
                groups.setdefault(key, []).extend(
                    ShipNoticeLine(sku=str(x["sku"]).strip(),
                                   quantity=_quantity(x["quantity"], f"{path.name}[{i}]"))
                    for x in lines)
                shipped[key] = _moment(row.get("shipped_at"), f"{path.name}[{i}]")
            return [ShipNotice(
                message_id=path.name if len(groups) == 1 else f"{path.name}:{po}:{number}",
                purchase_order_id=po, carrier=carrier, tracking_number=number,
                lines=tuple(lines), shipped_at=shipped[(po, carrier, number)])
                for (po, carrier, number), lines in groups.items()]

        return self._read("ship-notices", parse)

    def read_stock_feed(self, settings: Mapping[str, Any]) -> Sequence[StockFeed]:
        """``stock/``: rows of ``sku`` and ``quantity`` (JSON: ``{"levels": [...]}`` or a
        list), one feed per file, in file-name order (name them by date)."""
        def parse(path: Path, rows: list[dict[str, Any]]) -> list[StockFeed]:
            if len(rows) == 1 and "levels" in rows[0]:
                rows = list(rows[0]["levels"])
            return [StockFeed(message_id=path.name, levels=tuple(
                StockLevel(sku=str(r["sku"]).strip(),
                           quantity=_quantity(r["quantity"], f"{path.name}[{i}]"))
                for i, r in enumerate(rows)))]

        return self._read("stock", parse)


@hookimpl
def omskit_register_suppliers(register: Callable[[SupplierConnector], None],
                              settings: Mapping[str, Any]) -> None:
    """One :class:`FileSupplier` per supplier in the settings."""
    for code, folder in sorted(_folders(settings).items()):
        register(FileSupplier(code, folder))


@hookimpl
def omskit_validate_settings(settings: Mapping[str, Any]) -> list[str]:
    """``supplier-files.suppliers``: a mapping of supplier location code to folder."""
    own = settings.get(SETTINGS_KEY)
    if own is None:
        return []
    suppliers = own.get("suppliers") if isinstance(own, Mapping) else None
    if not isinstance(suppliers, Mapping):
        return [f"{SETTINGS_KEY}.suppliers: a mapping of supplier code to folder"]
    return [f"{SETTINGS_KEY}.suppliers.{code}: a folder path, not {folder!r}"
            for code, folder in suppliers.items()
            if not isinstance(folder, str | os.PathLike)]
