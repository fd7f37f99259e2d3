"""``settings["carrier_karrio"]``: the karrio connections, one omskit shipping carrier each.

Parsed once per settings mapping (cached by its identity, as omskit passes the same mapping to
every call) into :class:`KarrioSettings`. Each connection is checked against its karrio
extension: the extension must be installed, the credentials must be exactly the fields of the
extension's connection settings, and karrio must build a gateway from them (no network is
used for that). :func:`validate` lists every problem for ``omskit_validate_settings``.
Registration takes the connections that parse and leaves the rest to the validator.
"""

from __future__ import annotations

import re
import threading
import zoneinfo
from collections.abc import Mapping
from typing import Any

import attrs
from omskit import CODE_PATTERN, MAX_ID_LENGTH, CarrierCapability

#: The key of ``bootstrap(settings=...)`` this plugin reads.
SETTINGS_KEY = "carrier_karrio"
#: Label formats omskit asks karrio for (karrio's ``LabelType``; PNG is not offered by every
#: extension).
LABEL_TYPES = ("PDF", "ZPL")
#: Contact fields of the sender, added to the location's address on labels and pickups.
SHIPPER_FIELDS = ("company_name", "person_name", "phone_number", "email")
_TIME = re.compile(r"([01]\d|2[0-3]):[0-5]\d")
_FIELDS = frozenset({"code", "carrier", "credentials", "test_mode", "default_service",
                     "label_type", "shipper", "timeout_seconds", "pickup", "timezone"})
_PICKUP_FIELDS = frozenset({"ready_time", "closing_time", "parcel_grams"})


@attrs.frozen(kw_only=True)
class PickupWindow:
    """When the carrier may collect (local times), and the weight declared per parcel whose
    label this process did not buy (DHL asks for the total weight of a collection)."""

    ready_time: str = "09:00"
    closing_time: str = "18:00"
    parcel_grams: int = 1000


@attrs.frozen(kw_only=True)
class Connection:
    """One karrio connection: an account at a carrier, registered as the omskit shipping
    carrier ``code``."""

    code: str
    #: The karrio extension: ``dhl_express``, ``ups``, ``generic``...
    carrier: str
    #: The extension's connection settings (``site_id``/``password`` for DHL Express,
    #: ``client_id``/``client_secret`` for UPS...).
    credentials: Mapping[str, Any] = attrs.field(repr=False)
    #: karrio's sandbox of the carrier (``False`` to go live).
    test_mode: bool = True
    #: The service of a label whose shipment names none.
    default_service: str = ""
    label_type: str = "PDF"
    shipper: Mapping[str, str] = attrs.field(factory=dict)
    #: How long omskit waits for one karrio call (karrio's HTTP requests have no timeout).
    timeout_seconds: float = 30.0
    pickup: PickupWindow = attrs.field(factory=PickupWindow)
    #: The zone of times karrio reports without an offset of their own (``None``: UTC).
    timezone: str | None = None
    #: What omskit may call (:func:`omskit_carrier_karrio.sdk.capabilities`).
    capabilities: frozenset[CarrierCapability] = frozenset()
    #: Whether karrio renders the labels locally (the generic carrier).
    local_labels: bool = False
    #: The karrio gateway (mapper, proxy, settings and its token cache), built once.
    gateway: Any = attrs.field(default=None, eq=False, repr=False)


@attrs.frozen(kw_only=True)
class KarrioSettings:
    """The connections that parsed, in the order given."""

    connections: tuple[Connection, ...] = ()

    def connection(self, code: str) -> Connection | None:
        """The connection registered as ``code``."""
        return next((c for c in self.connections if c.code == code), None)


def _text(raw: Mapping[str, Any], key: str, where: str, problems: list[str],
          default: str = "") -> str:
    value = raw.get(key, default)
    if not isinstance(value, str):
        problems.append(f"{where}.{key}: must be a string, not {value!r}")
        return default
    return value


def _shipper(raw: object, where: str, problems: list[str]) -> dict[str, str]:
    if not isinstance(raw, Mapping):
        problems.append(f"{where}: must be an object with {', '.join(SHIPPER_FIELDS)}")
        return {}
    problems.extend(f"{where}.{k}: unknown field" for k in sorted(set(raw) - set(SHIPPER_FIELDS)))
    problems.extend(f"{where}.{k}: must be a string" for k in SHIPPER_FIELDS
                    if k in raw and not isinstance(raw[k], str))
    return {k: str(raw[k]) for k in SHIPPER_FIELDS if isinstance(raw.get(k), str) and raw[k]}


