"""Contribution kinds as data: one row per kind of thing plugins contribute.

A kind names its Protocol (in :mod:`omskit.ports`), how a contribution's code is read, the
error raised when a code is not installed, and the ``omskit_register_*`` hook that collects
it. ``bootstrap`` builds every registry from :data:`KINDS` in one loop, and checks each
contribution against its kind as it registers: a misfit raises ``PluginError`` naming the
plugin, at start-up, instead of failing on the first order that reaches it.

Adding a kind is one row here, one hook spec, one Protocol and one conformance kit in
``omskit.testing``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from typing import Any, Generic, TypeVar

import attrs
from typing_extensions import get_protocol_members

from omskit import hookspecs
from omskit.domain.channels import namespace_clash
from omskit.domain.checks import check_code, check_location_code
from omskit.domain.dropship import UnknownSupplier
from omskit.domain.errors import (
    NotFound,
    UnknownCarrier,
    UnknownChannel,
    UnknownEventType,
    UnknownGeocoder,
    UnknownNotifier,
    UnknownPaymentProvider,
    UnknownRelay,
    UnknownReturnsPolicy,
    UnknownRoutingStrategy,
    UnknownShippingCarrier,
)
from omskit.domain.events import Event
from omskit.domain.payments import PaymentCapability
from omskit.domain.shipping import CarrierCapability
from omskit.ports import (
    CAPABILITY_METHODS,
    Carrier,
    ChannelConnector,
    EditingChannelConnector,
    EventRelay,
    Geocoder,
    Notifier,
    PaymentProvider,
    ReturnsPolicy,
    RoutingStrategy,
    ShippingCarrier,
    StatusPushingChannelConnector,
    SupplierConnector,
)

T = TypeVar("T")


@attrs.frozen(kw_only=True)
class ContributionKind(Generic[T]):
    """One kind of contribution: its name, hook, Protocol, code and not-found error."""

    #: What the kind is called in messages and in ``omskit plugins`` (``channel``).
    name: str
    #: The ``omskit_register_*`` hook spec that collects it.
    hook: Callable[..., None]
    #: Reads a contribution's code (the registry key).
    key: Callable[[T], str]
    #: Raised by ``Registry.get`` for a code nobody contributed.
    not_found: type[NotFound]
    #: The Protocol every contribution must fit (``None``: only ``check`` applies).
    protocol: type | None = None
    #: Extra checks a Protocol cannot express; returns one message per problem.
    check: Callable[[Any], list[str]] | None = None
    #: What an already registered contribution (first) and a new one (second) both claim
    #: besides their codes (``None``: nothing); a clash refuses the new one.
    clash: Callable[[Any, Any], str | None] | None = None

    @property
    def hook_name(self) -> str:
        """The hook's name, as plugins implement it."""
        return self.hook.__name__

    def misfits(self, item: object) -> list[str]:
        """Every way ``item`` breaks this kind's contract (empty when it fits)."""
        problems = protocol_misfits(item, self.protocol) if self.protocol is not None else []
        if not problems and self.check is not None:
            problems.extend(self.check(item))
        return problems


def protocol_misfits(item: object, protocol: type,
                     members: Iterable[str] | None = None) -> list[str]:
    """How ``item`` fails to fit ``protocol``: a missing member, a method that is not
    callable, or one that cannot be called with the Protocol's positional parameters.
    ``members``: check only these members of the Protocol (default: all)."""
    problems: list[str] = []
    names = get_protocol_members(protocol) if members is None else set(members)
    for name in sorted(names):
        declared = inspect.getattr_static(protocol, name, None)
        try:
            value = getattr(item, name)
        except Exception:  # a property that raises is as missing as an absent attribute
            problems.append(f"has no {name!r}")
            continue
        if not inspect.isfunction(declared):
            continue  # a data member or property: present is all a Protocol promises
        if not callable(value):
            problems.append(f"{name!r} is not callable")
            continue
        wanted = [p for p in inspect.signature(declared).parameters.values()
                  if p.name != "self"]
        try:
            inspect.signature(value).bind(*(None for _ in wanted))
        except TypeError as exc:
            problems.append(f"{name}() cannot be called as {name}("
                            f"{', '.join(p.name for p in wanted)}): {exc}")
        except ValueError:
            pass  # no signature to read (a builtin): trust it
    return problems


def _code(field: str) -> Callable[[Any], list[str]]:
    def check(item: Any) -> list[str]:
        problems: list[str] = []
        check_code(getattr(item, "code", None), field, problems)
        return problems
    return check


def _event_type(item: Any) -> list[str]:
    if not (isinstance(item, type) and issubclass(item, Event)):
        return [f"{item!r} is not a subclass of omskit's Event"]
    code = getattr(item, "event_type", None)
    if not isinstance(code, str) or not code or code != code.strip():
        return [f"{item.__name__}.event_type must be a non-empty string, not {code!r}"]
    return []


def _shipping_carrier(item: Any) -> list[str]:
    """A shipping carrier's code, its ``capabilities`` (a set of ``CarrierCapability``),
    and the methods of exactly the capabilities it declares."""
    problems = _code("shipping carrier code")(item)
    declared = getattr(item, "capabilities", None)
    if not isinstance(declared, frozenset | set) or not all(
            isinstance(c, CarrierCapability) for c in declared):
        return [*problems, f"capabilities must be a frozenset of CarrierCapability, not "
                           f"{declared!r}"]
    methods = {m for c in declared for m in CAPABILITY_METHODS[c]}
    return problems + protocol_misfits(item, ShippingCarrier, methods)


