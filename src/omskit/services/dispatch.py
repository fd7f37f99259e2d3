"""Delivering events right after the commit that stored them (inline dispatch), and which
events need no delivery at all."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Literal

import attrs

from omskit.domain.events import Event
from omskit.plugins import Hooks

logger = logging.getLogger("omskit")

#: ``inline``: after each commit, in the caller's thread; ``deferred``: by a worker calling
#: ``oms.outbox.dispatch_pending()``.
DispatchMode = Literal["inline", "deferred"]


@attrs.define(kw_only=True)
class EventDispatcher:
    """After-commit delivery of a service's events through the outbox (``dispatch``), and
    the rule that stores events nobody receives as already dispatched (``settles``)."""

    #: Whether any plugin observes events (``omskit_handle_event``).
    hooks: Hooks
    mode: DispatchMode = "inline"
    #: Event types the core's handlers react to (``omskit.services.handlers``): never
    #: stored as dispatched on write.
    handled_types: frozenset[str] = frozenset()
    #: Bound to a host's transaction: events wait for ``oms.outbox.dispatch_pending()``.
    in_host_transaction: bool = False
    #: Delivers a batch of pending events (``oms.outbox.dispatch_batch``), set once the
    #: outbox service exists.
    drain: Callable[[int], tuple[int, bool]] | None = None
    _dispatching: threading.local = attrs.field(factory=threading.local)

    def drains_inline(self) -> bool:
        """Whether events are delivered right after each commit, in the caller's thread."""
        return not self.in_host_transaction and self.mode == "inline"

    def settles(self, event: Event) -> bool:
        """Whether ``event`` is stored as already dispatched: inline, with no plugin
        observing events and no core handler for its type (nobody would receive it)."""
        return event.event_type not in self.handled_types

    def settled_on_write(self) -> Callable[[Event], bool] | None:
        """What a new unit of work settles on write: :meth:`settles` when events are
        delivered inline and no plugin observes them, else nothing (``None``)."""
        if self.drains_inline() and not self.hooks.has_event_handlers():
            return self.settles
        return None

    def dispatch(self, events: Sequence[Event]) -> None:
        """After a commit in inline mode, deliver pending events to their handlers.

        Delivery goes through the outbox in write order, so events left pending by an earlier
        failure go out before these. Nothing happens when every event in ``events`` was
        settled on write, in deferred mode, or in a host's transaction
        (``Oms.outbox.dispatch_pending()`` then delivers). A failure stops this round; the
        event stays pending (or is parked) and the next dispatch tries it again.
        """
        if not self.drains_inline() or self.drain is None or not events:
            return
        if not (self.hooks.has_event_handlers()
                or any(e.event_type in self.handled_types for e in events)):
            return
        if getattr(self._dispatching, "active", False):
            # A handler called back into oms: the outer loop delivers these events after the
            # batch it is in, so they keep their place in write order.
            return
        self._dispatching.active = True
        try:
            while True:
                delivered, failed = self.drain(500)
                if failed or not delivered:
                    break
        except Exception:
            # The operation has committed: its events are safe in the outbox, pending, and
            # dispatch_pending() retries them. Raising here would make callers retry work
            # that succeeded.
            logger.exception("omskit: dispatching events after commit failed; they stay "
                             "pending in the outbox")
        finally:
            self._dispatching.active = False
