"""Hooks and the plugin manager on every backend: validate, veto, decide, contribute, switch off."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import pytest

from omskit import Oms
from omskit.builtin.validation import UNKNOWN_SKU
from omskit.domain.errors import (
    DuplicateContribution,
    PluginError,
    TransitionVetoed,
    UnknownRoutingStrategy,
)
from omskit.domain.events import RoutedQuantity
from omskit.domain.lifecycle import FulfillmentStatus, OrderStatus
from omskit.domain.order import FulfillmentOrder, Order
from omskit.domain.routing import Candidate, RoutingPlan, RoutingRequest
from omskit.domain.values import Problem
from omskit.hookspecs import hookimpl
from omskit.ports import InventoryReader
from omskit.testing import HookRecorder, location, order_command, table_contents
from tests.support import MILAN, ROME, active_reservations

O = OrderStatus  # noqa: E741
F = FulfillmentStatus
BUILTINS = ["omskit.builtin.defaults", "omskit.builtin.rules", "omskit.builtin.strategies",
            "omskit.builtin.validation"]


def stocked(oms: Oms) -> Oms:
    oms.inventory.save_location(location("milan", *MILAN))
    oms.inventory.save_location(location("rome", *ROME, handling_cost="3.00"))
    oms.inventory.receive("milan", "A", 10)
    oms.inventory.receive("rome", "A", 10)
    return oms


# -- validate ---------------------------------------------------------------------------------


class BigTicketReview:
    """Holds orders over 100 and orders of a SKU with little stock across the network."""

    @hookimpl
    def omskit_validate_order(self, order: Order,
                              inventory: InventoryReader) -> list[Problem]:
        problems = []
        if order.total.amount > 100:
            problems.append(Problem(code="review", message=f"total {order.total} over 100"))
        for line in order.lines:
            on_hand = sum(s.on_hand for s in inventory.stock_items(line.sku))
            if 0 < on_hand < line.quantity:
                problems.append(Problem(code="short", message=f"{line.sku}: {on_hand} on hand"))
        return problems


def test_validation_problems_become_holds(make_oms: Callable[..., Oms]) -> None:
    oms = stocked(make_oms(plugins=[BigTicketReview()]))
    fine = oms.orders.place(order_command("E-1", {"A": 2}))  # 20.00
    assert fine.status is O.ALLOCATED
    held = oms.orders.place(order_command("E-2", {"A": 11, "GHOST": 1}))  # 120.00
    assert held.status is O.ON_HOLD
    assert sorted((h.code, h.reason) for h in held.active_holds) == [
        ("review", "total 120.00 EUR over 100"), (UNKNOWN_SKU, "no location stocks GHOST")]
    assert held.fulfillment_orders == ()
    assert active_reservations(oms) == {("milan", "A"): 2}
    short = oms.orders.place(order_command("E-3", {"A": 19}, unit_price="1"))
    # 20 on hand in total (2 of them reserved, so 18 available): not held, 1 backordered.
    assert (short.status, short.active_holds) == (O.BACKORDERED, ())
    shorter = oms.orders.place(order_command("E-4", {"A": 21}, unit_price="1"))
    assert [(h.code, h.reason) for h in shorter.active_holds] == [("short", "A: 20 on hand")]


# -- veto ---------------------------------------------------------------------------------------


class Veto:
    """Vetoes one (aggregate, to_status) change while ``active``; records what it was asked."""

    def __init__(self, aggregate: str, to_status: str) -> None:
        self.aggregate, self.to_status = aggregate, to_status
        self.active = True
        self.asked: list[tuple[str, str, str]] = []

    @hookimpl
    def omskit_validate_transition(self, aggregate: str, order: Order,
                                   fulfillment_order: FulfillmentOrder | None,
                                   from_status: str, to_status: str) -> list[str]:
        self.asked.append((aggregate, from_status, to_status))
        if self.active and (aggregate, to_status) == (self.aggregate, self.to_status):
            return [f"{to_status} is not allowed today"]
        return []


def test_vetoed_release_changes_nothing(make_oms: Callable[..., Oms]) -> None:
    veto = Veto("fulfillment_order", "released")
    oms = stocked(make_oms(plugins=[veto]))
    order = oms.orders.place(order_command("E-1", {"A": 2}))
    assert ("order", "received", "validated") in veto.asked
    before = table_contents(oms)
    with pytest.raises(TransitionVetoed) as caught:
        oms.fulfillment.release(order.id)
    error = caught.value
    assert (error.aggregate, error.target, error.problems) == (
        "fulfillment_order", "released", ("released is not allowed today",))
    assert error.key == order.fulfillment_orders[0].id
    assert table_contents(oms) == before
    veto.active = False
    assert oms.fulfillment.release(order.id).status is O.RELEASED


def test_vetoed_cancel_keeps_the_reservations(make_oms: Callable[..., Oms]) -> None:
    oms = stocked(make_oms(plugins=[Veto("order", "cancelled")]))
    order = oms.orders.place(order_command("E-1", {"A": 2}))
    before = table_contents(oms)
    with pytest.raises(TransitionVetoed):
        oms.orders.cancel(order.id)
    assert table_contents(oms) == before
    assert active_reservations(oms) == {("milan", "A"): 2}


def test_vetoed_placement_writes_nothing(make_oms: Callable[..., Oms]) -> None:
    oms = stocked(make_oms(plugins=[Veto("order", "allocated")]))
    before = table_contents(oms)
    with pytest.raises(TransitionVetoed):
        oms.orders.place(order_command("E-1", {"A": 2}))
    assert table_contents(oms) == before


class Observer:
    def __init__(self, fail_on: str | None = None) -> None:
        self.seen: list[tuple[str, str, str]] = []
        self.fail_on = fail_on

    @hookimpl
    def omskit_after_transition(self, aggregate: str, order: Order,
                                fulfillment_order: FulfillmentOrder | None,
                                from_status: str, to_status: str) -> None:
        if to_status == self.fail_on:
            raise RuntimeError("audit table unavailable")
        self.seen.append((aggregate, from_status, to_status))


def test_after_transition_observes_every_change(make_oms: Callable[..., Oms]) -> None:
    observer = Observer()
    oms = stocked(make_oms(plugins=[observer]))
    order = oms.orders.place(order_command("E-1", {"A": 2}))
    oms.fulfillment.release(order.id)
    assert observer.seen == [
        ("order", "received", "validated"), ("order", "validated", "allocated"),
        ("fulfillment_order", "created", "released"), ("order", "allocated", "released")]


def test_failing_observer_rolls_the_operation_back(make_oms: Callable[..., Oms]) -> None:
    oms = stocked(make_oms(plugins=[Observer(fail_on="released")]))
    order = oms.orders.place(order_command("E-1", {"A": 2}))
    before = table_contents(oms)
    with pytest.raises(RuntimeError, match="audit table unavailable"):
        oms.fulfillment.release(order.id)
    assert table_contents(oms) == before


# -- decide -------------------------------------------------------------------------------------


class VipSegment:
    @hookimpl
    def omskit_customer_segment(self, order: Order) -> str | None:
        return "gold" if order.customer.id.startswith("vip-") else None


def test_customer_segment_override(make_oms: Callable[..., Oms]) -> None:
    oms = stocked(make_oms(plugins=[VipSegment()]))
    vip = oms.orders.place(order_command("E-1", {"A": 1}, customer_id="vip-7"))
    plain = oms.orders.place(order_command("E-2", {"A": 1}, customer_id="c-8"))
    b2b = oms.orders.place(order_command("E-3", {"A": 1}, customer_id="c-9", segment="b2b"))
    assert [oms.orders.get(o.id).customer.segment for o in (vip, plain, b2b)] == [
        "gold", "standard", "b2b"]


class CheapestFirst:
    """Sends the whole demand to the location with the lowest handling cost, ignoring distance."""

    code = "cheapest"

    def plan(self, request: RoutingRequest, candidates: Sequence[Candidate]) -> RoutingPlan:
        best = min(candidates, key=lambda c: (c.location.handling_cost, c.location.code))
        assert best.can_fill(request.demand)
        return RoutingPlan(
            strategy=self.code,
            allocations=tuple(RoutedQuantity(location=best.location.code, line_id=d.line_id,
                                             sku=d.sku, quantity=d.quantity)
                              for d in request.demand),
            backordered=())


class B2BRouting:
    @hookimpl
    def omskit_register_routing_strategies(self, register: Callable[[Any], None]) -> None:
        register(CheapestFirst())

    @hookimpl
    def omskit_choose_routing_strategy(self, request: RoutingRequest) -> str | None:
        return "cheapest" if request.channel == "b2b" else None


def test_custom_routing_strategy(make_oms: Callable[..., Oms]) -> None:
    oms = make_oms(plugins=[B2BRouting()])
    assert oms.routing_strategies() == ["cheapest", "fewest-shipments", "nearest", "optimal"]
    oms.inventory.save_location(location("rome", *ROME, handling_cost="3.00"))
    oms.inventory.save_location(location("milan", *MILAN, handling_cost="0.50"))
    oms.inventory.receive("rome", "A", 10)
    oms.inventory.receive("milan", "A", 10)
    web = oms.orders.place(order_command("W-1", {"A": 1}, lat=ROME[0], lon=ROME[1]))
    b2b = oms.orders.place(order_command("B-1", {"A": 1}, channel="b2b", lat=ROME[0],
                                         lon=ROME[1]))
    assert [fo.location for fo in web.fulfillment_orders] == ["rome"]
    assert [fo.location for fo in b2b.fulfillment_orders] == ["milan"]
    routed = [e.event for e in oms.orders.timeline(b2b.id) if e.event_type == "order.routed"]
    assert [e.strategy for e in routed] == ["cheapest"]  # type: ignore[attr-defined]


class ChoosesMissingStrategy:
    @hookimpl
    def omskit_choose_routing_strategy(self, request: RoutingRequest) -> str:
        return "teleport"


def test_unknown_strategy_code_fails_the_placement(make_oms: Callable[..., Oms]) -> None:
    oms = stocked(make_oms(plugins=[ChoosesMissingStrategy()]))
    before = table_contents(oms)
    with pytest.raises(UnknownRoutingStrategy, match="teleport"):
        oms.orders.place(order_command("E-1", {"A": 1}))
    assert table_contents(oms) == before


# -- contribute / plugin manager ----------------------------------------------------------------


class NamedStrategyPlugin:
    """A plugin contributing a strategy with ``code``; pluggy names it by ``__name__``."""

    def __init__(self, name: str, code: str) -> None:
        self.__name__ = name
        self.code = code

    @hookimpl
    def omskit_register_routing_strategies(self, register: Callable[[Any], None]) -> None:
        strategy = CheapestFirst()
        strategy.code = self.code
        register(strategy)


def test_duplicate_contribution_names_both_plugins(make_oms: Callable[..., Oms]) -> None:
    with pytest.raises(DuplicateContribution) as caught:
        make_oms(plugins=[NamedStrategyPlugin("acme_routing", "nearest")])
    error = caught.value
    assert (error.registry, error.code) == ("routing strategy", "nearest")
    assert set(error.plugins) == {"omskit.builtin.strategies", "acme_routing"}
    assert "omskit.builtin.strategies" in str(error)
    assert "acme_routing" in str(error)

    with pytest.raises(DuplicateContribution) as between_plugins:
        make_oms(plugins=[NamedStrategyPlugin("alpha_routing", "fast"),
                          NamedStrategyPlugin("beta_routing", "fast")])
    assert set(between_plugins.value.plugins) == {"alpha_routing", "beta_routing"}


class MisspeltHook:
    @hookimpl
    def omskit_validate_ordr(self, order: Order, inventory: InventoryReader) -> None:
        return None


def test_misspelt_hook_fails_at_bootstrap(make_oms: Callable[..., Oms]) -> None:
    with pytest.raises(PluginError, match="omskit_validate_ordr"):
        make_oms(plugins=[MisspeltHook()])


def test_plugins_lists_builtins_first(make_oms: Callable[..., Oms]) -> None:
    oms = make_oms(plugins=[NamedStrategyPlugin("acme_routing", "acme")])
    infos = oms.plugins()
    assert [p.name for p in infos] == [*BUILTINS, "acme_routing"]
    assert [p.builtin for p in infos] == [True, True, True, True, False]
    by_name = {p.name: p for p in infos}
    assert by_name["omskit.builtin.validation"].hooks == ("omskit_validate_order",)
    assert by_name["omskit.builtin.defaults"].hooks == (
        "omskit_choose_routing_strategy", "omskit_customer_segment", "omskit_order_priority",
        "omskit_register_event_types", "omskit_routing_policy", "omskit_tax_rate",
        "omskit_validate_settings")
    assert by_name["acme_routing"].hooks == ("omskit_register_routing_strategies",)
    assert by_name["acme_routing"].distribution is None


def test_disabled_builtin_validator(make_oms: Callable[..., Oms]) -> None:
    oms = make_oms(disabled_plugins=["omskit.builtin.validation"])
    assert [p.name for p in oms.plugins()] == BUILTINS[:3]
    order = oms.orders.place(order_command("E-1", {"GHOST": 1}))
    # Without the builtin validator an unknown SKU is simply backordered, not held.
    assert order.status is O.BACKORDERED


def test_disabled_plugins_from_the_environment(make_oms: Callable[..., Oms],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMSKIT_DISABLED_PLUGINS", " omskit.builtin.validation , acme_routing")
    oms = make_oms(plugins=[NamedStrategyPlugin("acme_routing", "acme")])
    assert [p.name for p in oms.plugins()] == BUILTINS[:3]
    assert oms.routing_strategies() == ["fewest-shipments", "nearest", "optimal"]
    assert oms.orders.place(order_command("E-1", {"GHOST": 1})).status is O.BACKORDERED


def test_hook_calls_are_recorded(make_oms: Callable[..., Oms],
                                 hook_calls: Callable[[Oms], HookRecorder]) -> None:
    oms = stocked(make_oms())
    recorder = hook_calls(oms)
    oms.orders.place(order_command("E-1", {"A": 1}))
    assert recorder.names() == ["omskit_customer_segment", "omskit_validate_order",
                                "omskit_choose_routing_strategy", "omskit_routing_policy",
                                "omskit_routing_rules", "omskit_routing_cost_terms"]
    (call,) = recorder.of("omskit_validate_order")
    assert call.kwargs["order"].external_id == "E-1"


# -- entry points ---------------------------------------------------------------------------------

ENTRY_POINT_PLUGIN = '''
from omskit import hookimpl

@hookimpl
def omskit_customer_segment(order):
    return "from-entry-point" if order.customer.id == "ep-customer" else None
'''


@pytest.fixture(scope="module")
def fake_distribution(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory holding an installed-looking distribution with an ``omskit`` entry point."""
    root = tmp_path_factory.mktemp("site")
    (root / "omskit_fake_segment.py").write_text(ENTRY_POINT_PLUGIN)
    info = root / "omskit_fake_segment-1.2.3.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: omskit-fake-segment\nVersion: 1.2.3\n")
    (info / "entry_points.txt").write_text("[omskit]\nfake-segment = omskit_fake_segment\n")
    return root