def _pickup(raw: object, where: str, problems: list[str]) -> PickupWindow:
    if not isinstance(raw, Mapping):
        problems.append(f"{where}: must be an object with {', '.join(sorted(_PICKUP_FIELDS))}")
        return PickupWindow()
    problems.extend(f"{where}.{k}: unknown field" for k in sorted(set(raw) - _PICKUP_FIELDS))
    window = PickupWindow()
    times = {}
    for key in ("ready_time", "closing_time"):
        value = raw.get(key, getattr(window, key))
        if not isinstance(value, str) or not _TIME.fullmatch(value):
            problems.append(f"{where}.{key}: a local time like '09:00', not {value!r}")
            value = getattr(window, key)
        times[key] = value
    if times["ready_time"] >= times["closing_time"]:
        problems.append(f"{where}: ready_time must come before closing_time")
    grams = raw.get("parcel_grams", window.parcel_grams)
    if isinstance(grams, bool) or not isinstance(grams, int) or grams < 1:
        problems.append(f"{where}.parcel_grams: must be a whole number ≥ 1, not {grams!r}")
        grams = window.parcel_grams
    return PickupWindow(ready_time=times["ready_time"], closing_time=times["closing_time"],
                        parcel_grams=grams)


def _credentials(carrier: str, raw: object, where: str, problems: list[str]) -> dict[str, Any]:
    from omskit_carrier_karrio import sdk

    if not isinstance(raw, Mapping):
        problems.append(f"{where}: must be an object (the karrio connection settings of "
                        f"{carrier!r})")
        return {}
    required, optional = sdk.credential_fields(carrier)
    found: list[str] = []
    for key in sorted(raw):
        if key in sdk.MANAGED_FIELDS:
            found.append(f"{where}.{key}: set by omskit (from the connection's code and "
                         "test_mode), leave it out")
        elif key not in required | optional:
            found.append(f"{where}.{key}: not a field of karrio's {carrier!r} connection "
                         f"(fields: {', '.join(sorted(required | optional))})")
    found.extend(f"{where}.{key}: required by karrio's {carrier!r} connection"
                 for key in sorted(required - set(raw)))
    problems.extend(found)
    return dict(raw) if not found else {}


