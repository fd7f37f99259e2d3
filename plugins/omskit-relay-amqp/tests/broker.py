"""A consumer on the real RabbitMQ: an exchange and a queue of its own per test."""

from __future__ import annotations

import asyncio
import os
import uuid

import aio_pika
from omskit.testing import ReceivedMessage

AMQP_URL = os.environ.get("OMSKIT_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
#: A port nothing listens on: a broker that is down.
DOWN_URL = "amqp://guest:guest@127.0.0.1:1/"


class TestQueue:
    """Declares ``exchange`` and a queue bound to every routing key, drains it on demand,
    and deletes both at the end."""

    __test__ = False

    def __init__(self) -> None:
        self.exchange = f"omskit-test-{uuid.uuid4().hex}"
        self.queue = f"{self.exchange}.all"
        self.received: list[ReceivedMessage] = []
        self.routing_keys: list[str] = []
        self.persistent: list[bool] = []
        asyncio.run(self._declare())

    async def _declare(self) -> None:
        connection = await aio_pika.connect(AMQP_URL, timeout=10)
        async with connection:
            channel = await connection.channel()
            exchange = await channel.declare_exchange(self.exchange,
                                                      aio_pika.ExchangeType.TOPIC,
                                                      durable=True)
            queue = await channel.declare_queue(self.queue, durable=True)
            await queue.bind(exchange, "#")

    def drain(self) -> list[ReceivedMessage]:
        """Everything the queue got so far, in arrival order (kept across calls)."""
        asyncio.run(self._drain())
        return list(self.received)

    async def _drain(self) -> None:
        connection = await aio_pika.connect(AMQP_URL, timeout=10)
        async with connection:
            channel = await connection.channel()
            queue = await channel.get_queue(self.queue)
            while (message := await queue.get(fail=False, timeout=10)) is not None:
                await message.ack()
                self.received.append(ReceivedMessage(
                    message_id=message.message_id or "", event_type=message.type or "",
                    body=message.body))
                self.routing_keys.append(message.routing_key or "")
                self.persistent.append(
                    message.delivery_mode == aio_pika.DeliveryMode.PERSISTENT)

    def delete(self) -> None:
        """Remove the queue and the exchange."""
        asyncio.run(self._delete())

    async def _delete(self) -> None:
        connection = await aio_pika.connect(AMQP_URL, timeout=10)
        async with connection:
            channel = await connection.channel()
            await channel.queue_delete(self.queue)
            await channel.exchange_delete(self.exchange)
