"""docs/ stays true to the code.

- ``docs/hooks.md`` has one ``### omskit_xxx`` section per hook in ``omskit.hookspecs``, in the
  same order and family, each with the exact signature, the right firstresult flag and the
  documented fields; no section for a hook that does not exist.
- Every fenced ``python`` block preceded by ``<!-- example -->`` runs. In ``docs/hooks.md`` it
  must bind ``plugin``, which is registered on an in-memory ``Oms`` (and, for most sections,
  checked for the effect the section describes, see ``EFFECTS``); elsewhere it is a standalone
  script on ``sqlite://``.
- The lifecycle tables in ``docs/architecture.md`` equal ``ORDER_TRANSITIONS`` and
  ``FULFILLMENT_TRANSITIONS``; ``docs/decisions/README.md`` indexes every decision record.
"""

from __future__ import annotations

import inspect
import re
import types
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import pluggy
import pytest
import sqlalchemy as sa

import omskit
from omskit import Oms, Order, OrderPayment, Tender, hookimpl, hookspecs
from omskit.builtin import NearestLocationStrategy
from omskit.domain.errors import (
    DuplicateContribution,
    InvalidSettings,
    PayloadError,
    TransitionVetoed,
)
from omskit.domain.inventory import Capability, LocationKind
from omskit.domain.lifecycle import (
    FULFILLMENT_TRANSITIONS,
    ORDER_TRANSITIONS,
    FulfillmentStatus,
    OrderStatus,
)
from omskit.domain.routing import RoutingRequest
from omskit.domain.values import Contact, Customer, DeliveryMethod, LineQuantity
from omskit.plugins import ENTRY_POINT_GROUP, ENV_DISABLE_AUTOLOAD, ENV_DISABLED_PLUGINS
from omskit.store.tables import build_metadata
from omskit.testing import location, order_command

DOCS = Path(__file__).resolve().parents[1] / "docs"
HOOKS_MD = DOCS / "hooks.md"
ARCHITECTURE_MD = DOCS / "architecture.md"
DECISIONS = DOCS / "decisions"
EXAMPLE_MARKER = "<!-- example -->"
FIELDS = ("**Called:**", "**Returns:**", "**Error policy:**", "**Default:**")


# -- reading markdown -----------------------------------------------------------------------------


@attrs.frozen
class Heading:
    level: int
    text: str
    line: int


@attrs.frozen
class Block:
    """A fenced code block: where it is, its language, and whether it is a tested example."""

    path: Path
    line: int  # the opening fence, 1-based
    lang: str
    code: str
    example: bool
    section: str  # text of the nearest heading above it

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(DOCS.parent)}:{self.line}"


@attrs.frozen
class Markdown:
    path: Path
    headings: list[Heading]
    blocks: list[Block]
    prose: list[tuple[int, str]]  # (line number, text) outside code blocks

    def section(self, heading: Heading) -> tuple[list[tuple[int, str]], list[Block]]:
        """Prose and blocks from ``heading`` to the next heading of the same or a higher level."""
        end = next((h.line for h in self.headings
                    if h.line > heading.line and h.level <= heading.level), 10**9)
        return ([(n, t) for n, t in self.prose if heading.line < n < end],
                [b for b in self.blocks if heading.line < b.line < end])


def read_markdown(path: Path) -> Markdown:
    """Split a markdown file into headings, fenced blocks and prose lines."""
    headings: list[Heading] = []
    blocks: list[Block] = []
    prose: list[tuple[int, str]] = []
    lines = path.read_text().splitlines()
    section = ""
    fence: tuple[int, str, bool] | None = None  # (line, lang, example)
    body: list[str] = []
    previous = ""  # last non-blank prose line
    for number, text in enumerate(lines, start=1):
        if fence is not None:
            if text.startswith("```"):
                blocks.append(Block(path=path, line=fence[0], lang=fence[1],
                                    code="\n".join(body) + "\n", example=fence[2],
                                    section=section))
                fence, body, previous = None, [], "```"
            else:
                body.append(text)
            continue
        if text.startswith("```"):
            fence, body = (number, text[3:].strip(), previous == EXAMPLE_MARKER), []
            continue
        match = re.match(r"^(#{1,6})\s+(.*?)\s*$", text)
        if match:
            section = match.group(2)
            headings.append(Heading(level=len(match.group(1)), text=section, line=number))
        prose.append((number, text))
        if text.strip():
            previous = text.strip()
    assert fence is None, f"{path}:{fence[0]}: code block is never closed"
    return Markdown(path=path, headings=headings, blocks=blocks, prose=prose)


def _markdown_or_fail(path: Path) -> Markdown:
    if not path.is_file():
        pytest.fail(f"{path.relative_to(DOCS.parent)} is missing")
    return read_markdown(path)


