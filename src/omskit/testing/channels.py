"""The channel connector conformance kit."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from omskit import EditOrder, EditsNotSupported, EditStatus, Oms, PayloadError, PlaceOrder
from omskit.testing.builders import location, table_contents


class ChannelConformance:
    """Tests every channel connector must pass. Subclass it in the plugin's tests and provide
    the fixtures ``channel_code`` (str), ``channel_plugin`` (the plugin object),
    ``valid_payloads`` (list of dicts) and ``invalid_payloads`` (list of dicts); the valid
    payloads must use SKUs ``SKU-1``..``SKU-3``, which the suite stocks.

    A connector that takes order edits (the optional ``parse_edit``) also provides
    ``edit_payloads``: edits of the order ``valid_payloads[0]`` places, naming it by its
    channel and external id, that change only what is not yet released (the order is never
    released here); and ``invalid_edit_payloads``. One without ``parse_edit`` is checked to
    refuse edits with ``EditsNotSupported``.
    """

    @pytest.fixture
    def edit_payloads(self) -> list[dict[str, Any]]:
        """Valid edit payloads (override when the connector has ``parse_edit``)."""
        return []

    @pytest.fixture
    def invalid_edit_payloads(self) -> list[dict[str, Any]]:
        """Malformed edit payloads (override when the connector has ``parse_edit``)."""
        return []

    @pytest.fixture
    def channel_oms(self, make_oms: Callable[..., Oms], channel_plugin: object) -> Oms:
        oms = make_oms(plugins=[channel_plugin])
        oms.inventory.save_location(location("conformance-dc", 45.0, 9.0))
        for sku in ("SKU-1", "SKU-2", "SKU-3"):
            oms.inventory.receive("conformance-dc", sku, 1000)
        return oms

    def test_connector_is_registered_under_its_code(self, channel_oms: Oms,
                                                    channel_code: str) -> None:
        assert channel_oms.channel(channel_code).code == channel_code

    def test_valid_payloads_parse_to_commands(self, channel_oms: Oms, channel_code: str,
                                              valid_payloads: list[dict[str, Any]]) -> None:
        assert valid_payloads, "the suite needs at least one valid payload"
        for payload in valid_payloads:
            command = channel_oms.channels.parse(channel_code, payload)
            assert isinstance(command, PlaceOrder)
            assert command.lines
            # The order channel is in the connector's namespace (parse refuses it otherwise).
            assert channel_oms.channels.owner(command.channel) == channel_code

    def test_redelivery_places_one_order(self, channel_oms: Oms, channel_code: str,
                                         valid_payloads: list[dict[str, Any]]) -> None:
        first = channel_oms.channels.receive(channel_code, valid_payloads[0])
        again = channel_oms.channels.receive(channel_code, valid_payloads[0])
        assert again.id == first.id
        assert len(channel_oms.orders.search()) == 1

    def test_invalid_payloads_raise_and_write_nothing(
        self, channel_oms: Oms, channel_code: str, invalid_payloads: list[dict[str, Any]]
    ) -> None:
        assert invalid_payloads, "the suite needs at least one invalid payload"
        before = table_contents(channel_oms)
        for payload in invalid_payloads:
            with pytest.raises(PayloadError) as caught:
                channel_oms.channels.receive(channel_code, payload)
            assert caught.value.problems, f"no problems listed for {payload!r}"
            assert caught.value.channel == channel_code
            for problem in caught.value.problems:
                path, _, message = problem.partition(": ")
                assert path, f"problem {problem!r} is not 'path: message'"
                assert message, f"problem {problem!r} is not 'path: message'"
        assert table_contents(channel_oms) == before

    def test_non_object_payload_is_a_payload_error(self, channel_oms: Oms,
                                                   channel_code: str) -> None:
        not_objects: tuple[Any, ...] = ([], "order", 42, None)
        for payload in not_objects:
            with pytest.raises(PayloadError):
                channel_oms.channels.receive(channel_code, payload)

    # -- order edits (the optional parse_edit) --------------------------------------------------

    @staticmethod
    def takes_edits(oms: Oms, channel_code: str) -> bool:
        """Whether the connector has the optional ``parse_edit``."""
        return callable(getattr(oms.channel(channel_code), "parse_edit", None))

    def test_edits_parse_or_are_refused_as_unsupported(
            self, channel_oms: Oms, channel_code: str,
            edit_payloads: list[dict[str, Any]]) -> None:
        if not self.takes_edits(channel_oms, channel_code):
            with pytest.raises(EditsNotSupported):
                channel_oms.channels.receive_edit(channel_code, {})
            return
        assert edit_payloads, "a connector with parse_edit needs edit_payloads"
        for payload in edit_payloads:
            command = channel_oms.channels.parse_edit(channel_code, payload)
            assert isinstance(command, EditOrder)
            assert command.idempotency_key

    def test_an_edit_delivered_twice_commits_once(
            self, channel_oms: Oms, channel_code: str, valid_payloads: list[dict[str, Any]],
            edit_payloads: list[dict[str, Any]]) -> None:
        if not self.takes_edits(channel_oms, channel_code):
            pytest.skip("the connector takes no order edits")
        order = channel_oms.channels.receive(channel_code, valid_payloads[0])
        first = channel_oms.channels.receive_edit(channel_code, edit_payloads[0])
        again = channel_oms.channels.receive_edit(channel_code, edit_payloads[0])
        assert first.order_id == order.id
        assert again.id == first.id
        assert again.status is EditStatus.COMMITTED
        committed = [e for e in channel_oms.orders.timeline(order.id)
                     if e.event_type == "order.edit_committed"]
        assert len(committed) == 1

    def test_invalid_edit_payloads_raise_and_write_nothing(
            self, channel_oms: Oms, channel_code: str, valid_payloads: list[dict[str, Any]],
            invalid_edit_payloads: list[dict[str, Any]]) -> None:
        if not self.takes_edits(channel_oms, channel_code):
            pytest.skip("the connector takes no order edits")
        assert invalid_edit_payloads, "a connector with parse_edit needs invalid_edit_payloads"
        channel_oms.channels.receive(channel_code, valid_payloads[0])
        before = table_contents(channel_oms)
        not_objects: tuple[Any, ...] = ([], "edit", None)
        for payload in (*invalid_edit_payloads, *not_objects):
            with pytest.raises(PayloadError) as caught:
                channel_oms.channels.receive_edit(channel_code, payload)
            assert caught.value.problems, f"no problems listed for {payload!r}"
            assert caught.value.channel == channel_code
            for problem in caught.value.problems:
                path, _, message = problem.partition(": ")
                assert path, f"problem {problem!r} is not 'path: message'"
                assert message, f"problem {problem!r} is not 'path: message'"
        assert table_contents(channel_oms) == before
