"""The routing engine end to end: optimiser, explanations, capacity, re-routing, scarce stock,
promised dates and settings, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import attrs
import pytest
from click.testing import CliRunner

from omskit import Oms, hookimpl
from omskit.cli.main import cli as cli_main
from omskit.domain.carriers import RateTableCarrier
from omskit.domain.errors import InvalidSettings
from omskit.domain.inventory import Capability, LocationKind
from omskit.domain.lifecycle import OrderStatus
from omskit.domain.order import Order
from omskit.ports import Carrier
from omskit.testing import TestDatabase, location, order_command, table_contents

MILANO = (45.4642, 9.19)
ROMA = (41.9028, 12.4964)
NAPOLI = (40.8518, 14.2681)
TORINO = (45.0703, 7.6869)


class Carriers:
    """One rate card: 5.00 per parcel + 0.01 per km, 0.50 per unit, 800 km a day."""

    @hookimpl
    def omskit_register_carriers(self, register: Callable[[Carrier], None]) -> None:
        register(RateTableCarrier(code="post", base=5.0, per_km=0.01, per_unit=0.5))


class Clock:
    """A settable clock, so tests control days and cut-offs."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 11, 26, 9, 0, tzinfo=UTC))


@pytest.fixture
def routed(make_oms: Callable[..., Oms], clock: Clock) -> Callable[..., Oms]:
    def factory(**kwargs: Any) -> Oms:
        kwargs.setdefault("routing_strategy", "optimal")
        kwargs.setdefault("plugins", [Carriers()])
        kwargs.setdefault("clock", clock)
        kwargs.setdefault("settings", {"routing": {"backorder_penalty": 100.0}})
        return make_oms(**kwargs)

    return factory


def _site(oms: Oms, code: str, where: tuple[float, float], stock: dict[str, int],
          **kwargs: Any) -> None:
    oms.inventory.save_location(location(code, *where, **kwargs))
    for sku, units in stock.items():
        oms.inventory.receive(code, sku, units)


def test_optimal_routes_by_cost_and_explains_it(routed: Callable[..., Oms]) -> None:
    oms = routed()
    _site(oms, "dc-torino", TORINO, {"A": 5, "B": 5}, handling_cost="0.20")
    _site(oms, "dc-napoli", NAPOLI, {"A": 5, "B": 5}, handling_cost="0.10")
    _site(oms, "store-roma", ROMA, {"A": 5}, kind=LocationKind.STORE,
          capabilities=[Capability.PICKUP])
    order = oms.orders.place(order_command("E-1", {"A": 2, "B": 1}))
    assert [fo.location for fo in order.fulfillment_orders] == ["dc-torino"]
    (decision,) = oms.orders.explain(order.id)
    assert decision.strategy == "optimal"
    assert decision.solver == "single"
    torino_km = next(c.distance_km for c in decision.candidates if c.location == "dc-torino")
    assert torino_km is not None
    expected_shipping = 5.0 + 0.01 * torino_km + 0.5 * 3
    assert decision.cost.by_term["shipping"] == pytest.approx(expected_shipping, rel=1e-3)
    assert decision.cost.by_term["handling"] == pytest.approx(0.6)
    statuses = {c.location: c.status for c in decision.candidates}
    assert statuses == {"dc-torino": "chosen", "dc-napoli": "considered",
                        "store-roma": "excluded"}
    store = next(c for c in decision.candidates if c.location == "store-roma")
    assert store.reasons == ("delivery: does not ship parcels",)
    assert decision.excluded_counts == {"delivery": 1}
    napoli = next(c for c in decision.candidates if c.location == "dc-napoli")
    assert napoli.standalone_cost is not None
    assert napoli.standalone_cost > decision.cost.total


def test_explain_cli_prints_the_decision(routed: Callable[..., Oms],
                                         omskit_database: TestDatabase) -> None:
    oms = routed()
    _site(oms, "dc-torino", TORINO, {"A": 5})
    order = oms.orders.place(order_command("E-1", {"A": 1}))
    args = ["--db", omskit_database.url, "--no-plugins"]
    if omskit_database.schema:
        args += ["--schema", omskit_database.schema]
    result = CliRunner().invoke(cli_main, [*args, "orders", "explain", order.id])
    assert result.exit_code == 0, result.output
    assert "strategy optimal" in result.output
    assert "dc-torino" in result.output
    assert "shipping" in result.output
    as_json = CliRunner().invoke(cli_main, [*args, "orders", "explain", order.id, "--json"])
    assert '"strategy": "optimal"' in as_json.output


def test_split_when_no_location_has_everything(routed: Callable[..., Oms]) -> None:
    oms = routed()
    _site(oms, "dc-torino", TORINO, {"A": 1})
    _site(oms, "dc-roma", ROMA, {"B": 1})
    order = oms.orders.place(order_command("E-1", {"A": 1, "B": 1}))
    assert sorted(fo.location for fo in order.fulfillment_orders) == ["dc-roma", "dc-torino"]
    (decision,) = oms.orders.explain(order.id)
    assert decision.cost.shipments == 2
    assert oms.inventory.ledger_mismatches() == []


