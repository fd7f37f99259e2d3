"""The ``storefront`` channel connector: payload in, ``PlaceOrder`` or one ``PayloadError`` out."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs
import cattrs
from cattrs.errors import BaseValidationError
from omskit import EditOrder, InvalidCommand, PayloadError, PlaceOrder

from omskit_channel_storefront.converter import make_payload_converter
from omskit_channel_storefront.fields import SOURCES
from omskit_channel_storefront.mapping import to_edit_order, to_place_order
from omskit_channel_storefront.payload import EditPayload, OrderPayload
from omskit_channel_storefront.problems import InvalidField, as_problems, show

#: The connector's code: ``oms.channels.receive("storefront", payload)``.
CHANNEL_CODE = "storefront"


@attrs.define
class StorefrontConnector:
    """Turns web-shop and mobile-app order payloads into ``PlaceOrder`` commands, and their
    order edits into ``EditOrder`` commands (``parse_edit``).

    Every failure is a single :class:`omskit.domain.errors.PayloadError` whose ``problems``
    list every problem found, each as ``"path: message"`` with the path written as in the
    payload (``items[1].quantity: must be a whole number, not '2'``).
    """

    code: str = attrs.field(default=CHANNEL_CODE, init=False)
    #: The order channels it places on besides ``storefront``: the payload's ``source``.
    channels: frozenset[str] = attrs.field(default=frozenset(SOURCES), init=False)
    # One converter per connector (and so per Oms): nothing is shared between instances.
    _converter: cattrs.Converter = attrs.field(factory=make_payload_converter, init=False,
                                               repr=False)

    def structure(self, payload: Mapping[str, Any]) -> OrderPayload:
        """The payload as an :class:`OrderPayload`, or ``PayloadError`` with every problem."""
        if not isinstance(payload, Mapping):
            raise PayloadError([f"payload: must be a JSON object, not {show(payload)}"],
                               channel=self.code)
        try:
            return self._converter.structure(payload, OrderPayload)
        except (BaseValidationError, InvalidField) as exc:
            raise PayloadError(as_problems(exc), channel=self.code) from exc

    def parse(self, payload: Mapping[str, Any]) -> PlaceOrder:
        """The ``PlaceOrder`` for ``payload``, or ``PayloadError`` listing every problem.

        The payload checks are meant to catch everything ``PlaceOrder`` would refuse, with
        payload paths; should omskit still refuse the command (its limits changed, or the
        metadata grew past its size limit) its problems are passed on unchanged.
        """
        order = self.structure(payload)
        try:
            return to_place_order(order)
        except InvalidCommand as exc:
            raise PayloadError(exc.problems, channel=self.code) from exc

    def structure_edit(self, payload: Mapping[str, Any]) -> EditPayload:
        """The payload as an :class:`EditPayload`, or ``PayloadError`` with every problem."""
        if not isinstance(payload, Mapping):
            raise PayloadError([f"payload: must be a JSON object, not {show(payload)}"],
                               channel=self.code)
        try:
            return self._converter.structure(payload, EditPayload)
        except (BaseValidationError, InvalidField) as exc:
            raise PayloadError(as_problems(exc), channel=self.code) from exc

    def parse_edit(self, payload: Mapping[str, Any]) -> EditOrder:
        """The ``EditOrder`` for an edit payload (a customer changing, from the app, an
        order placed on the site), or ``PayloadError`` listing every problem."""
        edit = self.structure_edit(payload)
        try:
            return to_edit_order(edit)
        except InvalidCommand as exc:
            raise PayloadError(exc.problems, channel=self.code) from exc
