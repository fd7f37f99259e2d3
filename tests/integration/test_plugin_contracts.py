"""Contributions are checked against their kind at registration, and hook answers against
their spec before the core uses them: a misfit is a ``PluginError`` naming the plugin."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import pytest
from click.testing import CliRunner

from omskit import Oms
from omskit.cli import cli
from omskit.domain.commands import PlaceOrder
from omskit.domain.errors import DuplicateContribution, PluginError
from omskit.domain.order import Order
from omskit.domain.routing import Candidate, CostTerm, Exclusion, Holdback, RoutingRequest
from omskit.domain.values import Problem
from omskit.hookspecs import hookimpl
from omskit.kinds import KINDS, protocol_misfits
from omskit.ports import Carrier, ChannelConnector, InventoryReader, RoutingStrategy
from omskit.testing import TestDatabase, location, order_command, table_contents
from tests.support import MILAN


class GoodConnector:
    code = "megamart"

    def parse(self, payload: Mapping[str, Any]) -> PlaceOrder:
        return order_command(str(payload["id"]), {"A": 1}, channel=self.code)


class Channels:
    """Registers the connectors it is given."""

    def __init__(self, *connectors: object) -> None:
        self.connectors = connectors

    @hookimpl
    def omskit_register_channels(self, register: Callable[[ChannelConnector], None]) -> None:
        for connector in self.connectors:
            register(connector)  # type: ignore[arg-type]


class UpperCaseConnector(GoodConnector):
    code = "MegaMart"  # never matches a PlaceOrder's channel, which is lower-case


class NoParse:
    code = "noparse"


class ParseTakesNothing:
    code = "noargs"

    def parse(self) -> None:
        return None


class ParseEditTakesNothing(GoodConnector):
    code = "editless"

    def parse_edit(self) -> None:
        return None


class ParseEditNotCallable(GoodConnector):
    code = "editlist"
    parse_edit = ["not", "a", "method"]


class NoPlan:
    code = "noplan"


class Strategies:
    @hookimpl
    def omskit_register_routing_strategies(
            self, register: Callable[[RoutingStrategy], None]) -> None:
        register(NoPlan())  # type: ignore[arg-type]


class NotAnEvent:
    event_type = "not_an_event"


class Events:
    @hookimpl
    def omskit_register_event_types(self, register: Callable[[type], None]) -> None:
        register(NotAnEvent)


@pytest.mark.parametrize(("contribution", "message"), [
    (UpperCaseConnector(), "'MegaMart' is not a code"),
    (NoParse(), "has no 'parse'"),
    (ParseTakesNothing(), "parse() cannot be called as parse(payload)"),
    (ParseEditTakesNothing(), "parse_edit() cannot be called as parse_edit(payload)"),
    (ParseEditNotCallable(), "'parse_edit' is not callable"),
])
def test_misfit_connector_fails_at_bootstrap_naming_the_plugin(
        make_oms: Callable[..., Oms], contribution: object, message: str) -> None:
    with pytest.raises(PluginError) as caught:
        make_oms(plugins=[Channels(contribution)])
    assert "tests.integration.test_plugin_contracts.Channels" in str(caught.value)
    assert "channel" in str(caught.value)
    assert message in str(caught.value)


def test_misfit_strategy_and_event_type_fail_at_bootstrap(
        make_oms: Callable[..., Oms]) -> None:
    with pytest.raises(PluginError, match=r"Strategies.*routing strategy.*has no 'plan'"):
        make_oms(plugins=[Strategies()])
    with pytest.raises(PluginError, match=r"Events.*event type.*not a subclass"):
        make_oms(plugins=[Events()])


def test_fitting_contributions_register_and_duplicates_still_name_both(
        make_oms: Callable[..., Oms]) -> None:
    oms = make_oms(plugins=[Channels(GoodConnector())])
    assert oms.channel("megamart").code == "megamart"
    with pytest.raises(DuplicateContribution):
        make_oms(plugins=[Channels(GoodConnector()), Channels(GoodConnector())])


def test_every_kind_names_a_hook_and_its_not_found_error() -> None:
    import omskit.hookspecs as specs

    names = [kind.name for kind in KINDS]
    assert len(names) == len(set(names))
    for kind in KINDS:
        assert getattr(specs, kind.hook_name) is kind.hook
        assert kind.hook_name.startswith("omskit_register_")
        with pytest.raises(kind.not_found):
            raise kind.not_found("x")


def test_protocol_misfits_reads_properties_and_methods() -> None:
    class Rates:
        code = "brt"

        def rate(self, origin: Any, destination: Any, distance_km: Any,
                 country: Any) -> None:
            return None

    assert protocol_misfits(Rates(), Carrier) == []
    assert protocol_misfits(object(), Carrier) == ["has no 'code'", "has no 'rate'"]
    assert protocol_misfits(object(), InventoryReader) == [
        "has no 'known_skus'", "has no 'location'", "has no 'stock_items'"]


def test_plugins_report_what_each_contributed(make_oms: Callable[..., Oms],
                                              omskit_database: TestDatabase) -> None:
    oms = make_oms(plugins=[Channels(GoodConnector())])
    by_name = {p.name: p for p in oms.plugins()}
    assert by_name["tests.integration.test_plugin_contracts.Channels"].contributions == {
        "channel": ("megamart",)}
    assert by_name["omskit.builtin.strategies"].contributions["routing strategy"] == (
        "fewest-shipments", "nearest", "optimal")
    assert "order.placed" in by_name["omskit.builtin.defaults"].contributions["event type"]
    result = CliRunner().invoke(cli, ["--db", omskit_database.url, "--no-plugins",
                                      *(["--schema", omskit_database.schema]
                                        if omskit_database.schema else []),
                                      "plugins", "--json"])
    assert result.exit_code == 0, result.output
    listed = {p["name"]: p for p in json.loads(result.output)}
    assert listed["omskit.builtin.strategies"]["contributions"]["routing strategy"] == [
        "fewest-shipments", "nearest", "optimal"]


# -- hook answers ---------------------------------------------------------------------------


class Answers:
    """Answers every checked hook with what it is given (None: no answer)."""

    omskit_name = "bad-answers"

    def __init__(self, **answers: Any) -> None:
        self.answers = answers

    @hookimpl
    def omskit_validate_order(self, order: Order, inventory: InventoryReader) -> Any:
        return self.answers.get("validate")

    @hookimpl
    def omskit_customer_segment(self, order: Order) -> Any:
        return self.answers.get("segment")

    @hookimpl
    def omskit_order_priority(self, order: Order) -> Any:
        return self.answers.get("priority")

    @hookimpl
    def omskit_routing_rules(self, request: RoutingRequest,
                             candidates: Sequence[Candidate]) -> Any:
        return self.answers.get("rules")

    @hookimpl
    def omskit_routing_cost_terms(self, candidates: Sequence[Candidate]) -> Any:
        found = self.answers.get("terms")
        return found(candidates) if callable(found) else found


def _nan_terms(candidates: Iterable[Candidate]) -> list[CostTerm]:
    return [CostTerm(location=c.code, term="margin", per_unit=float("nan"))
            for c in candidates]


@pytest.mark.parametrize(("answers", "message"), [
    ({"validate": ["looks wrong"]}, "'looks wrong' is not a Problem"),
    ({"validate": "looks wrong"}, "must return a list of Problem, not str"),
    ({"validate": [Problem(code="x" * 300, message="m")]}, "longer than 128"),
    ({"validate": [Problem(code="bad\x00code", message="m")]}, "control characters"),
    ({"segment": 7}, "7 is not a code"),
    ({"rules": [Holdback(rule="r", reason="x", quantity=-1)]}, "quantity"),
    ({"rules": [Exclusion(location="milan", rule="r", reason="x\x00")]}, "control"),
    ({"terms": _nan_terms}, "per_unit: must be a finite number, not nan"),
])
def test_bad_hook_answer_is_a_plugin_error_and_writes_nothing(
        make_oms: Callable[..., Oms], answers: dict[str, Any], message: str) -> None:
    oms = make_oms(plugins=[Answers(**answers)])
    oms.inventory.save_location(location("milan", *MILAN))
    oms.inventory.receive("milan", "A", 5)
    before = table_contents(oms)
    with pytest.raises(PluginError) as caught:
        oms.orders.place(order_command("E-1", {"A": 1}))
    assert "plugin 'bad-answers'" in str(caught.value)
    assert message in str(caught.value)
    assert table_contents(oms) == before


def test_good_answers_pass_through(make_oms: Callable[..., Oms]) -> None:
    def terms(candidates: Iterable[Candidate]) -> Iterable[CostTerm]:
        # A generator is a fine answer: the check makes it a list once.
        return (CostTerm(location=c.code, term="margin", per_unit=1) for c in candidates)

    oms = make_oms(plugins=[Answers(
        validate=iter([Problem(code="review", message="please look")]),
        segment="gold", priority=0, rules=(), terms=terms)])
    oms.inventory.save_location(location("milan", *MILAN))
    oms.inventory.receive("milan", "A", 5)
    order = oms.orders.place(order_command("E-1", {"A": 1}))
    assert order.customer.segment == "gold"
    assert [h.code for h in order.active_holds] == ["review"]