# -- what the code says ---------------------------------------------------------------------------


def hook_functions() -> dict[str, Callable[..., Any]]:
    """Every hook spec, in source order."""
    found = [(f.__code__.co_firstlineno, name, f)
             for name, f in inspect.getmembers(hookspecs, inspect.isfunction)
             if name.startswith("omskit_") and f.__module__ == hookspecs.__name__]
    return {name: f for _, name, f in sorted(found)}


def hook_families() -> dict[str, str]:
    """Hook name → family, from the ``# -- family ---`` comments that group hookspecs.py."""
    family = "?"
    families = {}
    for line in inspect.getsource(hookspecs).splitlines():
        comment = re.match(r"#\s*--\s*(\w+)", line)
        if comment:
            family = comment.group(1).lower()
        definition = re.match(r"def (omskit_\w+)\(", line)
        if definition:
            families[definition.group(1)] = family
    return families


def _annotation(annotation: Any) -> str:
    # hookspecs.py uses `from __future__ import annotations`: annotations are the source text.
    return annotation if isinstance(annotation, str) else inspect.formatannotation(annotation)


def spec_signature(name: str) -> str:
    """``def omskit_xxx(param: Type, ...) -> ReturnType`` from the spec's annotations."""
    signature = inspect.signature(hook_functions()[name])
    params = ", ".join(f"{p.name}: {_annotation(p.annotation)}"
                       for p in signature.parameters.values())
    return f"def {name}({params}) -> {_annotation(signature.return_annotation)}"


def firstresult(name: str) -> bool:
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    return bool(getattr(pm.hook, name).spec.opts["firstresult"])


def normalise(code: str) -> str:
    """One line, single spaces, no line-wrapping artefacts."""
    text = " ".join(code.split())
    text = re.sub(r"\(\s+", "(", text)
    return re.sub(r",?\s+\)", ")", text)


HOOKS = list(hook_functions())


def hook_sections() -> dict[str, Heading]:
    doc = read_markdown(HOOKS_MD)
    return {h.text.strip("`"): h for h in doc.headings
            if h.level == 3 and h.text.strip("`").startswith("omskit_")}


# -- (a) one section per hook, in order and family ---------------------------------------------


def test_every_hook_has_a_section_and_no_section_names_a_missing_hook() -> None:
    doc = _markdown_or_fail(HOOKS_MD)
    titles = [h.text.strip("`") for h in doc.headings if h.level == 3]
    twice = sorted({t for t in titles if t.startswith("omskit_") and titles.count(t) > 1})
    assert not twice, f"docs/hooks.md has more than one section for {twice}"
    documented = set(hook_sections())
    missing = sorted(set(HOOKS) - documented)
    unknown = sorted(documented - set(HOOKS))
    assert not missing, f"docs/hooks.md has no '### <hook>' section for {missing}"
    assert not unknown, f"docs/hooks.md documents hooks that hookspecs.py lacks: {unknown}"


def test_sections_follow_hookspecs_order_and_family() -> None:
    doc = _markdown_or_fail(HOOKS_MD)
    sections = hook_sections()
    order = [name for name in sorted(sections, key=lambda n: sections[n].line) if name in HOOKS]
    assert order == [h for h in HOOKS if h in sections], (
        "docs/hooks.md must list the hooks in the order of hookspecs.py")
    families = hook_families()
    for name, heading in sections.items():
        if name not in families:
            continue
        family = next((h.text for h in reversed(doc.headings)
                       if h.level == 2 and h.line < heading.line), "")
        assert family.lower().startswith(families[name]), (
            f"docs/hooks.md:{heading.line}: {name} belongs under '## {families[name].title()}' "
            f"(its family in hookspecs.py), not under {family!r}")


# -- (b) signatures, (c) firstresult, and the fields every section has ---------------------------


@pytest.mark.parametrize("name", HOOKS)
def test_signature_block_matches_the_spec(name: str) -> None:
    doc = _markdown_or_fail(HOOKS_MD)
    heading = hook_sections().get(name)
    assert heading is not None, f"docs/hooks.md has no section for {name}"
    _, blocks = doc.section(heading)
    python = [b for b in blocks if b.lang == "python" and not b.example]
    assert python, f"docs/hooks.md:{heading.line}: {name} has no signature code block"
    expected = spec_signature(name)
    assert normalise(python[0].code) == expected, (
        f"{python[0].where}: the signature of {name} drifted from hookspecs.py.\n"
        f"  docs: {normalise(python[0].code)}\n  code: {expected}")