def _connection(raw: object, where: str, seen: set[str],
                problems: list[str]) -> Connection | None:
    """One connection, or None with its problems appended."""
    from omskit_carrier_karrio import sdk

    mine: list[str] = []
    if not isinstance(raw, Mapping):
        problems.append(f"{where}: must be an object")
        return None
    mine.extend(f"{where}.{k}: unknown field" for k in sorted(set(raw) - _FIELDS))
    code = raw.get("code")
    if not isinstance(code, str) or not CODE_PATTERN.match(code) or len(code) > MAX_ID_LENGTH:
        mine.append(f"{where}.code: {code!r} is not a carrier code like 'karrio-dhl'")
    if isinstance(code, str) and code in seen:
        mine.append(f"{where}.code: {code!r} is already the code of another connection")
    carrier = raw.get("carrier")
    installed = sdk.extensions()
    if not isinstance(carrier, str) or carrier not in installed:
        mine.append(f"{where}.carrier: {carrier!r} is not an installed karrio extension "
                    f"(installed: {', '.join(installed) or 'none'}; pip install "
                    f"karrio.<name>)")
        problems.extend(mine)
        return None
    test_mode = raw.get("test_mode", True)
    if not isinstance(test_mode, bool):
        mine.append(f"{where}.test_mode: must be true or false, not {test_mode!r}")
        test_mode = True
    credentials = _credentials(carrier, raw.get("credentials"), f"{where}.credentials", mine)
    label_type = _text(raw, "label_type", where, mine, "PDF")
    if label_type not in LABEL_TYPES:
        mine.append(f"{where}.label_type: one of {', '.join(LABEL_TYPES)}, not {label_type!r}")
    timeout = raw.get("timeout_seconds", 30)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or \
            not 0 < timeout <= 600:
        mine.append(f"{where}.timeout_seconds: a number of seconds in (0, 600], not "
                    f"{timeout!r}")
        timeout = 30
    zone = raw.get("timezone")
    if zone is not None:
        try:
            zoneinfo.ZoneInfo(str(zone))
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            mine.append(f"{where}.timezone: {zone!r} is not an IANA time zone like "
                        "'Europe/Rome'")
    shipper = _shipper(raw.get("shipper", {}), f"{where}.shipper", mine)
    pickup = _pickup(raw.get("pickup", {}), f"{where}.pickup", mine)
    default_service = _text(raw, "default_service", where, mine)
    local = sdk.makes_labels_locally(carrier)
    gateway = None
    if not mine:
        try:
            gateway = sdk.gateway(carrier, str(code), credentials, test_mode)
        except Exception as exc:  # karrio says why it cannot set the connection up
            mine.append(f"{where}.credentials: karrio refused them: {sdk.setup_problem(exc)}")
    if gateway is not None:
        offered = (frozenset(s.service_code for s in gateway.settings.shipping_services)
                   if local else sdk.services(carrier))
        if default_service and offered is not None and default_service not in offered:
            mine.append(f"{where}.default_service: {default_service!r} is not a service of "
                        f"{carrier!r} ({', '.join(sorted(offered))})")
        template = getattr(gateway.settings, "label_template", None)
        if local and template is not None and \
                getattr(template, "template_type", "SVG") != "SVG":
            # karrio's renderer reads a template's `type`, which its LabelTemplate does not
            # have: every template is parsed as SVG.
            mine.append(f"{where}.credentials.label_template.template_type: karrio renders "
                        "SVG templates only")
    problems.extend(mine)
    if mine:
        return None
    assert isinstance(code, str)
    seen.add(code)
    return Connection(
        code=code, carrier=carrier, credentials=credentials, test_mode=test_mode,
        default_service=default_service, label_type=label_type, shipper=shipper,
        timeout_seconds=float(timeout), pickup=pickup,
        timezone=str(zone) if zone is not None else None,
        capabilities=sdk.capabilities(carrier), local_labels=local, gateway=gateway)


def parse(raw: object) -> tuple[KarrioSettings, list[str]]:
    """The connections that parsed, and every problem found (with its path)."""
    problems: list[str] = []
    if not isinstance(raw, Mapping):
        return KarrioSettings(), [f"{SETTINGS_KEY}: must be an object with 'connections'"]
    problems.extend(f"{SETTINGS_KEY}.{k}: unknown field"
                    for k in sorted(set(raw) - {"connections"}))
    listed = raw.get("connections")
    if not isinstance(listed, list) or not listed:
        problems.append(f"{SETTINGS_KEY}.connections: a non-empty list of connections")
        return KarrioSettings(), problems
    seen: set[str] = set()
    found = [_connection(c, f"{SETTINGS_KEY}.connections[{i}]", seen, problems)
             for i, c in enumerate(listed)]
    return KarrioSettings(connections=tuple(c for c in found if c is not None)), problems


def validate(settings: Mapping[str, Any]) -> list[str]:
    """Problems of ``settings["carrier_karrio"]`` (none when the key is absent)."""
    if SETTINGS_KEY not in settings:
        return []
    return parse(settings[SETTINGS_KEY])[1]


_cache: dict[int, tuple[Mapping[str, Any], KarrioSettings]] = {}
_cache_lock = threading.Lock()


def settings_of(settings: Mapping[str, Any]) -> KarrioSettings:
    """The parsed settings (no connection when the key is absent), cached by the mapping's
    identity (the mapping is kept alive with its parse, so an id is never reused for
    another). The gateways built while parsing live as long as the entry: a UPS token is
    fetched once, not per call."""
    with _cache_lock:
        found = _cache.get(id(settings))
        if found is not None and found[0] is settings:
            return found[1]
    parsed = parse(settings[SETTINGS_KEY])[0] if SETTINGS_KEY in settings else KarrioSettings()
    with _cache_lock:
        if len(_cache) > 64:
            _cache.clear()
        _cache[id(settings)] = (settings, parsed)
    return parsed


__all__ = ["LABEL_TYPES", "SETTINGS_KEY", "SHIPPER_FIELDS", "Connection", "KarrioSettings",
           "PickupWindow", "parse", "settings_of", "validate"]
