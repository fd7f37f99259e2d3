"""The Tryton 8 peer of the throughput benchmark; run by the Tryton venv's python, not omskit's.

Usage: ``python tryton_peer.py WORKDIR ORDERS.json`` where WORKDIR holds ``trytond.conf`` and
the SQLite database ``bench.sqlite``, already created by ``trytond-admin --all`` with the
``sale`` and ``stock`` modules activated (``run.py`` does that). ORDERS.json is
``{"stock": {sku: units}, "orders": [[[sku, quantity], ...], ...]}``.

Set-up (not timed): a currency, a company, the admin user in it, a customer with an address,
one goods product per SKU, the stock received into the default warehouse with done moves.
Timed, per order, one transaction each: create the sale with its lines, quote, confirm,
process (which creates the customer shipment and its moves), try to assign the shipment
(Tryton's reservation), commit. Prints one JSON line with the latencies in ms.
"""

# Tryton's convention: models from the pool are bound to capitalised names.
# ruff: noqa: N806

from __future__ import annotations

import json
import sys
import time
from decimal import Decimal
from pathlib import Path

DB = "bench"


def main() -> None:
    workdir, orders_path = Path(sys.argv[1]), Path(sys.argv[2])
    spec = json.loads(orders_path.read_text())
    from trytond import config

    config.update_etc(str(workdir / "trytond.conf"))
    from trytond.pool import Pool
    from trytond.transaction import Transaction

    Pool.start()
    pool = Pool(DB)
    pool.init()

    with Transaction().start(DB, 0, context={}) as tx:
        User = pool.get("res.user")
        Currency = pool.get("currency.currency")
        Party = pool.get("party.party")
        Company = pool.get("company.company")
        [admin] = User.search([("login", "=", "admin")])
        [eur] = Currency.create([{"name": "Euro", "code": "EUR", "symbol": "€",
                                  "rounding": Decimal("0.01"), "digits": 2}])
        [company_party] = Party.create([{"name": "Bench Company"}])
        [company] = Company.create([{"party": company_party.id, "currency": eur.id}])
        User.write([admin], {"companies": [("add", [company.id])], "company": company.id})
        tx.commit()
        user_id, company_id, currency_id = admin.id, company.id, eur.id

    context = {"company": company_id}
    with Transaction().start(DB, user_id, context=context) as tx:
        Party = pool.get("party.party")
        Uom = pool.get("product.uom")
        Template = pool.get("product.template")
        Location = pool.get("stock.location")
        Move = pool.get("stock.move")
        [unit] = Uom.search([("name", "=", "Unit")])
        [warehouse] = Location.search([("type", "=", "warehouse")])
        [supplier] = Location.search([("type", "=", "supplier")])
        [customer] = Party.create([{"name": "Customer", "addresses": [("create", [{
            "street": "Via Test 1", "city": "Milano", "postal_code": "20100"}])]}])
        products = {}
        for sku in sorted(spec["stock"]):
            [template] = Template.create([{
                "name": sku, "type": "goods", "default_uom": unit.id,
                "list_price": Decimal("10"), "salable": True, "sale_uom": unit.id,
                "products": [("create", [{}])]}])
            products[sku] = template.products[0]
        moves = Move.create([{
            "product": products[sku].id, "from_location": supplier.id,
            "to_location": warehouse.storage_location.id, "quantity": float(units),
            "unit": unit.id, "unit_price": Decimal("1"), "currency": currency_id,
            "company": company_id} for sku, units in sorted(spec["stock"].items())])
        Move.do(moves)
        tx.commit()
        customer_id, address_id = customer.id, customer.addresses[0].id
        product_ids = {sku: p.id for sku, p in products.items()}
        unit_id, warehouse_id = unit.id, warehouse.id

    from trytond.transaction import TransactionError

    def place(lines: list[list[object]]) -> str:
        Sale = pool.get("sale.sale")
        Shipment = pool.get("stock.shipment.out")
        [sale] = Sale.create([{
            "party": customer_id, "invoice_address": address_id,
            "shipment_address": address_id, "company": company_id,
            "currency": currency_id, "warehouse": warehouse_id,
            "invoice_method": "manual", "shipment_method": "order",
            "lines": [("create", [{
                "type": "line", "product": product_ids[sku], "quantity": float(q),
                "unit": unit_id, "unit_price": Decimal("10.00")}
                for sku, q in lines])]}])
        Sale.quote([sale])
        Sale.confirm([sale])
        Sale.process([sale])
        shipments = list(sale.shipments)
        if shipments:
            Shipment.wait([s for s in shipments if s.state == "draft"])
            Shipment.assign_try(shipments)
        return f"{sale.state}/{'+'.join(sorted({s.state for s in shipments})) or '-'}"

    # As Tryton's RPC dispatcher does: a TransactionError (assigning stock needs the move
    # table locked) rolls back and starts again with the lock taken up front. The locks
    # learnt on the first order are kept for the others, so only that order runs twice.
    extras: dict[str, object] = {}
    latencies = []
    states: dict[str, int] = {}
    retried = 0
    started = time.perf_counter()
    for lines in spec["orders"]:
        t0 = time.perf_counter()
        while True:
            with Transaction().start(DB, user_id, context=context, **extras) as tx:
                try:
                    key = place(lines)
                except TransactionError as e:
                    tx.rollback()
                    e.fix(extras)
                    retried += 1
                    continue
                tx.commit()
                break
        latencies.append((time.perf_counter() - t0) * 1000)
        states[key] = states.get(key, 0) + 1
    elapsed = time.perf_counter() - started
    print(json.dumps({"orders": len(latencies), "seconds": elapsed, "latencies_ms": latencies,
                      "states": states, "retried_for_locks": retried}))


if __name__ == "__main__":
    main()