@pytest.mark.parametrize("name", HOOKS)
def test_firstresult_flag_matches_the_spec(name: str) -> None:
    doc = _markdown_or_fail(HOOKS_MD)
    heading = hook_sections().get(name)
    assert heading is not None, f"docs/hooks.md has no section for {name}"
    prose, _ = doc.section(heading)
    flags = [m.group(1) for _, text in prose
             for m in re.finditer(r"\*\*firstresult:\*\*\s*(yes|no)\b", text)]
    assert len(flags) == 1, (
        f"docs/hooks.md:{heading.line}: {name} needs exactly one '**firstresult:** yes|no'")
    expected = "yes" if firstresult(name) else "no"
    assert flags[0] == expected, (
        f"docs/hooks.md:{heading.line}: {name} is documented firstresult={flags[0]}, "
        f"hookspecs.py says {expected}")


@pytest.mark.parametrize("name", HOOKS)
def test_section_documents_every_field_and_has_an_example(name: str) -> None:
    doc = _markdown_or_fail(HOOKS_MD)
    heading = hook_sections().get(name)
    assert heading is not None, f"docs/hooks.md has no section for {name}"
    prose, blocks = doc.section(heading)
    text = "\n".join(t for _, t in prose)
    missing = [f for f in FIELDS if f not in text]
    assert not missing, f"docs/hooks.md:{heading.line}: {name} does not document {missing}"
    assert any(b.example for b in blocks), (
        f"docs/hooks.md:{heading.line}: {name} has no tested example "
        f"({EXAMPLE_MARKER} before a ```python block)")


# -- (d) the examples run ------------------------------------------------------------------------


def examples(path: Path) -> list[Block]:
    if not path.is_file():
        return []
    return [b for b in read_markdown(path).blocks if b.example]


def script_example_files() -> list[Path]:
    return sorted(p for p in DOCS.rglob("*.md") if p != HOOKS_MD) if DOCS.is_dir() else []


def run(block: Block) -> dict[str, Any]:
    """Execute an example; tracebacks point at the markdown file and line."""
    assert block.lang == "python", f"{block.where}: {EXAMPLE_MARKER} must precede ```python"
    namespace: dict[str, Any] = {"__name__": "docs_example"}
    code = "\n" * block.line + block.code  # line numbers as in the markdown file
    # dont_inherit: the example must not pick up this module's `from __future__` imports.
    exec(compile(code, str(block.path), "exec", dont_inherit=True), namespace)
    return namespace


@contextmanager
def memory_oms(*plugins: object, **kwargs: Any) -> Iterator[Oms]:
    """An Oms on an in-memory SQLite database with its tables, no entry points."""
    with omskit.bootstrap("sqlite://", load_entrypoints=False, plugins=plugins,
                          **kwargs) as oms:
        oms.create_schema()
        yield oms


def stock(oms: Oms, code: str, units: int, *, lat: float = 45.4642, lon: float = 9.19,
          handling_cost: str = "0") -> None:
    oms.inventory.save_location(location(code, lat, lon, handling_cost=handling_cost))
    oms.inventory.receive(code, "SKU-1", units)


def _fraud_screening(ns: dict[str, Any]) -> None:
    with memory_oms(ns["plugin"]) as oms:
        stock(oms, "dc-milano", 10)
        command = order_command("F-1", {"SKU-1": 1})
        command = attrs.evolve(command, customer=Customer(
            id="c-1", contact=Contact(email="someone@mailinator.com")))
        held = oms.orders.place(command)
        assert held.status is OrderStatus.ON_HOLD
        assert [h.code for h in held.active_holds] == ["fraud_review"]
        assert oms.orders.place(order_command("F-2", {"SKU-1": 1})).status is \
            OrderStatus.ALLOCATED


def _channels(ns: dict[str, Any]) -> None:
    payload = {"id": 7001, "buyer": "c-9",
               "items": [{"sku": "SKU-1", "qty": 2, "price": "19.90"}],
               "ship_to": {"street": "Via Roma 1", "city": "Milano", "country": "IT"}}
    with memory_oms(ns["plugin"]) as oms:
        stock(oms, "dc-milano", 10)
        order = oms.channels.receive("marketplace", payload)
        assert (order.channel, order.status) == ("marketplace", OrderStatus.ALLOCATED)
        assert oms.channels.receive("marketplace", payload).id == order.id
        with pytest.raises(PayloadError) as caught:
            oms.channels.receive("marketplace", {"id": 7002})
        assert caught.value.channel == "marketplace"


def _routing_strategies(ns: dict[str, Any]) -> None:
    with memory_oms(ns["plugin"], routing_strategy="lowest-cost") as oms:
        assert "lowest-cost" in oms.routing_strategies()
        stock(oms, "dc-near", 10, handling_cost="2.00")
        stock(oms, "dc-cheap", 10, lat=41.9, lon=12.5, handling_cost="0.50")
        order = oms.orders.place(order_command("R-1", {"SKU-1": 3}))
        assert [fo.location for fo in order.fulfillment_orders] == ["dc-cheap"]
        too_many = oms.orders.place(order_command("R-2", {"SKU-1": 30}))
        assert too_many.status is OrderStatus.BACKORDERED


