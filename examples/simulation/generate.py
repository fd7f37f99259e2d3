"""Generate the example inputs of ``omskit simulate``: network.json and orders.jsonl.

    python examples/simulation/generate.py [--orders 300] [--seed 11] [--out DIR]

Seeded and deterministic: the committed files are this script's output with the defaults.
The network is 15 locations in Italy and Munich (distribution centres, 3PLs, a dropship
supplier, stores that ship and one that only does pickup), three carriers with different
rate cards, stock and safety stock over 60 SKUs (a few of them scarce); the orders are two
trading days of web, mobile and call-centre orders from Italian and nearby European cities,
about 1 % of them carrying a discontinued SKU that no location stocks.
"""

from __future__ import annotations

import argparse
import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent

CARRIERS = [
    {"code": "poste", "base": 3.90, "per_km": 0.0065, "per_unit": 0.50,
     "transit_days_base": 1, "km_per_day": 300},
    {"code": "brt", "base": 4.50, "per_km": 0.0040, "per_unit": 0.35,
     "transit_days_base": 1, "km_per_day": 600},
    {"code": "dhl-express", "base": 7.50, "per_km": 0.0020, "per_unit": 0.20,
     "transit_days_base": 1, "km_per_day": 1500},
]

# code, kind, name, lat, lon, capabilities, handling, capacity, timezone, cutoff, processing
LOCATIONS: list[tuple[Any, ...]] = [
    ("dc-milano", "distribution_centre", "Milano distribution centre", 45.4642, 9.1900,
     ["ship"], 0.80, None, "Europe/Rome", "14:00", 0),
    ("dc-roma", "distribution_centre", "Roma distribution centre", 41.9028, 12.4964,
     ["ship"], 0.85, 45, "Europe/Rome", "14:00", 0),
    ("dc-muenchen", "distribution_centre", "München distribution centre", 48.1351, 11.5820,
     ["ship"], 0.95, 80, "Europe/Berlin", "15:00", 0),
    ("3pl-bari", "3pl", "Bari 3PL warehouse", 41.1171, 16.8719,
     ["ship"], 1.10, 40, "Europe/Rome", "12:00", 0),
    ("3pl-catania", "3pl", "Catania 3PL warehouse", 37.5079, 15.0830,
     ["ship"], 1.15, 30, "Europe/Rome", "12:00", 0),
    ("supplier-prato", "supplier", "Prato textile supplier (dropship)", 43.8777, 11.1022,
     ["ship"], 1.50, 25, "Europe/Rome", None, 1),
    ("store-torino", "store", "Torino Via Roma store", 45.0703, 7.6869,
     ["pickup", "ship_from_store"], 2.00, 10, "Europe/Rome", "17:00", 0),
    ("store-genova", "store", "Genova store (pickup only)", 44.4056, 8.9463,
     ["pickup"], 2.00, None, "Europe/Rome", None, 0),
    ("store-verona", "store", "Verona store", 45.4384, 10.9916,
     ["pickup", "ship_from_store"], 2.10, 6, "Europe/Rome", "17:00", 0),
    ("store-venezia", "store", "Venezia store", 45.4408, 12.3155,
     ["pickup", "ship_from_store"], 2.20, 6, "Europe/Rome", "17:00", 0),
    ("store-bologna", "store", "Bologna store", 44.4949, 11.3426,
     ["pickup", "ship_from_store"], 2.00, 8, "Europe/Rome", "17:00", 0),
    ("store-firenze", "store", "Firenze store", 43.7696, 11.2558,
     ["pickup", "ship_from_store"], 2.10, 8, "Europe/Rome", "17:00", 0),
    ("store-napoli", "store", "Napoli store", 40.8518, 14.2681,
     ["pickup", "ship_from_store"], 2.00, 8, "Europe/Rome", "17:00", 0),
    ("store-palermo", "store", "Palermo store", 38.1157, 13.3615,
     ["pickup", "ship_from_store"], 2.30, 6, "Europe/Rome", "17:00", 0),
    ("store-cagliari", "store", "Cagliari store", 39.2238, 9.1217,
     ["pickup", "ship_from_store"], 2.30, 5, "Europe/Rome", "17:00", 0),
]

# city, country, lat, lon, weight
CITIES = [
    ("Roma", "IT", 41.9028, 12.4964, 28), ("Milano", "IT", 45.4642, 9.1900, 14),
    ("Napoli", "IT", 40.8518, 14.2681, 9), ("Torino", "IT", 45.0703, 7.6869, 8),
    ("Palermo", "IT", 38.1157, 13.3615, 6), ("Genova", "IT", 44.4056, 8.9463, 5),
    ("Bologna", "IT", 44.4949, 11.3426, 4), ("Firenze", "IT", 43.7696, 11.2558, 4),
    ("Bari", "IT", 41.1171, 16.8719, 3), ("Catania", "IT", 37.5079, 15.0830, 3),
    ("Venezia", "IT", 45.4408, 12.3155, 3), ("Verona", "IT", 45.4384, 10.9916, 3),
    ("Padova", "IT", 45.4064, 11.8768, 2), ("Trieste", "IT", 45.6495, 13.7768, 2),
    ("Cagliari", "IT", 39.2238, 9.1217, 2), ("Perugia", "IT", 43.1107, 12.3908, 2),
    ("Reggio Calabria", "IT", 38.1144, 15.6500, 2), ("Lecce", "IT", 40.3515, 18.1750, 1),
    ("München", "DE", 48.1351, 11.5820, 3), ("Wien", "AT", 48.2082, 16.3738, 2),
    ("Zürich", "CH", 47.3769, 8.5417, 2), ("Nice", "FR", 43.7102, 7.2620, 1),
    ("Ljubljana", "SI", 46.0569, 14.5058, 1),
]