def names(plugins: Iterable[Any]) -> list[str]:
    return [p.name for p in plugins]


@pytest.fixture
def on_path(fake_distribution: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(fake_distribution))
    monkeypatch.delitem(sys.modules, "omskit_fake_segment", raising=False)


@pytest.mark.usefixtures("on_path")
def test_entry_point_plugins_are_loaded(make_oms: Callable[..., Oms]) -> None:
    oms = stocked(make_oms(load_entrypoints=True))
    (info,) = [p for p in oms.plugins() if p.name == "fake-segment"]
    assert (info.builtin, info.distribution, info.version, info.hooks) == (
        False, "omskit-fake-segment", "1.2.3", ("omskit_customer_segment",))
    order = oms.orders.place(order_command("E-1", {"A": 1}, customer_id="ep-customer"))
    assert order.customer.segment == "from-entry-point"


@pytest.mark.usefixtures("on_path")
def test_entry_points_off_by_argument(make_oms: Callable[..., Oms]) -> None:
    assert "fake-segment" not in names(make_oms(load_entrypoints=False).plugins())


@pytest.mark.usefixtures("on_path")
def test_entry_points_off_by_environment(make_oms: Callable[..., Oms],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMSKIT_DISABLE_PLUGIN_AUTOLOAD", "1")
    oms = stocked(make_oms(load_entrypoints=True))
    assert "fake-segment" not in names(oms.plugins())
    order = oms.orders.place(order_command("E-1", {"A": 1}, customer_id="ep-customer"))
    assert order.customer.segment == "standard"


@pytest.mark.usefixtures("on_path")
def test_entry_point_plugin_disabled_by_name(make_oms: Callable[..., Oms],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    assert "fake-segment" not in names(
        make_oms(load_entrypoints=True, disabled_plugins=["fake-segment"]).plugins())
    monkeypatch.setenv("OMSKIT_DISABLED_PLUGINS", "fake-segment")
    assert "fake-segment" not in names(make_oms(load_entrypoints=True).plugins())