def _event_types(ns: dict[str, Any]) -> None:
    with memory_oms(ns["plugin"]) as oms:
        assert "loyalty.points_earned" in oms.event_types()
        event = ns["LoyaltyPointsEarned"](order="o-1", customer_id="c-1", points=40)
        with oms.unit_of_work() as uow:
            uow.emit(event)
            uow.commit()
        with oms.unit_of_work() as uow:
            assert [r.event for r in uow.outbox.for_order("o-1")] == [event]


def _converter(ns: dict[str, Any]) -> None:
    points = ns["Points"]
    with memory_oms(ns["plugin"]) as oms:
        assert oms.converter.unstructure(points(7)) == 7
        assert oms.converter.structure("7", points).value == 7


def _metadata(ns: dict[str, Any]) -> None:
    with memory_oms(ns["plugin"], table_prefix="shop_") as oms:
        assert "shop_loyalty_points" in oms.metadata.tables
        assert "shop_loyalty_points" in sa.inspect(oms.engine).get_table_names()


def _customer_segment(ns: dict[str, Any]) -> None:
    with memory_oms(ns["plugin"]) as oms:
        stock(oms, "dc-milano", 100)
        large = oms.orders.place(order_command("S-1", {"SKU-1": 60}, unit_price="10.00"))
        small = oms.orders.place(order_command("S-2", {"SKU-1": 1}, unit_price="10.00"))
        assert oms.orders.get(large.id).customer.segment == "gold"
        assert oms.orders.get(small.id).customer.segment == "standard"


def _choose_routing_strategy(ns: dict[str, Any]) -> None:
    def request(segment: str) -> RoutingRequest:
        return RoutingRequest(order_id="o-1", channel="web", segment=segment,
                              demand=(LineQuantity(line_id="1", sku="SKU-1", quantity=1),),
                              delivery=DeliveryMethod(), destination=None)

    with memory_oms(ns["plugin"]) as oms:
        assert oms.hooks.choose_routing_strategy(request("b2b")) == "lowest-cost"
        assert oms.hooks.choose_routing_strategy(request("standard")) == "nearest"


def _validate_order(ns: dict[str, Any]) -> None:
    with memory_oms(ns["plugin"]) as oms:
        stock(oms, "dc-milano", 100)
        held = oms.orders.place(order_command("V-1", {"SKU-1": 60}))
        assert held.status is OrderStatus.ON_HOLD
        assert [h.code for h in held.active_holds] == ["large_order"]
        assert oms.inventory.available("SKU-1") == 100  # a held order reserves nothing
        assert oms.orders.release_hold(held.id, "large_order").status is OrderStatus.ALLOCATED
        assert oms.orders.place(order_command("V-2", {"SKU-1": 5})).status is \
            OrderStatus.ALLOCATED


def _validate_transition(ns: dict[str, Any]) -> None:
    with memory_oms(ns["plugin"]) as oms:
        stock(oms, "dc-north", 10)
        order = oms.orders.place(order_command("T-1", {"SKU-1": 2}))
        with pytest.raises(TransitionVetoed) as caught:
            oms.fulfillment.release(order.id)
        assert caught.value.problems == ("dc-north is counting its stock",)
        after = oms.orders.get(order.id)
        assert after.status is OrderStatus.ALLOCATED
        assert [fo.status for fo in after.fulfillment_orders] == [FulfillmentStatus.CREATED]


def _after_transition(ns: dict[str, Any]) -> None:
    plugin = ns["plugin"]
    with memory_oms(plugin) as oms:
        stock(oms, "dc-milano", 10)
        oms.orders.place(order_command("A-1", {"SKU-1": 2}))
        assert plugin.changes[("order", "validated")] == 1
        assert plugin.changes[("order", "allocated")] == 1


def _handle_event(ns: dict[str, Any]) -> None:
    plugin = ns["plugin"]
    with memory_oms(plugin, omskit.ManualCarriers("brt")) as oms:
        stock(oms, "dc-milano", 10)
        order = oms.fulfillment.release(oms.orders.place(order_command("H-1", {"SKU-1": 2})).id)
        fo = order.fulfillment_orders[0].id
        for step in (oms.fulfillment.accept, oms.fulfillment.pick, oms.fulfillment.pack):
            step(fo)
        oms.fulfillment.ship(fo, carrier="brt", tracking_number="BRT-1")
        [message] = plugin.sent.values()
        assert "test@example.com" in message
        assert "BRT-1" in message
        assert oms.outbox.pending_count() == 0


