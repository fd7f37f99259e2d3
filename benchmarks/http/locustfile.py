"""What a channel does to the reference deployment: place an order (POST /orders with an
Idempotency-Key), read it back, and list the newest orders. The key and the network come from
the environment that ``run.py`` sets."""

from __future__ import annotations

import os
import random
import uuid

from locust import HttpUser, between, task

SKUS = [f"SKU-{n:03d}" for n in range(int(os.environ.get("BENCH_SKUS", "200")))]
LOCATIONS = [(45.46, 9.19), (41.90, 12.49), (45.07, 7.69), (40.85, 14.27), (44.49, 11.34)]


def order_body(external_id: str) -> dict[str, object]:
    lat, lon = random.choice(LOCATIONS)
    lines = random.sample(SKUS, random.randint(1, 5))
    return {"channel": "web", "external_id": external_id, "currency": "EUR",
            "customer": {"id": f"c-{random.randint(1, 5000)}"},
            "lines": [{"sku": sku, "quantity": random.randint(1, 2), "unit_price": "19.90"}
                      for sku in lines],
            "shipping_address": {"line1": "Via Roma 1", "city": "Italia", "country": "IT",
                                 "coordinates": {"lat": lat + random.uniform(-0.5, 0.5),
                                                 "lon": lon + random.uniform(-0.5, 0.5)}}}


class Channel(HttpUser):
    """A sales channel with a channel key."""

    wait_time = between(0, 0)

    def on_start(self) -> None:
        self.client.headers["Authorization"] = f"Bearer {os.environ['BENCH_KEY']}"
        self.placed: list[str] = []

    @task(6)
    def place(self) -> None:
        external_id = uuid.uuid4().hex
        with self.client.post("/orders", json=order_body(external_id), name="POST /orders",
                              headers={"Idempotency-Key": external_id},
                              catch_response=True) as answer:
            if answer.status_code == 201:
                self.placed.append(answer.json()["id"])
                answer.success()
            else:
                answer.failure(f"{answer.status_code}: {answer.text[:200]}")

    @task(3)
    def read(self) -> None:
        if self.placed:
            self.client.get(f"/orders/{random.choice(self.placed)}", name="GET /orders/{id}")

    @task(1)
    def listing(self) -> None:
        self.client.get("/orders?limit=20", name="GET /orders")