def test_daily_capacity_is_respected_and_resets_the_next_day(
        routed: Callable[..., Oms], clock: Clock) -> None:
    oms = routed()
    _site(oms, "dc-milano", MILANO, {"A": 10}, daily_capacity=2)
    _site(oms, "dc-roma", ROMA, {"A": 10})
    placed = [oms.orders.place(order_command(f"E-{i}", {"A": 1})) for i in range(3)]
    assert [o.fulfillment_orders[0].location for o in placed] == [
        "dc-milano", "dc-milano", "dc-roma"]
    (third,) = oms.orders.explain(placed[2].id)
    milano = next(c for c in third.candidates if c.location == "dc-milano")
    assert milano.status == "excluded"
    assert milano.reasons == ("capacity: daily capacity of 2 fulfilment orders reached",)
    clock.now += timedelta(days=1)
    nextday = oms.orders.place(order_command("E-9", {"A": 1}))
    assert nextday.fulfillment_orders[0].location == "dc-milano"


def test_rejection_reroutes_elsewhere_and_the_explanation_says_why(
        routed: Callable[..., Oms]) -> None:
    oms = routed()
    _site(oms, "dc-milano", MILANO, {"A": 5})
    _site(oms, "dc-roma", ROMA, {"A": 5})
    order = oms.orders.place(order_command("E-1", {"A": 2}))
    (fo,) = order.fulfillment_orders
    assert fo.location == "dc-milano"
    oms.fulfillment.release(order.id)
    rerouted = oms.fulfillment.reject(fo.id, "damaged stock")
    live = [f for f in rerouted.fulfillment_orders if f.id != fo.id]
    assert [f.location for f in live] == ["dc-roma"]
    first, second = oms.orders.explain(order.id)
    assert first.allocations[0].location == "dc-milano"
    excluded = next(c for c in second.candidates if c.location == "dc-milano")
    assert excluded.reasons == ("rejected: rejected this order before",)
    assert oms.inventory.stock_item("dc-milano", "A").reserved == 0  # type: ignore[union-attr]


def test_scarce_stock_goes_to_gold_before_older_standard_orders(
        routed: Callable[..., Oms], clock: Clock) -> None:
    oms = routed(settings={"routing": {"segment_priority": ["gold", "silver"]}})
    _site(oms, "dc-milano", MILANO, {"A": 1})
    oms.orders.place(order_command("first", {"A": 1}))

    def place(external_id: str, segment: str | None = None) -> Order:
        clock.now += timedelta(minutes=1)  # placed one after the other
        return oms.orders.place(order_command(external_id, {"A": 1}, segment=segment,
                                              customer_id=external_id))

    standard_old = place("std-1")
    standard_new = place("std-2")
    gold = place("gold-1", "gold")
    silver = place("silver-1", "silver")
    assert [o.id for o in oms.orders.waiting(["A"])] == [
        gold.id, silver.id, standard_old.id, standard_new.id]
    oms.inventory.receive("dc-milano", "A", 1)  # one unit: the gold order gets it
    status = {o: oms.orders.get(o).status for o in (gold.id, silver.id, standard_old.id)}
    assert status == {gold.id: OrderStatus.ALLOCATED, silver.id: OrderStatus.BACKORDERED,
                      standard_old.id: OrderStatus.BACKORDERED}
    oms.inventory.receive("dc-milano", "A", 2)  # two more: silver, then the older standard
    assert oms.orders.get(silver.id).status is OrderStatus.ALLOCATED
    assert oms.orders.get(standard_old.id).status is OrderStatus.ALLOCATED
    assert oms.orders.get(standard_new.id).status is OrderStatus.BACKORDERED
    assert oms.inventory.ledger_mismatches() == []


def test_promised_date_counts_cut_off_processing_and_transit(
        routed: Callable[..., Oms], clock: Clock) -> None:
    oms = routed()
    dc = attrs.evolve(location("dc-napoli", *NAPOLI), cutoff=time(14, 0), processing_days=1,
                      timezone="Europe/Rome")
    oms.inventory.save_location(dc)
    oms.inventory.receive("dc-napoli", "A", 10)
    # Napoli → Milano is about 660 km: one day of transit at 800 km a day.
    clock.now = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)  # 13:00 in Rome, before cut-off
    before = oms.orders.place(order_command("E-1", {"A": 1}))
    assert before.promised_date == date(2026, 11, 28)  # leaves the 27th, arrives the 28th
    clock.now = datetime(2026, 11, 26, 13, 30, tzinfo=UTC)  # 14:30 in Rome: after cut-off
    after = oms.orders.place(order_command("E-2", {"A": 1}))
    assert after.promised_date == date(2026, 11, 29)
    assert oms.orders.get(after.id).promised_date == date(2026, 11, 29)