#: What an example in a section of docs/hooks.md must do besides registering (by section title).
def _carriers(ns: dict[str, Any]) -> None:
    with memory_oms(ns["plugin"], routing_strategy="optimal") as oms:
        assert oms.carriers() == ["brt", "dhl"]
        stock(oms, "dc-milano", 10)
        placed = oms.orders.place(order_command("K-1", {"SKU-1": 2}))
        (decision,) = oms.orders.explain(placed.id)
        # Milano to Milano: BRT's 4.50 base beats DHL's 7.00, plus 0.10 per unit.
        assert decision.cost.by_term["shipping"] == pytest.approx(4.5 + 0.2)
        (chosen,) = [c for c in decision.candidates if c.status == "chosen"]
        assert any("brt" in reason for reason in chosen.reasons)


def _geocoders(ns: dict[str, Any]) -> None:
    with memory_oms(ns["plugin"]) as oms:
        assert oms.geocoders() == ["depot-towns"]
        oms.inventory.save_location(location("dc-milano", 45.46, 9.19))
        oms.inventory.save_location(location("dc-napoli", 40.85, 14.27))
        for code in ("dc-milano", "dc-napoli"):
            oms.inventory.receive(code, "SKU-1", 5)
        command = order_command("G-1", {"SKU-1": 1})
        assert command.shipping_address is not None
        blind = attrs.evolve(command.shipping_address, city="Napoli", coordinates=None)
        placed = oms.orders.place(attrs.evolve(command, shipping_address=blind))
        assert [fo.location for fo in placed.fulfillment_orders] == ["dc-napoli"]
        (decision,) = oms.orders.explain(placed.id)
        assert any("geocoder:depot-towns" in note for note in decision.notes)


def _shipping_carriers(ns: dict[str, Any]) -> None:
    with memory_oms(ns["plugin"]) as oms:
        assert oms.shipping.carriers() == ["own-fleet"]
        stock(oms, "dc-milano", 10)
        order = oms.fulfillment.release(oms.orders.place(order_command("S-1", {"SKU-1": 2})).id)
        fo = order.fulfillment_orders[0].id
        for step in (oms.fulfillment.accept, oms.fulfillment.pick, oms.fulfillment.pack):
            step(fo)
        with pytest.raises(omskit.UnknownShippingCarrier):
            oms.fulfillment.ship(fo, carrier="brt", tracking_number="BRT-1")
        assert oms.orders.get(order.id).status is OrderStatus.RELEASED
        shipped = oms.fulfillment.ship(fo, carrier="own-fleet", tracking_number="VAN-7")
        assert shipped.status is FulfillmentStatus.SHIPPED


def _validate_settings(ns: dict[str, Any]) -> None:
    with pytest.raises(InvalidSettings) as raised, memory_oms(
            ns["plugin"], settings={"loyalty": {"points_per_euro": -1}}):
        pass
    assert raised.value.problems == ("loyalty.points_per_euro: must be a whole number ≥ 0, "
                                     "got -1",)
    with memory_oms(ns["plugin"], settings={"loyalty": {"points_per_euro": 2}}) as oms:
        assert oms.settings["loyalty"] == {"points_per_euro": 2}


def _routing_policy(ns: dict[str, Any]) -> None:
    with memory_oms(ns["plugin"], routing_strategy="optimal") as oms:
        stock(oms, "dc-milano", 1)
        stock(oms, "dc-roma", 1, lat=41.9, lon=12.5)
        standard = oms.orders.place(order_command("P-1", {"SKU-1": 2}))
        assert len(standard.fulfillment_orders) == 2
        oms.inventory.receive("dc-milano", "SKU-1", 1)
        oms.inventory.receive("dc-roma", "SKU-1", 1)
        gold = oms.orders.place(order_command("P-2", {"SKU-1": 2}, segment="gold"))
        assert len(gold.fulfillment_orders) == 1
        assert [b.quantity for b in gold.backordered()] == [1]


def _order_priority(ns: dict[str, Any]) -> None:
    with memory_oms(ns["plugin"]) as oms:
        stock(oms, "dc-milano", 1)
        oms.orders.place(order_command("Q-0", {"SKU-1": 1}))
        older = oms.orders.place(order_command("Q-1", {"SKU-1": 1}, channel="marketplace"))
        newer = oms.orders.place(order_command("Q-2", {"SKU-1": 1}, channel="web"))
        assert [o.id for o in oms.orders.waiting()] == [newer.id, older.id]
        oms.inventory.receive("dc-milano", "SKU-1", 1)
        assert oms.orders.get(newer.id).status is OrderStatus.ALLOCATED
        assert oms.orders.get(older.id).status is OrderStatus.BACKORDERED


