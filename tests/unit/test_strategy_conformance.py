"""The builtin routing strategies pass the strategy conformance kit of ``omskit.testing``."""

from __future__ import annotations

import pytest

from omskit.testing import RoutingStrategyConformance


class NoPlugin:
    """The builtins are registered by ``bootstrap`` itself: the kit's plugin adds nothing."""


@pytest.fixture(params=["nearest", "optimal", "fewest-shipments"])
def strategy_code(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def strategy_plugin() -> object:
    return NoPlugin()


class TestBuiltinStrategies(RoutingStrategyConformance):
    pass