def _code_of(item: Any) -> str:
    return str(getattr(item, "code", ""))


def _channel(item: Any) -> list[str]:
    """A channel connector's code, and its ``parse_edit`` if it has one (the optional part
    of the contract)."""
    problems = _code("channel code")(item)
    declared = getattr(item, "channels", None)
    if declared is not None:
        if not isinstance(declared, frozenset | set):
            problems.append(f"channels must be a frozenset of channel codes, not {declared!r}")
        else:
            for name in sorted(declared, key=repr):
                check_code(name, "channels", problems)
    if inspect.getattr_static(item, "parse_edit", None) is not None:
        problems += protocol_misfits(item, EditingChannelConnector, {"parse_edit"})
    if inspect.getattr_static(item, "push_status", None) is not None:
        problems += protocol_misfits(item, StatusPushingChannelConnector, {"push_status"})
    return problems


CHANNEL: ContributionKind[ChannelConnector] = ContributionKind(
    name="channel", hook=hookspecs.omskit_register_channels, key=_code_of,
    not_found=UnknownChannel, protocol=ChannelConnector, check=_channel,
    clash=namespace_clash)
ROUTING_STRATEGY: ContributionKind[RoutingStrategy] = ContributionKind(
    name="routing strategy", hook=hookspecs.omskit_register_routing_strategies, key=_code_of,
    not_found=UnknownRoutingStrategy, protocol=RoutingStrategy,
    check=_code("routing strategy code"))
CARRIER: ContributionKind[Carrier] = ContributionKind(
    name="carrier", hook=hookspecs.omskit_register_carriers, key=_code_of,
    not_found=UnknownCarrier, protocol=Carrier, check=_code("carrier code"))
GEOCODER: ContributionKind[Geocoder] = ContributionKind(
    name="geocoder", hook=hookspecs.omskit_register_geocoders, key=_code_of,
    not_found=UnknownGeocoder, protocol=Geocoder, check=_code("geocoder code"))
SHIPPING_CARRIER: ContributionKind[ShippingCarrier] = ContributionKind(
    name="shipping carrier", hook=hookspecs.omskit_register_shipping_carriers, key=_code_of,
    not_found=UnknownShippingCarrier, check=_shipping_carrier)
EVENT_TYPE: ContributionKind[type[Event]] = ContributionKind(
    name="event type", hook=hookspecs.omskit_register_event_types,
    key=lambda e: str(getattr(e, "event_type", "")), not_found=UnknownEventType,
    check=_event_type)



def _payment_provider(item: Any) -> list[str]:
    problems = _code("payment provider code")(item)
    declared = getattr(item, "capabilities", None)
    if not isinstance(declared, frozenset) or not all(
            isinstance(c, PaymentCapability) for c in declared):
        problems.append(f"capabilities must be a frozenset of PaymentCapability, not "
                        f"{declared!r}")
    return problems


PAYMENT_PROVIDER: ContributionKind[PaymentProvider] = ContributionKind(
    name="payment provider", hook=hookspecs.omskit_register_payment_providers, key=_code_of,
    not_found=UnknownPaymentProvider, protocol=PaymentProvider, check=_payment_provider)

RETURNS_POLICY: ContributionKind[ReturnsPolicy] = ContributionKind(
    name="returns policy", hook=hookspecs.omskit_register_returns_policies, key=_code_of,
    not_found=UnknownReturnsPolicy, protocol=ReturnsPolicy, check=_code("returns policy code"))
EVENT_RELAY: ContributionKind[EventRelay] = ContributionKind(
    name="event relay", hook=hookspecs.omskit_register_event_relays, key=_code_of,
    not_found=UnknownRelay, protocol=EventRelay, check=_code("event relay code"))


def _supplier(item: Any) -> list[str]:
    """A supplier connector's code is its supplier location's code."""
    problems: list[str] = []
    check_location_code(getattr(item, "code", None), "supplier code", problems)
    return problems


SUPPLIER: ContributionKind[SupplierConnector] = ContributionKind(
    name="supplier", hook=hookspecs.omskit_register_suppliers, key=_code_of,
    not_found=UnknownSupplier, protocol=SupplierConnector, check=_supplier)


def _notifier(item: Any) -> list[str]:
    problems = _code("notifier code")(item)
    media = getattr(item, "media", None)
    if not isinstance(media, str) or not media or media != media.strip():
        problems.append(f"media must be a non-empty string such as 'email', not {media!r}")
    return problems


NOTIFIER: ContributionKind[Notifier] = ContributionKind(
    name="notifier", hook=hookspecs.omskit_register_notifiers, key=_code_of,
    not_found=UnknownNotifier, protocol=Notifier, check=_notifier)

#: Every contribution kind, in the order bootstrap collects them.
KINDS: tuple[ContributionKind[Any], ...] = (CHANNEL, ROUTING_STRATEGY, CARRIER,
                                            SHIPPING_CARRIER, GEOCODER, EVENT_TYPE,
                                            PAYMENT_PROVIDER, RETURNS_POLICY, EVENT_RELAY,
                                            SUPPLIER, NOTIFIER)