def _routing_rules(ns: dict[str, Any]) -> None:
    with memory_oms(ns["plugin"]) as oms:
        oms.inventory.save_location(location("store-milano", 45.46, 9.19,
                                             kind=LocationKind.STORE,
                                             capabilities=[Capability.SHIP_FROM_STORE]))
        oms.inventory.receive("store-milano", "SKU-1", 5)
        stock(oms, "dc-roma", 5, lat=41.9, lon=12.5)
        web = oms.orders.place(order_command("R-1", {"SKU-1": 1}))
        assert [fo.location for fo in web.fulfillment_orders] == ["store-milano"]
        market = oms.orders.place(order_command("R-2", {"SKU-1": 1}, channel="marketplace"))
        assert [fo.location for fo in market.fulfillment_orders] == ["dc-roma"]
        (decision,) = oms.orders.explain(market.id)
        (excluded,) = [c for c in decision.candidates if c.status == "excluded"]
        assert excluded.location == "store-milano"
        assert excluded.reasons == ("marketplace_no_stores: marketplace orders ship from "
                                    "warehouses",)


def _routing_cost_terms(ns: dict[str, Any]) -> None:
    with memory_oms(ns["plugin"], routing_strategy="optimal") as oms:
        oms.inventory.save_location(location("store-milano", 45.46, 9.19,
                                             kind=LocationKind.STORE,
                                             capabilities=[Capability.SHIP_FROM_STORE],
                                             handling_cost="0.50"))
        oms.inventory.receive("store-milano", "SKU-1", 5)
        stock(oms, "dc-roma", 5, lat=41.9, lon=12.5, handling_cost="1.00")
        # Handling alone favours the store (0.50 < 1.00); its labour term (3.00) does not.
        placed = oms.orders.place(order_command("T-1", {"SKU-1": 1}))
        assert [fo.location for fo in placed.fulfillment_orders] == ["dc-roma"]
        (decision,) = oms.orders.explain(placed.id)
        store = next(c for c in decision.candidates if c.location == "store-milano")
        assert store.fixed_cost == pytest.approx(3.0)
        assert decision.cost.total == pytest.approx(1.0)


def _payment_providers(ns: dict[str, Any]) -> None:
    with memory_oms(ns["plugin"]) as oms:
        assert oms.payments.providers() == ["house-account"]
        stock(oms, "dc-milano", 100)

        def on_account(external_id: str, units: int) -> Order:
            command = attrs.evolve(
                order_command(external_id, {"SKU-1": units}, unit_price="10.00"),
                payment=OrderPayment(tenders=[Tender(provider="house-account",
                                                     amount=Decimal(10 * units))]))
            return oms.orders.get(oms.orders.place(command).id)

        assert on_account("B-1", 5).status is OrderStatus.ALLOCATED
        held = on_account("B-2", 60)
        (hold,) = held.active_holds
        assert (hold.code, hold.reason) == (
            "payment_pending", "payment declined: credit_limit: above 500.00")
    # Another Oms, other settings: the provider it registers has its own limit.
    with memory_oms(ns["plugin"], settings={"house_account": {"credit_limit": "1000.00"}}) as oms:
        stock(oms, "dc-milano", 100)
        command = attrs.evolve(
            order_command("B-2", {"SKU-1": 60}, unit_price="10.00"),
            payment=OrderPayment(tenders=[Tender(provider="house-account",
                                                 amount=Decimal(600))]))
        assert not oms.orders.get(oms.orders.place(command).id).active_holds


def _tax_rate(ns: dict[str, Any]) -> None:
    settings = {"invoices": {"tax_rate": "22"}}
    with memory_oms(ns["plugin"], omskit.ManualCarriers("brt"), settings=settings) as oms:
        stock(oms, "dc-milano", 10)
        for external_id, country in (("X-1", "CH"), ("X-2", "IT")):
            command = attrs.evolve(
                order_command(external_id, {"SKU-1": 1}, unit_price="12.20"),
                payment=OrderPayment(tenders=[Tender(captured=True, amount=Decimal("12.20"),
                                                     reference=f"till-{external_id}")]))
            assert command.shipping_address is not None
            command = attrs.evolve(command, shipping_address=attrs.evolve(
                command.shipping_address, country=country))
            order = oms.fulfillment.release(oms.orders.place(command).id)
            fo = order.fulfillment_orders[0].id
            for step in (oms.fulfillment.accept, oms.fulfillment.pick, oms.fulfillment.pack):
                step(fo)
            oms.fulfillment.ship(fo, carrier="brt", tracking_number=f"T-{external_id}")
            (invoice,) = oms.invoices.for_order(order.id)
            expected = ("0", "0.00") if country == "CH" else ("22", "2.20")
            assert (str(invoice.lines[0].vat_rate), str(invoice.vat)) == expected


def _event_relays(ns: dict[str, Any]) -> None:
    with memory_oms(ns["plugin"]) as oms:
        assert oms.outbox.relays() == ["file"]
        stock(oms, "dc-milano", 10)
        before = len(ns["plugin"].lines)
        run = oms.outbox.relay("file", limit=100)
        assert run.delivered == run.claimed > 0
        assert len(ns["plugin"].lines) == before + run.delivered
        assert oms.outbox.relay("file").claimed == 0


