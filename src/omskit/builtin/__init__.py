"""Builtin plugins: the core's defaults, registered exactly like external plugins."""

from __future__ import annotations

from omskit.builtin.defaults import DefaultsPlugin
from omskit.builtin.rules import CoreRulesPlugin
from omskit.builtin.strategies import NearestLocationStrategy, RoutingPlugin
from omskit.builtin.validation import ValidationPlugin

__all__ = ["CoreRulesPlugin", "DefaultsPlugin", "NearestLocationStrategy", "RoutingPlugin",
           "ValidationPlugin", "builtin_plugins"]


def builtin_plugins(*, routing_strategy: str) -> list[tuple[str, object]]:
    """The builtins in registration order, each with its plugin name."""
    return [
        ("omskit.builtin.defaults", DefaultsPlugin(routing_strategy=routing_strategy)),
        ("omskit.builtin.strategies", RoutingPlugin()),
        ("omskit.builtin.rules", CoreRulesPlugin()),
        ("omskit.builtin.validation", ValidationPlugin()),
    ]
