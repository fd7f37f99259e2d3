"""What a channel does to the reference deployment. ``Channel``: place an order (POST /orders
with an Idempotency-Key), read one it placed back, and list the newest orders (6 : 3 : 1).
``Placer``: place orders only (the HTTP half of HTTP ÷ library placement). The key comes from
the environment that ``run.py`` sets; the orders from ``workload.py`` (this directory)."""

from __future__ import annotations

import os
import random
import uuid

from locust import HttpUser, between, task
from workload import order_body


class _Channel(HttpUser):
    """A sales channel with the run's key, sending its next request as soon as it has the
    answer to the last (the load is the users' count, not a think time)."""

    abstract = True
    wait_time = between(0, 0)

    def on_start(self) -> None:
        self.client.headers["Authorization"] = f"Bearer {os.environ['BENCH_KEY']}"
        self.placed: list[str] = []

    def place_one(self) -> None:
        external_id = uuid.uuid4().hex
        with self.client.post("/orders", json=order_body(external_id), name="POST /orders",
                              headers={"Idempotency-Key": external_id},
                              catch_response=True) as answer:
            if answer.status_code == 201:
                self.placed.append(answer.json()["id"])
                answer.success()
            else:
                answer.failure(f"{answer.status_code}: {answer.text[:200]}")


class Channel(_Channel):
    """Places, reads back and lists."""

    @task(6)
    def place(self) -> None:
        self.place_one()

    @task(3)
    def read(self) -> None:
        if self.placed:
            self.client.get(f"/orders/{random.choice(self.placed)}", name="GET /orders/{id}")
        else:
            self.place_one()

    @task(1)
    def listing(self) -> None:
        self.client.get("/orders?limit=20", name="GET /orders")


class Placer(_Channel):
    """Places only."""

    @task
    def place(self) -> None:
        self.place_one()
