"""The plugin passes omskit's conformance kit for routing rules and cost terms."""

from __future__ import annotations

from typing import Any

import pytest
from omskit.testing import RoutingRulesConformance

import omskit_routing_rules
from routing_rules_helpers import FULL_EXAMPLE


@pytest.fixture
def rules_plugin() -> object:
    return omskit_routing_rules


@pytest.fixture
def rules_settings() -> list[dict[str, Any]]:
    # Unconfigured (only ship_from_store), and every rule at once.
    return [{"routing_rules": {}}, {"routing_rules": FULL_EXAMPLE}]


class TestRoutingRulesConformance(RoutingRulesConformance):
    pass
