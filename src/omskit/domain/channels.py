"""Channel namespaces: which order channels a connector may place orders on.

Orders are idempotent per ``(channel, external id)``, so the order channel is an idempotency
space. Each connector owns a namespace of them: its ``code``, the extra channels it declares
in its optional ``channels`` attribute (the storefront's ``web`` and ``mobile``), and every
``<name>:<anything>`` sub-channel of those (``marketplace:acme-shop``). Two installed
connectors never own the same channel: registration refuses the second one.
"""

from __future__ import annotations

from collections.abc import Iterable


def channel_claims(connector: object) -> frozenset[str]:
    """The names a connector claims: its code and its declared ``channels``."""
    declared: Iterable[object] = getattr(connector, "channels", None) or ()
    return frozenset({str(getattr(connector, "code", "")),
                      *(str(name) for name in declared)})


def in_namespace(name: str, channel: str) -> bool:
    """Whether ``channel`` is ``name`` or one of its ``name:…`` sub-channels."""
    return channel == name or channel.startswith(f"{name}:")


def owns_channel(connector: object, channel: str) -> bool:
    """Whether the order ``channel`` is in ``connector``'s namespace."""
    return any(in_namespace(name, channel) for name in channel_claims(connector))


def namespace_clash(first: object, second: object) -> str | None:
    """A name both connectors' namespaces hold (``None``: they are disjoint)."""
    for a in sorted(channel_claims(first)):
        for b in sorted(channel_claims(second)):
            if in_namespace(a, b):
                return b
            if in_namespace(b, a):
                return a
    return None


__all__ = ["channel_claims", "in_namespace", "namespace_clash", "owns_channel"]