CATEGORIES = ("SHIRT", "JEANS", "SHOE", "BAG", "JACKET", "DRESS", "SCARF", "BELT")
TEXTILES = ("SHIRT", "DRESS", "SCARF")
CHANNELS = (("web", 55), ("mobile", 35), ("call_center", 10))
SEGMENTS = (("standard", 80), ("gold", 15), ("b2b", 5))


def network(rng: random.Random, skus: list[str]) -> dict[str, Any]:
    """The network document."""
    locations = []
    for code, kind, name, lat, lon, caps, handling, capacity, tz, cutoff, days in LOCATIONS:
        stock: dict[str, int] = {}
        safety: dict[str, int] = {}
        for index, sku in enumerate(skus):
            popular = index < len(skus) // 4
            scarce = index % 13 == 7
            if kind == "distribution_centre":
                share = 0.5 if code == "dc-muenchen" else 0.9
                if rng.random() < share:
                    stock[sku] = rng.randint(0, 3) if scarce else rng.randint(
                        15, 70 if popular else 30)
            elif kind == "3pl":
                if not scarce and rng.random() < 0.45:
                    stock[sku] = rng.randint(5, 20)
            elif kind == "supplier":
                if sku.startswith(TEXTILES) and rng.random() < 0.7:
                    stock[sku] = rng.randint(10, 30)
            elif not scarce and rng.random() < (0.7 if popular else 0.25):
                stock[sku] = rng.randint(2, 6)
                safety[sku] = rng.choice((1, 1, 2))
        locations.append({
            "code": code, "kind": kind, "name": name, "lat": lat, "lon": lon,
            "capabilities": caps, "handling_cost": handling, "daily_capacity": capacity,
            "stock": stock, "safety_stock": safety, "timezone": tz, "cutoff": cutoff,
            "processing_days": days,
            "country": "DE" if code == "dc-muenchen" else "IT",
        })
    return {"currency": "EUR", "backorder_penalty": 40.0, "carriers": CARRIERS,
            "locations": locations}


def orders(rng: random.Random, skus: list[str], count: int) -> list[dict[str, Any]]:
    """``count`` orders over two trading days, 06:00-21:00 UTC, in placement order."""
    start = datetime(2025, 3, 3, tzinfo=UTC)
    popularity = [1.0 / (1 + i) ** 0.8 for i in range(len(skus))]
    per_day = (count + 1) // 2
    result = []
    for n in range(count):
        day, slot = divmod(n, per_day)
        placed_at = start + timedelta(days=day, hours=6, seconds=slot * 15 * 3600 // per_day)
        city, country, lat, lon, _w = rng.choices(CITIES, weights=[c[4] for c in CITIES])[0]
        channel = rng.choices([c for c, _ in CHANNELS], weights=[w for _, w in CHANNELS])[0]
        chosen = rng.choices(skus, weights=popularity,
                             k=rng.choices((1, 2, 3, 4), weights=(45, 30, 17, 8))[0])
        if rng.random() < 0.01:
            chosen.append(f"DISCONTINUED-{n:04d}")
        lines = [{"sku": sku, "quantity": rng.choices((1, 2, 3), weights=(70, 22, 8))[0],
                  "unit_price": rng.randrange(990, 19990, 100) / 100}
                 for sku in dict.fromkeys(chosen)]
        result.append({
            "external_id": f"{channel.upper()}-{placed_at:%Y%m%d}-{n:05d}",
            "channel": channel,
            "placed_at": placed_at.isoformat().replace("+00:00", "Z"),
            "customer": {"id": f"cust-{rng.randint(1, count * 2):05d}",
                         "segment": rng.choices([s for s, _ in SEGMENTS],
                                                weights=[w for _, w in SEGMENTS])[0]},
            "ship_to": {"city": city, "country": country,
                        "lat": round(lat + rng.uniform(-0.05, 0.05), 4),
                        "lon": round(lon + rng.uniform(-0.05, 0.05), 4)},
            "delivery": "ship",
            "lines": lines,
        })
    return result


def main() -> None:
    """Write network.json and orders.jsonl."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=300)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--out", type=Path, default=HERE)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    skus = [f"{CATEGORIES[i % len(CATEGORIES)]}-{i:03d}" for i in range(60)]
    args.out.mkdir(parents=True, exist_ok=True)
    doc = network(rng, skus)
    (args.out / "network.json").write_text(
        json.dumps(doc, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    with (args.out / "orders.jsonl").open("w", encoding="utf-8") as out:
        for order in orders(rng, skus, args.orders):
            out.write(json.dumps(order, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
