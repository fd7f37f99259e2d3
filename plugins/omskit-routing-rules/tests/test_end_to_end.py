"""Each rule through a real placement, on SQLite and PostgreSQL.

Every test places orders with ``oms.orders.place``, then checks where stock was reserved
(the order's fulfilment orders) and what ``oms.orders.explain`` stored about the decision.
Locations are laid out so that without the rule the plan would be different: the rule, not
the geography, decides.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import pytest
from omskit import (
    Capability,
    Carrier,
    Coordinates,
    Holdback,
    LocationKind,
    Oms,
    RateTableCarrier,
    hookimpl,
)
from omskit.testing import order_command

import omskit_routing_rules
from routing_rules_helpers import (
    DISTANCE,
    FULL_EXAMPLE,
    LUGANO,
    MILAN,
    NEW_YORK,
    ROME,
    ZURICH,
    backordered,
    decision,
    reserved,
    row,
    ship_order,
    site,
    stock,
)

Build = Callable[..., Oms]


# -- 1. ship_from_store -------------------------------------------------------------------------


def _store_near_dc_far(oms: Oms, store_capabilities: Iterable[Capability]) -> None:
    stock(oms, [site("store-milan", MILAN, kind=LocationKind.STORE,
                     capabilities=store_capabilities),
                site("dc-rome", ROME)], {"SKU-1": 5})


def test_store_without_ship_from_store_is_excluded(rules_oms: Build) -> None:
    oms = rules_oms(distance_shipping=DISTANCE)  # ship_from_store is on by default
    _store_near_dc_far(oms, [Capability.SHIP, Capability.PICKUP])

    order = oms.orders.place(ship_order("SFS-1", {"SKU-1": 2}))

    assert reserved(order) == {"dc-rome": {"SKU-1": 2}}
    found = decision(oms, order)
    store = row(found, "store-milan")
    assert store.status == "excluded"
    assert store.reasons == ("ship_from_store: store without ship-from-store",)
    assert found.excluded_counts == {"ship_from_store": 1}
    assert row(found, "dc-rome").status == "chosen"


@pytest.mark.parametrize(("capabilities", "setting"), [
    pytest.param([Capability.SHIP_FROM_STORE], {}, id="store-has-capability"),
    pytest.param([Capability.SHIP], {"enabled": False}, id="rule-disabled"),
])
def test_store_ships_when_capable_or_rule_off(rules_oms: Build, capabilities: list[Capability],
                                              setting: dict[str, Any]) -> None:
    oms = rules_oms(distance_shipping=DISTANCE, ship_from_store=setting)
    _store_near_dc_far(oms, capabilities)

    order = oms.orders.place(ship_order("SFS-2", {"SKU-1": 2}))

    assert reserved(order) == {"store-milan": {"SKU-1": 2}}
    found = decision(oms, order)
    assert row(found, "store-milan").status == "chosen"
    assert found.excluded_counts == {}


def test_plugin_without_settings_changes_nothing(make_oms: Build) -> None:
    # Installed but not configured: a store with plain "ship" passes, as in the core.
    oms = make_oms(plugins=[omskit_routing_rules], routing_strategy="optimal")
    stock(oms, [site("store-milan", MILAN, kind=LocationKind.STORE)], {"SKU-1": 5})

    order = oms.orders.place(ship_order("SFS-3", {"SKU-1": 2}))

    assert reserved(order) == {"store-milan": {"SKU-1": 2}}
    assert decision(oms, order).excluded_counts == {}


def test_pickup_at_a_store_without_ship_from_store(rules_oms: Build) -> None:
    oms = rules_oms(store_segments=["gold"])
    stock(oms, [site("store-milan", MILAN, kind=LocationKind.STORE,
                     capabilities=[Capability.PICKUP])], {"SKU-1": 5})
    order = oms.orders.place(order_command("PICK-1", {"SKU-1": 1}, pickup_at="store-milan"))

    # Neither ship_from_store nor store_segments limits collecting in store.
    assert reserved(order) == {"store-milan": {"SKU-1": 1}}
    assert decision(oms, order).excluded_counts == {}


# -- 2. channel_groups --------------------------------------------------------------------------


def test_channel_is_served_only_from_its_groups(rules_oms: Build) -> None:
    oms = rules_oms(distance_shipping=DISTANCE,
                    channel_groups={"marketplace": ["eu-dcs", "partners"]})
    stock(oms, [site("dc-milan", MILAN, groups=["outlet"]),
                site("dc-rome", ROME, groups=["eu-dcs"])], {"SKU-1": 5})

    market = oms.orders.place(ship_order("CG-1", {"SKU-1": 2}, channel="marketplace"))
    web = oms.orders.place(ship_order("CG-2", {"SKU-1": 2}, channel="web"))

    assert reserved(market) == {"dc-rome": {"SKU-1": 2}}
    found = decision(oms, market)
    assert row(found, "dc-milan").reasons == (
        "channel_groups: not in a group allowed for channel marketplace (eu-dcs, partners)",)
    assert found.excluded_counts == {"channel_groups": 1}
    # Channels not listed are not restricted: the nearer location serves them.
    assert reserved(web) == {"dc-milan": {"SKU-1": 2}}
    assert decision(oms, web).excluded_counts == {}


def test_channel_with_no_location_in_its_groups_is_backordered(rules_oms: Build) -> None:
    oms = rules_oms(channel_groups={"marketplace": ["eu-dcs"]})
    stock(oms, [site("dc-milan", MILAN)], {"SKU-1": 5})

    order = oms.orders.place(ship_order("CG-3", {"SKU-1": 2}, channel="marketplace"))

    assert reserved(order) == {}
    assert backordered(order) == {"SKU-1": 2}
    assert decision(oms, order).excluded_counts == {"channel_groups": 1}


# -- 3. zones -----------------------------------------------------------------------------------

ZONES: dict[str, Any] = {
    "zones": {"EU": ["IT", "FR", "DE"]},
    "ship_to": {"group:eu-dcs": ["EU"], "dc-newyork": ["US"], "dc-zurich": ["EU", "CH"]},
}


def _zoned_network(oms: Oms) -> None:
    stock(oms, [
        site("dc-milan", MILAN, groups=["eu-dcs"]),
        # In the EU group, but its own entry (US only) is more specific and wins.
        site("dc-newyork", NEW_YORK, groups=["eu-dcs"], country="US"),
        site("dc-zurich", ZURICH, groups=["eu-dcs"], country="CH"),
        site("dc-anywhere", ROME),  # not named in ship_to: ships everywhere
    ], {"SKU-1": 5})


def test_location_ships_only_to_its_zones(rules_oms: Build) -> None:
    oms = rules_oms(distance_shipping=DISTANCE, **ZONES)
    _zoned_network(oms)

    # Lugano (CH) is nearer Milan than Zurich, but Milan ships to the EU only.
    swiss = oms.orders.place(ship_order("Z-1", {"SKU-1": 1}, to=LUGANO, country="CH"))

    assert reserved(swiss) == {"dc-zurich": {"SKU-1": 1}}
    found = decision(oms, swiss)
    assert row(found, "dc-milan").reasons == ("zones: does not ship to CH",)
    assert row(found, "dc-newyork").reasons == ("zones: does not ship to CH",)
    assert row(found, "dc-zurich").status == "chosen"
    assert row(found, "dc-anywhere").status == "considered"
    assert found.excluded_counts == {"zones": 2}


def test_location_entry_overrides_its_groups(rules_oms: Build) -> None:
    oms = rules_oms(distance_shipping=DISTANCE, **ZONES)
    _zoned_network(oms)

    italian = oms.orders.place(ship_order("Z-2", {"SKU-1": 1}, to=MILAN, country="IT"))
    american = oms.orders.place(ship_order("Z-3", {"SKU-1": 1}, to=NEW_YORK, country="US"))

    assert reserved(italian) == {"dc-milan": {"SKU-1": 1}}
    assert row(decision(oms, italian), "dc-newyork").reasons == ("zones: does not ship to IT",)
    assert reserved(american) == {"dc-newyork": {"SKU-1": 1}}
    found = decision(oms, american)
    assert {c.location for c in found.candidates if c.status == "excluded"} \
        == {"dc-milan", "dc-zurich"}


# -- 4. segments --------------------------------------------------------------------------------


def test_only_listed_segments_are_served_from_stores(rules_oms: Build) -> None:
    oms = rules_oms(distance_shipping=DISTANCE, store_segments=["gold"])
    stock(oms, [site("store-milan", MILAN, kind=LocationKind.STORE,
                     capabilities=[Capability.SHIP_FROM_STORE]),
                site("dc-rome", ROME)], {"SKU-1": 5})

    gold = oms.orders.place(ship_order("SEG-1", {"SKU-1": 1}, segment="gold"))
    standard = oms.orders.place(ship_order("SEG-2", {"SKU-1": 1}))

    assert reserved(gold) == {"store-milan": {"SKU-1": 1}}
    assert decision(oms, gold).excluded_counts == {}
    assert reserved(standard) == {"dc-rome": {"SKU-1": 1}}
    found = decision(oms, standard)
    assert row(found, "store-milan").reasons == (
        "store_segments: segment standard is not served from stores (only gold)",)
    assert found.segment == "standard"


def test_protected_units_keep_the_last_units_from_a_segment(rules_oms: Build) -> None:
    oms = rules_oms(protected_units={"gold": 0, "standard": 2})
    stock(oms, [site("dc-milan", MILAN)], {"SKU-1": 3})

    standard = oms.orders.place(ship_order("PU-1", {"SKU-1": 2}))

    # Of 3 units the standard segment may take 3 - 2 = 1; the other unit waits.
    assert reserved(standard) == {"dc-milan": {"SKU-1": 1}}
    assert backordered(standard) == {"SKU-1": 1}
    found = decision(oms, standard)
    assert found.holdbacks == (Holdback(
        rule="segment_priority", quantity=2,
        reason="the last 2 units of each SKU at each location are kept from segment standard"),)
    # The explanation shows availability after the holdback (3 on hand - 2 kept back).
    assert row(found, "dc-milan").available == {"SKU-1": 1}

    # Gold takes the 2 protected units.
    gold = oms.orders.place(ship_order("PU-2", {"SKU-1": 2}, segment="gold"))
    assert reserved(gold) == {"dc-milan": {"SKU-1": 2}}
    assert decision(oms, gold).holdbacks == ()


# -- 5. max_shipments ---------------------------------------------------------------------------

LIMITS: dict[str, Any] = {"segment": {"gold": 1}, "channel": {"marketplace": 2}}


def _one_sku_each(oms: Oms) -> None:
    for code, at, sku in (("dc-a", MILAN, "SKU-A"), ("dc-b", ROME, "SKU-B"),
                          ("dc-c", ZURICH, "SKU-C")):
        stock(oms, [site(code, at)], {sku: 5})


ALL_THREE = {"SKU-A": 1, "SKU-B": 1, "SKU-C": 1}


@pytest.mark.parametrize(("channel", "segment", "limit"), [
    pytest.param("web", "gold", 1, id="segment"),
    pytest.param("marketplace", None, 2, id="channel"),
    pytest.param("marketplace", "gold", 1, id="smallest-of-both"),
])
def test_segment_and_channel_limit_shipments(rules_oms: Build, channel: str,
                                             segment: str | None, limit: int) -> None:
    oms = rules_oms(max_shipments=LIMITS)
    _one_sku_each(oms)

    order = oms.orders.place(ship_order("MS-1", ALL_THREE, channel=channel, segment=segment))

    assert len(reserved(order)) == limit
    assert sum(backordered(order).values()) == 3 - limit
    found = decision(oms, order)
    assert found.policy.max_shipments == limit
    assert found.cost.shipments == limit


def test_unlisted_segment_and_channel_keep_the_core_default(rules_oms: Build) -> None:
    oms = rules_oms(max_shipments=LIMITS)
    _one_sku_each(oms)
    unlimited = oms.orders.place(ship_order("MS-2", ALL_THREE))
    assert len(reserved(unlimited)) == 3
    assert decision(oms, unlimited).policy.max_shipments is None

    # The deployment's own default (settings["routing"]) is left alone too.
    capped = rules_oms(max_shipments=LIMITS, routing={"max_shipments": 2})
    _one_sku_each(capped)
    order = capped.orders.place(ship_order("MS-3", ALL_THREE))
    assert decision(capped, order).policy.max_shipments == 2
    assert len(reserved(order)) == 2


# -- 6. distance_shipping -----------------------------------------------------------------------


def test_distance_prices_pick_the_nearest_and_show_in_explain(rules_oms: Build) -> None:
    oms = rules_oms(distance_shipping=DISTANCE)
    stock(oms, [site("dc-rome", ROME), site("dc-milan", (45.5, 9.2))], {"SKU-1": 5})

    order = oms.orders.place(ship_order("DS-1", {"SKU-1": 2}))

    assert reserved(order) == {"dc-milan": {"SKU-1": 2}}
    found = decision(oms, order)
    milan, rome = row(found, "dc-milan"), row(found, "dc-rome")
    assert milan.distance_km is not None
    assert rome.distance_km is not None
    assert rome.distance_km > 400 > 10 > milan.distance_km
    assert milan.fixed_cost == pytest.approx(4.0 + 0.01 * milan.distance_km, abs=1e-3)
    assert rome.fixed_cost == pytest.approx(4.0 + 0.01 * rome.distance_km, abs=1e-3)
    assert milan.unit_cost == {"SKU-1": 0.2}
    assert f"shipping: {4.0 + 0.01 * milan.distance_km:.2f} per shipment, 0.20 per unit " \
           f"({milan.distance_km:.0f} km)" in milan.reasons
    assert found.cost.by_term["shipping"] == pytest.approx(
        4.0 + 0.01 * milan.distance_km + 2 * 0.2, abs=1e-3)


def test_unknown_distance_pays_the_base_price_only(rules_oms: Build) -> None:
    oms = rules_oms(distance_shipping=DISTANCE)
    stock(oms, [site("dc-nowhere", None)], {"SKU-1": 5})

    order = oms.orders.place(ship_order("DS-3", {"SKU-1": 3}))

    assert reserved(order) == {"dc-nowhere": {"SKU-1": 3}}
    found = decision(oms, order)
    nowhere = row(found, "dc-nowhere")
    assert nowhere.distance_km is None
    assert nowhere.fixed_cost == 4.0
    assert "shipping: 4.00 per shipment, 0.20 per unit (distance unknown, base price)" \
        in nowhere.reasons
    assert found.cost.by_term == {"shipping": pytest.approx(4.0 + 3 * 0.2)}


class _OneCarrier:
    """A carrier plugin: with a carrier installed, distance pricing steps aside."""

    @hookimpl
    def omskit_register_carriers(self, register: Callable[[Carrier], None]) -> None:
        register(RateTableCarrier(code="courier", base=7.0, per_km=0.0))


def test_a_registered_carrier_replaces_distance_prices(make_oms: Build) -> None:
    oms = make_oms(plugins=[omskit_routing_rules, _OneCarrier()], routing_strategy="optimal",
                   settings={"routing_rules": {"distance_shipping": DISTANCE}})
    stock(oms, [site("dc-milan", MILAN)], {"SKU-1": 5})

    order = oms.orders.place(ship_order("DS-2", {"SKU-1": 1}))

    found = decision(oms, order)
    shipping = [r for r in row(found, "dc-milan").reasons if r.startswith("shipping:")]
    assert shipping == ["shipping: 7.00 per shipment (courier)"]
    assert found.cost.by_term == {"shipping": 7.0}


# -- every rule at once, loaded through the entry point -------------------------------------------


def test_the_documented_example_through_the_entry_point(
        make_oms: Build, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OMSKIT_DISABLE_PLUGIN_AUTOLOAD", raising=False)
    monkeypatch.delenv("OMSKIT_DISABLED_PLUGINS", raising=False)
    oms = make_oms(load_entrypoints=True, routing_strategy="optimal",
                   settings={"routing_rules": FULL_EXAMPLE})
    stock(oms, [
        site("store-milan", MILAN, kind=LocationKind.STORE,
             capabilities=[Capability.SHIP_FROM_STORE], groups=["stores"]),
        site("store-rome", ROME, kind=LocationKind.STORE, groups=["stores"]),
        site("dc-milan", (45.5, 9.3), groups=["eu-dcs"]),
        site("dc-zurich", ZURICH, groups=["ch-dcs"], country="CH"),
    ], {"SKU-1": 4})

    order = oms.orders.place(ship_order("ALL-1", {"SKU-1": 2}, channel="marketplace"))

    assert reserved(order) == {"dc-milan": {"SKU-1": 2}}
    found = decision(oms, order)
    assert row(found, "store-rome").reasons == (
        "ship_from_store: store without ship-from-store",
        "channel_groups: not in a group allowed for channel marketplace (eu-dcs)",
        "store_segments: segment standard is not served from stores (only gold)",
    )
    assert row(found, "store-milan").reasons == (
        "channel_groups: not in a group allowed for channel marketplace (eu-dcs)",
        "store_segments: segment standard is not served from stores (only gold)",
    )
    assert row(found, "dc-zurich").reasons == (
        "channel_groups: not in a group allowed for channel marketplace (eu-dcs)",)
    assert found.excluded_counts == {"ship_from_store": 1, "channel_groups": 3,
                                     "store_segments": 2}
    assert found.policy.max_shipments == 2
    assert [h.rule for h in found.holdbacks] == ["segment_priority"]
    assert row(found, "dc-milan").available == {"SKU-1": 3}
    assert found.destination == Coordinates(lat=MILAN[0], lon=MILAN[1])