EFFECTS: dict[str, Callable[[dict[str, Any]], None]] = {
    "Writing a plugin": _fraud_screening,
    "omskit_register_channels": _channels,
    "omskit_register_routing_strategies": _routing_strategies,
    "omskit_register_carriers": _carriers,
    "omskit_register_geocoders": _geocoders,
    "omskit_register_shipping_carriers": _shipping_carriers,
    "omskit_register_event_types": _event_types,
    "omskit_register_payment_providers": _payment_providers,
    "omskit_register_event_relays": _event_relays,
    "omskit_configure_converter": _converter,
    "omskit_configure_metadata": _metadata,
    "omskit_validate_settings": _validate_settings,
    "omskit_customer_segment": _customer_segment,
    "omskit_choose_routing_strategy": _choose_routing_strategy,
    "omskit_routing_policy": _routing_policy,
    "omskit_order_priority": _order_priority,
    "omskit_tax_rate": _tax_rate,
    "omskit_validate_order": _validate_order,
    "omskit_validate_transition": _validate_transition,
    "omskit_after_transition": _after_transition,
    "omskit_handle_event": _handle_event,
    "omskit_routing_rules": _routing_rules,
    "omskit_routing_cost_terms": _routing_cost_terms,
}


@pytest.mark.parametrize("block", examples(HOOKS_MD), ids=lambda b: f"{b.section}:{b.line}")
def test_hook_example_registers_and_works(block: Block) -> None:
    namespace = run(block)
    plugin = namespace.get("plugin")
    assert plugin is not None, f"{block.where}: a hook example must bind its plugin to `plugin`"
    with omskit.bootstrap("sqlite://", load_entrypoints=False, plugins=[plugin]) as oms:
        assert oms.plugin_manager.is_registered(plugin)
        implemented = {c.name for c in oms.plugin_manager.get_hookcallers(plugin) or ()}
    assert implemented, f"{block.where}: the example plugin implements no hook"
    section = block.section.strip("`")
    if section.startswith("omskit_"):
        assert section in implemented, (
            f"{block.where}: the example under {section} does not implement it")
    check = EFFECTS.get(block.section)
    if check is not None:
        try:
            check(namespace)
        except AssertionError as exc:
            raise AssertionError(
                f"{block.where}: the example no longer does what '{block.section}' documents "
                f"(see {check.__name__} in tests/test_docs_hooks.py): {exc}") from exc


def test_every_effect_check_has_its_example() -> None:
    sections = {b.section for b in examples(HOOKS_MD)}
    stale = sorted(set(EFFECTS) - sections)
    assert not stale, f"EFFECTS names sections of docs/hooks.md without an example: {stale}"


@pytest.mark.parametrize(
    "block", [b for p in script_example_files() for b in examples(p)],
    ids=lambda b: f"{b.path.name}:{b.line}")
def test_script_example_runs(block: Block) -> None:
    in_memory = f"{block.where}: examples run on an in-memory database (sqlite://), never a file"
    assert "sqlite://" in block.code, in_memory
    assert "sqlite:///" not in block.code, in_memory
    run(block)


# -- claims made in the text -----------------------------------------------------------------------


_HOOKISH = re.compile(
    r"\bomskit_(?:register|configure|validate|before|after|handle|choose|customer)_\w+")


def test_docs_name_only_existing_hooks() -> None:
    if not DOCS.is_dir():
        pytest.fail("docs/ is missing")
    wrong = []
    for path in sorted(DOCS.rglob("*.md")):
        doc = read_markdown(path)
        for number, text in doc.prose:
            wrong += [f"{path.name}:{number}: {m}" for m in _HOOKISH.findall(text)
                      if m not in HOOKS]
        for block in doc.blocks:
            names = re.findall(r"def (omskit_\w+)", block.code) + _HOOKISH.findall(block.code)
            wrong += [f"{block.where}: {m}" for m in names if m not in HOOKS]
    assert not wrong, "docs name hooks that hookspecs.py does not have:\n" + "\n".join(wrong)


def test_plugin_switches_are_spelt_as_in_the_code() -> None:
    text = _markdown_or_fail(HOOKS_MD).path.read_text()
    for name in (ENV_DISABLED_PLUGINS, ENV_DISABLE_AUTOLOAD,
                 f"[project.entry-points.{ENTRY_POINT_GROUP}]"):
        assert name in text, f"docs/hooks.md does not mention {name}"


