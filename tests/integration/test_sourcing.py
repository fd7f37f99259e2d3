"""One sourcing for placement, carts, quotes and availability: the same rules, segments and
daily capacity, whoever asks."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta

import attrs
import pytest

from omskit import Oms, hookimpl
from omskit.domain.routing import Candidate, Exclusion, Holdback, RoutingRequest
from omskit.testing import location, order_command
from tests.support import MILAN, ROME

NOW = datetime(2026, 1, 15, 9, 0, tzinfo=UTC)


class MarketplaceRules:
    """Marketplace orders never ship from the store; gold customers' stock is protected:
    every other segment leaves 4 units of each SKU at milan."""

    @hookimpl
    def omskit_routing_rules(self, request: RoutingRequest,
                             candidates: Sequence[Candidate]) -> Iterable[Exclusion | Holdback]:
        if request.channel == "marketplace":
            for c in candidates:
                if c.code == "store-roma":
                    yield Exclusion(location=c.code, rule="marketplace",
                                    reason="stores do not serve the marketplace")
        if request.segment != "gold":
            yield Holdback(rule="gold", reason="kept for gold", quantity=4, location="milan")


@pytest.fixture
def shop(make_oms: Callable[..., Oms]) -> Oms:
    oms = make_oms(plugins=[MarketplaceRules()], clock=lambda: NOW,
                   settings={"inventory": {"channel_buffers": {"marketplace": 1}}})
    oms.inventory.save_location(location("milan", *MILAN))
    oms.inventory.save_location(location("store-roma", *ROME))
    oms.inventory.receive("milan", "A", 6)
    oms.inventory.receive("store-roma", "A", 5)
    return oms


def test_channel_availability_counts_only_what_its_orders_can_get(shop: Oms) -> None:
    # web: milan 6 - 4 held for gold, store 5 -> 7
    assert shop.inventory.available("A", channel="web") == 7
    # marketplace: the store is excluded; milan 6 - 4 (gold) - 1 (buffer) -> 1
    assert shop.inventory.available("A", channel="marketplace") == 1
    assert shop.inventory.available("A") == 11  # the network, no channel's rules
    [summary] = list(shop.inventory.stock_view(channel="marketplace"))
    assert (summary.sku, summary.available, summary.on_hand) == ("A", 1, 11)
    [at_milan] = list(shop.inventory.stock_view(channel="web", locations=["milan"]))
    assert at_milan.available == 2
    # The feed never promises more than an order of the channel gets.
    order = shop.orders.place(order_command("M-1", {"A": 3}, channel="marketplace"))
    assert sum(fo.units for fo in order.fulfillment_orders) == 1


def test_quotes_take_the_customer_segment(shop: Oms) -> None:
    standard = shop.promise.quote({"A": 6}, country="IT")
    gold = shop.promise.quote({"A": 6}, country="IT", segment="gold")
    # 6 units from one place: milan has 6, but 4 of them only for gold; the store has 5.
    [ship] = standard.options
    assert not ship.available
    [gold_ship] = gold.options
    assert gold_ship.available
    assert [(p.location, p.units) for p in gold_ship.parts] == [("milan", {"A": 6})]


def test_quotes_count_daily_capacity(make_oms: Callable[..., Oms]) -> None:
    oms = make_oms(clock=lambda: NOW)
    oms.inventory.save_location(attrs.evolve(location("milan", *MILAN), daily_capacity=1))
    oms.inventory.receive("milan", "A", 10)
    before = oms.promise.quote({"A": 1})
    assert before.options[0].parts[0].date == NOW.date()
    oms.orders.place(order_command("E-1", {"A": 1}))  # takes today's only slot
    after = oms.promise.quote({"A": 1})
    assert after.options[0].parts[0].date == NOW.date() + timedelta(days=1)
    # ...which is what routing does today: the next order waits.
    waiting = oms.orders.place(order_command("E-2", {"A": 1}))
    assert [b.quantity for b in waiting.backordered()] == [1]


def test_cart_holds_and_orders_share_the_strategy_hook(shop: Oms) -> None:
    asked: list[tuple[str, str]] = []

    class Spy:
        @hookimpl
        def omskit_choose_routing_strategy(self, request: RoutingRequest) -> None:
            asked.append((request.order_id, request.segment))

    shop.plugin_manager.register(Spy())
    shop.carts.hold("cart-1", {"A": 2}, ttl=timedelta(minutes=10), channel="web",
                    segment="gold")
    order = shop.orders.place(order_command("E-1", {"A": 1}))
    assert asked == [("cart-1", "gold"), (order.id, "standard")]
