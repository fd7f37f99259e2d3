"""Agents' orders and edits record the agent, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from omskit import LineReleased, Oms, OrderEditConflict
from omskit.testing import location, order_command, table_contents

import omskit_channel_callcenter


@pytest.fixture
def center(make_oms: Callable[..., Oms]) -> Oms:
    oms = make_oms(plugins=[omskit_channel_callcenter])
    oms.inventory.save_location(location("dc-torino", 45.07, 7.69))
    for sku in ("SKU-1", "SKU-2", "SKU-3"):
        oms.inventory.receive("dc-torino", sku, 100)
    return oms


def test_an_agents_order_records_the_agent(center: Oms,
                                           order_payload: dict[str, Any]) -> None:
    order = center.channels.receive("callcenter", order_payload)
    assert (order.channel, order.external_id) == ("callcenter", "CC-1001")
    assert order.metadata["placed_by"] == "agent:anna"
    assert "agent:anna" in order.tags
    assert order.customer.contact.name == "Marco Verdi"


def test_an_agents_edit_goes_through_order_editing_as_the_agent(
        center: Oms, order_payload: dict[str, Any], edit_payload: dict[str, Any]) -> None:
    order = center.channels.receive("callcenter", order_payload)
    edit = center.channels.receive_edit("callcenter", edit_payload)
    assert (edit.actor, edit.channel) == ("agent:bruno", "callcenter")
    changed = center.orders.get(order.id)
    assert changed.line("1").open_quantity == 3
    assert [line.sku for line in changed.lines] == ["SKU-1", "SKU-2", "SKU-3"]
    (committed,) = [e.event for e in center.orders.timeline(order.id)
                    if e.event_type == "order.edit_committed"]
    assert committed.actor == "agent:bruno"  # type: ignore[attr-defined]
    assert [e.id for e in center.edits.for_order(order.id)] == [edit.id]


def test_an_agent_edits_an_order_placed_on_another_channel(center: Oms) -> None:
    web = center.orders.place(order_command("WEB-7", {"SKU-1": 1}, channel="web"))
    edit = center.channels.receive_edit("callcenter", {
        "edit_ref": "CC-E-9", "agent": "carla", "order": {"channel": "web", "id": "WEB-7"},
        "items": [{"line_id": "1", "quantity": 4}]})
    assert edit.order_id == web.id
    assert edit.actor == "agent:carla"
    assert center.orders.get(web.id).line("1").open_quantity == 4


def test_an_edit_on_a_stale_version_or_of_released_lines_changes_nothing(
        center: Oms, order_payload: dict[str, Any], edit_payload: dict[str, Any]) -> None:
    order = center.channels.receive("callcenter", order_payload)
    before = table_contents(center)
    with pytest.raises(OrderEditConflict):
        center.channels.receive_edit("callcenter",
                                     {**edit_payload, "order_version": order.version + 1})
    assert table_contents(center) == before
    center.fulfillment.release(order.id)
    before = table_contents(center)
    with pytest.raises(LineReleased):
        center.channels.receive_edit("callcenter", edit_payload)
    assert table_contents(center) == before
