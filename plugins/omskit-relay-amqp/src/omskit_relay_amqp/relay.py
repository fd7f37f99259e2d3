"""The AMQP event relay: outbox events to a RabbitMQ exchange, with publisher confirms."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Collection, Sequence
from typing import Any

import aio_pika
import attrs
from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractExchange
from omskit import RelayMessage, RelayUnavailable
from pamqp.commands import Basic

from omskit_relay_amqp.loop import BackgroundLoop
from omskit_relay_amqp.settings import AmqpSettings


@attrs.define
class AmqpRelay:
    """Publishes each event as a persistent message to one topic exchange, routed by its
    event type (``order.placed``), with ``message_id`` the event id and publisher confirms:
    an event counts as delivered only when the broker acknowledged it.

    It connects on the first publish (``bootstrap`` never needs the broker) and again after
    the connection is lost. RabbitMQ does not de-duplicate: a consumer drops a message whose
    ``message_id`` it has already handled (an event re-published after a crash).
    """

    settings: AmqpSettings
    _loop: BackgroundLoop = attrs.field(factory=BackgroundLoop, init=False)
    _connection: AbstractConnection | None = attrs.field(default=None, init=False)
    _channel: AbstractChannel | None = attrs.field(default=None, init=False)
    _exchange: AbstractExchange | None = attrs.field(default=None, init=False)

    @property
    def code(self) -> str:
        """The relay's code (``amqp`` unless the settings name another)."""
        return self.settings.code

    def publish(self, messages: Sequence[RelayMessage]) -> Collection[str]:
        """Publish ``messages`` in order on one confirming channel; the ids acknowledged.

        Raises :class:`omskit.RelayUnavailable` when the broker cannot be reached or the
        connection fails with nothing acknowledged.
        """
        try:
            return self._loop.run(self._publish(messages),
                                  self.settings.timeout * (2 + len(messages)))
        except RelayUnavailable:
            raise
        except Exception as exc:  # timeout or client failure: the batch is retryable
            self._loop.run(self._reset(), self.settings.timeout)
            raise RelayUnavailable(f"amqp relay {self.code!r}: {type(exc).__name__}: "
                                   f"{exc}") from exc

    def close(self) -> None:
        """Close the connection (a new publish opens another)."""
        self._loop.run(self._reset(), self.settings.timeout)

    async def _open(self) -> AbstractExchange:
        if self._exchange is not None and self._channel is not None \
                and not self._channel.is_closed:
            return self._exchange
        await self._reset()
        try:
            self._connection = await aio_pika.connect(self.settings.url,
                                                      timeout=self.settings.timeout)
            self._channel = await self._connection.channel(publisher_confirms=True)
            self._exchange = await self._channel.declare_exchange(
                self.settings.exchange, aio_pika.ExchangeType.TOPIC, durable=True)
        except Exception as exc:
            await self._reset()
            raise RelayUnavailable(f"amqp relay {self.code!r}: cannot reach "
                                   f"{self.settings.safe_url()}: {type(exc).__name__}: "
                                   f"{exc}") from exc
        return self._exchange

    async def _reset(self) -> None:
        connection, self._connection = self._connection, None
        self._channel = self._exchange = None
        if connection is not None and not connection.is_closed:
            # Closing a broken connection: nothing is left to save.
            with contextlib.suppress(Exception):
                await connection.close()

    def _message(self, message: RelayMessage) -> aio_pika.Message:
        headers: dict[str, Any] = dict(message.headers())
        return aio_pika.Message(
            body=message.body, message_id=message.message_id, type=message.event_type,
            content_type="application/json", content_encoding="utf-8",
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT, timestamp=message.occurred_at,
            headers=headers, app_id="omskit")

    async def _publish(self, messages: Sequence[RelayMessage]) -> list[str]:
        exchange = await self._open()
        # All publishes go out in order on one channel; the broker confirms each (pipelined).
        results = await asyncio.gather(
            *(exchange.publish(self._message(m), routing_key=self.routing_key(m),
                               mandatory=self.settings.mandatory,
                               timeout=self.settings.timeout) for m in messages),
            return_exceptions=True)
        confirmed = [m.message_id for m, r in zip(messages, results, strict=True)
                     if isinstance(r, Basic.Ack)]
        if not confirmed and any(isinstance(r, BaseException) for r in results):
            failure = next(r for r in results if isinstance(r, BaseException))
            await self._reset()
            raise RelayUnavailable(f"amqp relay {self.code!r}: {type(failure).__name__}: "
                                   f"{failure}")
        if self._channel is None or self._channel.is_closed:
            await self._reset()
        return confirmed

    def routing_key(self, message: RelayMessage) -> str:
        """The event type, after the configured prefix (``shop.order.placed``)."""
        prefix = self.settings.routing_key_prefix
        return f"{prefix}.{message.event_type}" if prefix else message.event_type
