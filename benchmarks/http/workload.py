"""The orders both halves of the HTTP benchmark place: the JSON body a channel POSTs to
``/orders`` (``locustfile.py``), which ``run.py`` turns into the same ``PlaceOrder`` for the
library loop, so HTTP ÷ library compares the same work. No omskit import here: locust
imports this module, and a slow import before its event loop starts shortens its run."""

from __future__ import annotations

import os
import random

SKUS = [f"SKU-{n:03d}" for n in range(int(os.environ.get("BENCH_SKUS", "200")))]
#: Delivery points: around five Italian cities, inside the seeded network's box.
CITIES = [(45.46, 9.19), (41.90, 12.49), (45.07, 7.69), (40.85, 14.27), (44.49, 11.34)]


def order_body(external_id: str, rng: random.Random | None = None) -> dict[str, object]:
    """One web order of 1–5 distinct SKUs, 1–2 units each, as the API's JSON body."""
    rng = rng or random.Random()
    lat, lon = rng.choice(CITIES)
    lines = rng.sample(SKUS, rng.randint(1, 5))
    return {"channel": "web", "external_id": external_id, "currency": "EUR",
            "customer": {"id": f"c-{rng.randint(1, 5000)}"},
            "lines": [{"sku": sku, "quantity": rng.randint(1, 2), "unit_price": "19.90"}
                      for sku in lines],
            "shipping_address": {"line1": "Via Roma 1", "city": "Italia", "country": "IT",
                                 "coordinates": {"lat": lat + rng.uniform(-0.5, 0.5),
                                                 "lon": lon + rng.uniform(-0.5, 0.5)}}}
