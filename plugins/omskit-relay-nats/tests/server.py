"""The real NATS server: a stream and subjects of its own per test, read back whole."""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid

import nats
from nats.js.errors import NotFoundError
from omskit.testing import ReceivedMessage

NATS_URL = os.environ.get("OMSKIT_TEST_NATS_URL", "nats://127.0.0.1:4222")
#: A port nothing listens on: a server that is down.
DOWN_URL = "nats://127.0.0.1:1"


class TestStream:
    """Names a stream and a subject prefix for one test; reads what the stream holds, and
    deletes it at the end. The relay creates the stream on its first publish."""

    __test__ = False

    def __init__(self) -> None:
        token = uuid.uuid4().hex
        self.stream = f"OMSKIT_TEST_{token}"
        self.prefix = f"omskit.test.{token}"
        self.subjects: list[str] = []

    def held(self) -> list[ReceivedMessage]:
        """Every message the stream holds, in stream order."""
        return asyncio.run(self._held())

    async def _held(self) -> list[ReceivedMessage]:
        client = await nats.connect(NATS_URL, connect_timeout=10)
        try:
            js = client.jetstream()
            try:
                info = await js.stream_info(self.stream)
            except NotFoundError:
                return []
            found: list[ReceivedMessage] = []
            self.subjects = []
            for seq in range(info.state.first_seq, info.state.last_seq + 1):
                raw = await js.get_msg(self.stream, seq)
                headers = raw.headers or {}
                found.append(ReceivedMessage(
                    message_id=headers.get("Nats-Msg-Id", ""),
                    event_type=headers.get("omskit-event-type", ""), body=raw.data or b""))
                self.subjects.append(raw.subject or "")
            return found
        finally:
            await client.close()

    def delete(self) -> None:
        """Remove the stream (if the relay made it)."""
        asyncio.run(self._delete())

    async def _delete(self) -> None:
        client = await nats.connect(NATS_URL, connect_timeout=10)
        try:
            with contextlib.suppress(NotFoundError):
                await client.jetstream().delete_stream(self.stream)
        finally:
            await client.close()
