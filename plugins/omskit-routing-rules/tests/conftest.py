"""Fixtures for the routing-rules tests (builders are in ``routing_rules_helpers``).

omskit's pytest plugin gives ``make_oms``: each test that uses it runs once on SQLite and once
on PostgreSQL (``OMSKIT_TEST_POSTGRES_URL``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

import pytest
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from omskit import Oms

import omskit_routing_rules

pytest_plugins = ["omskit.testing"]

# The same profiles as the core's suite: "thorough" for a nightly run.
hypothesis_settings.register_profile(
    "default", max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
hypothesis_settings.register_profile(
    "thorough", max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


@pytest.fixture
def rules_oms(make_oms: Callable[..., Oms]) -> Callable[..., Oms]:
    """``rules_oms(**routing_rules)``: an ``Oms`` with this plugin, the ``optimal`` strategy
    and ``settings={"routing_rules": routing_rules}`` (``routing=`` for the core's key)."""

    def build(*, routing: Mapping[str, Any] | None = None, **routing_rules: Any) -> Oms:
        settings: dict[str, Any] = {"routing_rules": routing_rules}
        if routing is not None:
            settings["routing"] = dict(routing)
        return make_oms(plugins=[omskit_routing_rules], settings=settings,
                        routing_strategy="optimal")

    return build
