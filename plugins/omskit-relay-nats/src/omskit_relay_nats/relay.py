"""The NATS event relay: outbox events to a JetStream stream, de-duplicated by
``Nats-Msg-Id``."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Collection, Sequence

import attrs
import nats
from nats.aio.client import Client
from nats.js.api import PubAck, StorageType
from nats.js.client import JetStreamContext
from nats.js.errors import NotFoundError
from omskit import RelayMessage, RelayUnavailable

from omskit_relay_nats.loop import BackgroundLoop
from omskit_relay_nats.settings import NatsSettings


async def _quiet(error: Exception) -> None:
    """nats-py reports connection errors to a callback as well as raising them: the relay
    raises ``RelayUnavailable`` with the error, so the callback stays silent."""


@attrs.define
class NatsRelay:
    """Publishes each event to ``<subject_prefix>.<event type>`` in one JetStream stream,
    with header ``Nats-Msg-Id`` the event id: JetStream acknowledges an event once it is
    stored, and drops a re-published duplicate within the stream's duplicate window (an
    event published again after a worker crashed between the acknowledgement and the
    core's record is stored once).

    It connects on the first publish (``bootstrap`` never needs the server) and again
    after the connection is lost.
    """

    settings: NatsSettings
    _loop: BackgroundLoop = attrs.field(factory=BackgroundLoop, init=False)
    _client: Client | None = attrs.field(default=None, init=False)
    _js: JetStreamContext | None = attrs.field(default=None, init=False)

    @property
    def code(self) -> str:
        """The relay's code (``nats`` unless the settings name another)."""
        return self.settings.code

    def publish(self, messages: Sequence[RelayMessage]) -> Collection[str]:
        """Publish ``messages`` in order; the ids JetStream acknowledged (a duplicate it
        dropped counts: the stream holds the event).

        Raises :class:`omskit.RelayUnavailable` when the server cannot be reached or the
        connection fails with nothing acknowledged.
        """
        try:
            return self._loop.run(self._publish(messages),
                                  self.settings.timeout * (2 + len(messages)))
        except RelayUnavailable:
            raise
        except Exception as exc:  # timeout or client failure: the batch is retryable
            self._loop.run(self._reset(), self.settings.timeout)
            raise RelayUnavailable(f"nats relay {self.code!r}: {type(exc).__name__}: "
                                   f"{exc}") from exc

    def close(self) -> None:
        """Close the connection (a new publish opens another)."""
        self._loop.run(self._reset(), self.settings.timeout)

    async def _open(self) -> JetStreamContext:
        if self._js is not None and self._client is not None and self._client.is_connected:
            return self._js
        await self._reset()
        s = self.settings
        try:
            # nats-py may keep trying a refused server past connect_timeout: bound it here,
            # so the error names the server instead of the batch timing out.
            self._client = await asyncio.wait_for(nats.connect(
                servers=list(s.servers), connect_timeout=s.timeout, allow_reconnect=False,
                max_reconnect_attempts=0, error_cb=_quiet, name=f"omskit-relay-{s.code}"),
                s.timeout)
            js = self._client.jetstream(timeout=s.timeout)
            if s.create_stream:
                try:
                    await js.stream_info(s.stream)
                except NotFoundError:
                    await js.add_stream(name=s.stream, subjects=[f"{s.subject_prefix}.>"],
                                        storage=StorageType.FILE,
                                        duplicate_window=s.duplicate_window)
            self._js = js
        except Exception as exc:
            await self._reset()
            raise RelayUnavailable(f"nats relay {self.code!r}: cannot reach "
                                   f"{s.safe_servers()}: {type(exc).__name__}: "
                                   f"{exc}") from exc
        return js

    async def _reset(self) -> None:
        client, self._client, self._js = self._client, None, None
        if client is not None and not client.is_closed:
            # Closing a broken connection: nothing is left to save.
            with contextlib.suppress(Exception):
                await client.close()

    def subject(self, message: RelayMessage) -> str:
        """``<subject_prefix>.<event type>``."""
        return f"{self.settings.subject_prefix}.{message.event_type}"

    async def _publish(self, messages: Sequence[RelayMessage]) -> list[str]:
        js = await self._open()
        # Published in order on one connection; each acknowledgement awaited together.
        results = await asyncio.gather(
            *(js.publish(self.subject(m), m.body, stream=self.settings.stream,
                         headers={"Nats-Msg-Id": m.message_id, **m.headers()})
              for m in messages),
            return_exceptions=True)
        confirmed = [m.message_id for m, r in zip(messages, results, strict=True)
                     if isinstance(r, PubAck)]
        if not confirmed and any(isinstance(r, BaseException) for r in results):
            failure = next(r for r in results if isinstance(r, BaseException))
            await self._reset()
            raise RelayUnavailable(f"nats relay {self.code!r}: {type(failure).__name__}: "
                                   f"{failure}")
        return confirmed