def test_builtin_plugin_table_matches_the_builtins() -> None:
    text = _markdown_or_fail(HOOKS_MD).path.read_text()
    documented = {
        m.group(1): set(re.findall(r"omskit_\w+", m.group(2)))
        for m in re.finditer(r"^\| `(omskit\.builtin\.\w+)` \|(.*)\|\s*$", text, re.M)
    }
    with omskit.bootstrap("sqlite://", load_entrypoints=False) as oms:
        actual = {p.name: set(p.hooks) for p in oms.plugins() if p.builtin}
    assert documented == actual, "the builtin plugin table in docs/hooks.md is out of date"


def test_duplicate_contribution_names_both_plugins_as_documented() -> None:
    fast = types.ModuleType("fast-routing")

    @hookimpl
    def omskit_register_routing_strategies(register: Callable[[object], None]) -> None:
        register(NearestLocationStrategy())

    fast.omskit_register_routing_strategies = omskit_register_routing_strategies  # type: ignore[attr-defined]
    with pytest.raises(DuplicateContribution) as caught:
        omskit.bootstrap("sqlite://", load_entrypoints=False, plugins=[fast])
    assert caught.value.plugins == ("fast-routing", "omskit.builtin.strategies")
    samples = [b.code for b in _markdown_or_fail(HOOKS_MD).blocks
               if b.lang == "text" and "DuplicateContribution:" in b.code]
    assert samples, "docs/hooks.md lost its DuplicateContribution sample"
    shown = " ".join(samples[0].split()).split("DuplicateContribution: ", 1)[1]
    assert shown == str(caught.value), "the DuplicateContribution sample in docs/hooks.md drifted"


# -- architecture: lifecycle tables ---------------------------------------------------------------


def transition_table(doc: Markdown, aggregate: str) -> dict[str, set[str]]:
    """The markdown table after ``<!-- transitions: <aggregate> -->``: from → {to, ...}."""
    lines = doc.path.read_text().splitlines()
    marker = f"<!-- transitions: {aggregate} -->"
    assert marker in lines, f"{doc.path.name} has no {marker} table"
    rows: list[str] = []
    for text in lines[lines.index(marker) + 1:]:
        if not text.strip() and not rows:
            continue
        if not text.startswith("|"):
            break
        rows.append(text)
    table: dict[str, set[str]] = {}
    for row in rows[2:]:  # header and separator
        cells = [c.strip() for c in row.strip().strip("|").split("|")]
        [source] = re.findall(r"`(\w+)`", cells[0])
        assert source not in table, f"{doc.path.name}: {source} appears twice in {aggregate}"
        table[source] = set(re.findall(r"`(\w+)`", cells[1]))
    return table


@pytest.mark.parametrize(("aggregate", "transitions"), [
    ("order", ORDER_TRANSITIONS),
    ("fulfillment_order", FULFILLMENT_TRANSITIONS),
])
def test_lifecycle_tables_match_the_code(aggregate: str, transitions: Any) -> None:
    doc = _markdown_or_fail(ARCHITECTURE_MD)
    expected = {s.value: {t.value for t in targets} for s, targets in transitions.items()}
    documented = transition_table(doc, aggregate)
    for status in sorted(set(expected) | set(documented)):
        assert documented.get(status) == expected.get(status), (
            f"docs/architecture.md, {aggregate} lifecycle, from {status!r}: "
            f"docs say {sorted(documented.get(status, ()))}, "
            f"code says {sorted(expected.get(status, ()))}")


def test_core_tables_named_in_architecture_exist() -> None:
    text = _markdown_or_fail(ARCHITECTURE_MD).path.read_text()
    known = {t.name for t in build_metadata().all()} | {"omskit_alembic_version", *HOOKS}
    unknown = sorted(set(re.findall(r"`(omskit_\w+)`", text)) - known)
    assert not unknown, f"docs/architecture.md names tables omskit does not have: {unknown}"


# -- decisions ------------------------------------------------------------------------------------


def test_decision_records_are_indexed_and_complete() -> None:
    records = sorted(p for p in DECISIONS.glob("[0-9][0-9][0-9][0-9]-*.md"))
    assert records, "docs/decisions/ has no decision records"
    assert [p.name[:4] for p in records] == [f"{i:04d}" for i in range(1, len(records) + 1)], (
        "decision records are numbered 0001, 0002... without gaps")
    index = (DECISIONS / "README.md").read_text()
    for record in records:
        assert f"({record.name})" in index, f"docs/decisions/README.md does not link {record.name}"
        doc = read_markdown(record)
        title = f"{int(record.name[:4])}. "
        assert doc.headings, f"{record.name} has no title"
        assert doc.headings[0].text.startswith(title), (
            f"{record.name} must start with '# {title}<title>'")
        sections = {h.text for h in doc.headings if h.level == 2}
        missing = {"Context", "Decision", "Consequences", "Alternatives"} - sections
        assert not missing, f"{record.name} lacks the sections {sorted(missing)}"