def test_backordered_order_has_no_promised_date_unless_given(routed: Callable[..., Oms]) -> None:
    oms = routed()
    _site(oms, "dc-milano", MILANO, {"A": 1})
    short = oms.orders.place(order_command("E-1", {"A": 2}))
    assert short.promised_date is None
    given = attrs.evolve(order_command("E-2", {"A": 5}), promised_date=date(2026, 12, 24))
    assert oms.orders.place(given).promised_date == date(2026, 12, 24)


def test_channel_buffer_holds_units_back(routed: Callable[..., Oms]) -> None:
    oms = routed(settings={"inventory": {"channel_buffers": {"marketplace": 2}}})
    _site(oms, "dc-milano", MILANO, {"A": 3})
    market = oms.orders.place(order_command("M-1", {"A": 2}, channel="marketplace"))
    assert [(b.sku, b.quantity) for b in market.backordered()] == [("A", 1)]
    (decision,) = oms.orders.explain(market.id)
    assert [h.rule for h in decision.holdbacks] == ["channel_buffer"]
    web = oms.orders.place(order_command("W-1", {"A": 2}))
    assert web.status is OrderStatus.ALLOCATED


def test_pickup_orders_use_only_the_pickup_store(routed: Callable[..., Oms]) -> None:
    oms = routed()
    _site(oms, "dc-milano", MILANO, {"A": 5})
    _site(oms, "store-roma", ROMA, {"A": 1}, kind=LocationKind.STORE,
          capabilities=[Capability.PICKUP])
    order = oms.orders.place(order_command("P-1", {"A": 2}, pickup_at="store-roma"))
    assert [fo.location for fo in order.fulfillment_orders] == ["store-roma"]
    assert order.backordered() == ()
    # The pickup decision, then the ship-to-store one for the unit the store lacks.
    decision, transfer = oms.orders.explain(order.id)
    assert "shipping" not in decision.cost.by_term
    milano = next(c for c in decision.candidates if c.location == "dc-milano")
    assert milano.reasons == ("delivery: the customer collects at store-roma",)
    assert [(a.location, a.quantity) for a in transfer.allocations] == [("dc-milano", 1)]


@pytest.mark.parametrize(("settings", "problem"), [
    ({"routing": {"backorder_penalty": -1}},
     "routing.backorder_penalty: must be a number ≥ 0 (finite), got -1"),
    ({"routing": {"split_penalty": float("nan")}},
     "routing.split_penalty: must be a number ≥ 0 (finite), got nan"),
    ({"routing": {"backorder_penalty": float("inf")}},
     "routing.backorder_penalty: must be a number ≥ 0 (finite), got inf"),
    ({"routing": {"max_shipments": 0}}, "routing.max_shipments: must be at least 1 (or null)"),
    ({"routing": {"segment_priority": "gold"}},
     "routing.segment_priority: must be a list of segment names"),
    ({"routing": {"split": 1}}, "routing.split: unknown setting"),
    ({"inventory": {"channel_buffers": {"web": -2}}},
     "inventory.channel_buffers.web: must be a whole number ≥ 0"),
])
def test_bad_settings_fail_bootstrap(make_oms: Callable[..., Oms], settings: dict[str, Any],
                                     problem: str) -> None:
    with pytest.raises(InvalidSettings) as raised:
        make_oms(settings=settings)
    assert raised.value.problems == (problem,)


def test_a_failed_placement_leaves_no_decision_or_capacity_behind(
        routed: Callable[..., Oms], omskit_database: TestDatabase) -> None:
    class Refuse:
        @hookimpl
        def omskit_after_transition(self, aggregate: str, to_status: str) -> None:
            if to_status == "allocated":
                raise RuntimeError("refused by a plugin")

    oms = routed(plugins=[Carriers(), Refuse()])
    _site(oms, "dc-milano", MILANO, {"A": 5}, daily_capacity=1)
    before = table_contents(oms)
    with pytest.raises(RuntimeError, match="refused"):
        oms.orders.place(order_command("E-1", {"A": 1}))
    assert table_contents(oms) == before


def test_a_changed_location_is_seen_by_the_next_decision(routed: Callable[..., Oms]) -> None:
    # The clock stands still: the location's row keeps its time, the change must still show.
    oms = routed(plugins=[])
    _site(oms, "dc-milano", MILANO, {"A": 5}, handling_cost="0.10")
    _site(oms, "dc-roma", ROMA, {"A": 5}, handling_cost="0.50")
    first = oms.orders.place(order_command("E-1", {"A": 1}))
    assert [fo.location for fo in first.fulfillment_orders] == ["dc-milano"]
    oms.inventory.save_location(location("dc-milano", *MILANO, handling_cost="2.00"))
    second = oms.orders.place(order_command("E-2", {"A": 1}))
    assert [fo.location for fo in second.fulfillment_orders] == ["dc-roma"]
