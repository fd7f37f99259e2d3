"""The simulator's input files: ``network.json`` and ``orders.jsonl`` (``docs/formats.md``).

Both are read with explicit checks, so a mistake is reported as one :class:`InputError`
naming the file, the line (always for ``orders.jsonl``; for ``network.json`` when the JSON
itself is malformed) and the field, e.g. ``orders.jsonl, line 3, lines[0].quantity: must be
a whole number ≥ 1, got -2``. Unknown fields are errors too: a typo must not silently change
a simulation.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping
from datetime import datetime, time
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, NoReturn

import attrs

from omskit.domain.carriers import RateTableCarrier
from omskit.domain.checks import check_code, check_identifier, check_location_code
from omskit.domain.commands import NewLine, PlaceOrder
from omskit.domain.errors import InvalidCommand
from omskit.domain.inventory import Capability, Location, LocationKind
from omskit.domain.values import Address, Coordinates, Customer, DeliveryMethod, check_currency


class InputError(ValueError):
    """A simulator input file is malformed: which file, line (if known), field, and why."""

    def __init__(self, path: str | Path, message: str, *, line: int | None = None,
                 field: str | None = None) -> None:
        self.path = str(path)
        self.line = line
        self.field = field
        self.message = message
        where = [self.path]
        if line is not None:
            where.append(f"line {line}")
        if field:
            where.append(field)
        super().__init__(", ".join(where) + ": " + message)


@attrs.frozen(kw_only=True)
class CarrierSpec:
    """One carrier of the network: ``base + per_km × km`` per parcel, ``per_unit`` per unit."""

    code: str
    base: float
    per_km: float
    per_unit: float
    transit_days_base: int = 1
    km_per_day: float = 800.0
    countries: frozenset[str] = frozenset()

    def carrier(self) -> RateTableCarrier:
        """The core carrier this row describes."""
        return RateTableCarrier(code=self.code, base=self.base, per_km=self.per_km,
                                per_unit=self.per_unit,
                                transit_days_base=self.transit_days_base,
                                km_per_day=self.km_per_day, countries=self.countries)


@attrs.frozen(kw_only=True)
class LocationSpec:
    """One location of the network with its opening stock and safety stock."""

    code: str
    kind: LocationKind
    name: str
    lat: float
    lon: float
    capabilities: frozenset[Capability]
    handling_cost: Decimal
    daily_capacity: int | None
    stock: Mapping[str, int]
    safety_stock: Mapping[str, int]
    cutoff: time | None = None
    processing_days: int = 0
    timezone: str = "UTC"
    country: str | None = None

    @property
    def coordinates(self) -> Coordinates:
        """Where the location is."""
        return Coordinates(lat=self.lat, lon=self.lon)

    def location(self) -> Location:
        """The core location this row describes."""
        address = (Address(line1=self.name, city=self.name, country=self.country)
                   if self.country else None)
        return Location(code=self.code, name=self.name, kind=self.kind,
                        coordinates=self.coordinates, address=address,
                        capabilities=self.capabilities, daily_capacity=self.daily_capacity,
                        handling_cost=self.handling_cost, cutoff=self.cutoff,
                        processing_days=self.processing_days, timezone=self.timezone)


@attrs.frozen(kw_only=True)
class Network:
    """``network.json``: currency, backorder penalty, carriers and locations."""

    currency: str
    backorder_penalty: float
    carriers: tuple[CarrierSpec, ...]
    locations: tuple[LocationSpec, ...]

    def location(self, code: str) -> LocationSpec:
        """The location with this code (``KeyError`` if none)."""
        for spec in self.locations:
            if spec.code == code:
                return spec
        raise KeyError(code)

    def skus(self) -> set[str]:
        """Every SKU some location stocks (or keeps safety stock of)."""
        return {sku for loc in self.locations for sku in (*loc.stock, *loc.safety_stock)}


@attrs.frozen(kw_only=True)
class OrderSpec:
    """One line of ``orders.jsonl``, with the core command that places it."""

    line: int
    external_id: str
    placed_at: datetime
    destination: Coordinates
    command: PlaceOrder

    @property
    def units(self) -> int:
        """Units ordered."""
        return sum(line.quantity for line in self.command.lines)


# -- field readers ------------------------------------------------------------------------------


@attrs.frozen
class _Where:
    """Where a value sits: the file, the line (if known) and the field path."""

    path: str
    line: int | None
    field: str = ""

    def at(self, key: str | int) -> _Where:
        """The location of a key or list index inside this value."""
        if isinstance(key, int):
            return _Where(self.path, self.line, f"{self.field}[{key}]")
        return _Where(self.path, self.line, f"{self.field}.{key}" if self.field else key)

    def fail(self, message: str) -> NoReturn:
        """Raise :class:`InputError` for this place."""
        raise InputError(self.path, message, line=self.line, field=self.field or None)


def _object(value: Any, where: _Where, required: tuple[str, ...],
            optional: tuple[str, ...] = ()) -> dict[str, Any]:
    if not isinstance(value, dict):
        where.fail(f"must be a JSON object, got {_show(value)}")
    for key in required:
        if key not in value:
            where.at(key).fail("missing field")
    for key in value:
        if key not in required and key not in optional:
            where.at(key).fail("unknown field")
    return value


def _show(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False) if _jsonable(value) else repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _jsonable(value: Any) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


def _string(value: Any, where: _Where) -> str:
    if not isinstance(value, str) or not value.strip():
        where.fail(f"must be a non-empty string, got {_show(value)}")
    return value


def _code(value: Any, where: _Where) -> str:
    problems: list[str] = []
    check_code(value, "", problems)
    if problems:
        where.fail(f"must be a lower-case code like 'dc-milano', got {_show(value)}")
    return str(value)


def _location_code(value: Any, where: _Where) -> str:
    problems: list[str] = []
    check_location_code(value, "", problems)
    if problems:
        where.fail(f"must be a location code like 'DC01' or 'dc-milano', got {_show(value)}")
    return str(value)


def _identifier(value: Any, where: _Where) -> str:
    problems: list[str] = []
    check_identifier(value, "", problems)
    if problems:
        where.fail(f"must be an identifier (non-empty, printable, at most 128 characters), "
                   f"got {_show(value)}")
    return str(value)


def _number(value: Any, where: _Where, *, positive: bool = False) -> float:
    ok = (isinstance(value, int | float) and not isinstance(value, bool)
          and math.isfinite(value) and (value > 0 if positive else value >= 0))
    if not ok:
        where.fail(f"must be a number {'> 0' if positive else '≥ 0'}, got {_show(value)}")
    return float(value)


def _whole(value: Any, where: _Where, *, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        where.fail(f"must be a whole number ≥ {minimum}, got {_show(value)}")
    return value


def _latlon(value: Any, where: _Where, limit: float) -> float:
    number = value if isinstance(value, int | float) and not isinstance(value, bool) else None
    if number is None or not math.isfinite(number) or not -limit <= number <= limit:
        where.fail(f"must be a number from {-limit:g} to {limit:g}, got {_show(value)}")
    return float(number)


def _units_by_sku(value: Any, where: _Where) -> dict[str, int]:
    if not isinstance(value, dict):
        where.fail(f"must be a JSON object mapping SKUs to units, got {_show(value)}")
    result: dict[str, int] = {}
    for sku, units in value.items():
        _identifier(sku, where.at(sku))
        result[sku] = _whole(units, where.at(sku))
    return result


# -- network.json -------------------------------------------------------------------------------


def _read_json(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(path, f"cannot read: {exc.strerror or exc}") from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(path, f"invalid JSON: {exc.msg} (column {exc.colno})",
                         line=exc.lineno) from exc


def _carrier(value: Any, where: _Where) -> CarrierSpec:
    data = _object(value, where, ("code", "base", "per_km", "per_unit"),
                   ("transit_days_base", "km_per_day", "countries"))
    countries = data.get("countries", [])
    if not isinstance(countries, list) or not all(
            isinstance(c, str) and len(c) == 2 and c.isupper() for c in countries):
        where.at("countries").fail(
            f"must be a list of ISO country codes like \"IT\", got {_show(countries)}")
    return CarrierSpec(
        code=_code(data["code"], where.at("code")),
        base=_number(data["base"], where.at("base")),
        per_km=_number(data["per_km"], where.at("per_km")),
        per_unit=_number(data["per_unit"], where.at("per_unit")),
        transit_days_base=_whole(data.get("transit_days_base", 1),
                                 where.at("transit_days_base")),
        km_per_day=_number(data.get("km_per_day", 800.0), where.at("km_per_day"),
                           positive=True),
        countries=frozenset(countries))


def _location(value: Any, where: _Where) -> LocationSpec:
    data = _object(value, where,
                   ("code", "kind", "name", "lat", "lon", "capabilities", "handling_cost",
                    "daily_capacity", "stock"),
                   ("safety_stock", "cutoff", "processing_days", "timezone", "country"))
    kinds = [k.value for k in LocationKind]
    if data["kind"] not in kinds:
        where.at("kind").fail(f"must be one of {', '.join(kinds)}; got {_show(data['kind'])}")
    capabilities = data["capabilities"]
    names = [c.value for c in Capability]
    if not isinstance(capabilities, list):
        where.at("capabilities").fail(f"must be a list, got {_show(capabilities)}")
    for i, capability in enumerate(capabilities):
        if capability not in names:
            where.at("capabilities").at(i).fail(
                f"must be one of {', '.join(names)}; got {_show(capability)}")
    capacity = data["daily_capacity"]
    cutoff: time | None = None
    if data.get("cutoff") is not None:
        raw = data["cutoff"]
        try:
            cutoff = time.fromisoformat(raw) if isinstance(raw, str) and len(raw) == 5 else None
        except ValueError:
            cutoff = None
        if cutoff is None:
            where.at("cutoff").fail(f"must be a local time \"HH:MM\", got {_show(raw)}")
    country = data.get("country")
    if country is not None and not (isinstance(country, str) and len(country) == 2
                                    and country.isupper()):
        where.at("country").fail(f"must be an ISO country code like \"IT\", got {_show(country)}")
    return LocationSpec(
        code=_location_code(data["code"], where.at("code")),
        kind=LocationKind(data["kind"]),
        name=_string(data["name"], where.at("name")),
        lat=_latlon(data["lat"], where.at("lat"), 90),
        lon=_latlon(data["lon"], where.at("lon"), 180),
        capabilities=frozenset(Capability(c) for c in capabilities),
        handling_cost=Decimal(str(_number(data["handling_cost"], where.at("handling_cost")))),
        daily_capacity=(None if capacity is None
                        else _whole(capacity, where.at("daily_capacity"))),
        stock=_units_by_sku(data["stock"], where.at("stock")),
        safety_stock=_units_by_sku(data.get("safety_stock", {}), where.at("safety_stock")),
        cutoff=cutoff,
        processing_days=_whole(data.get("processing_days", 0), where.at("processing_days")),
        timezone=_string(data.get("timezone", "UTC"), where.at("timezone")),
        country=country)


def load_network(path: str | Path) -> Network:
    """Read and check ``network.json`` (see ``docs/formats.md``)."""
    path = Path(path)
    root = _Where(str(path), None)
    data = _object(_read_json(path), root,
                   ("currency", "backorder_penalty", "carriers", "locations"))
    try:
        currency = check_currency(data["currency"])
    except InvalidCommand:
        root.at("currency").fail(
            f"must be an ISO 4217 code such as \"EUR\", got {_show(data['currency'])}")
    penalty = _number(data["backorder_penalty"], root.at("backorder_penalty"))
    for key in ("carriers", "locations"):
        if not isinstance(data[key], list) or not data[key]:
            root.at(key).fail(f"must be a non-empty list, got {_show(data[key])}")
    carriers = tuple(_carrier(c, root.at("carriers").at(i))
                     for i, c in enumerate(data["carriers"]))
    locations = tuple(_location(loc, root.at("locations").at(i))
                      for i, loc in enumerate(data["locations"]))
    for key, codes in (("carriers", [c.code for c in carriers]),
                       ("locations", [loc.code for loc in locations])):
        for i, code in enumerate(codes):
            if code in codes[:i]:
                root.at(key).at(i).at("code").fail(f"{code!r} is used twice")
    return Network(currency=currency, backorder_penalty=penalty, carriers=carriers,
                   locations=locations)


# -- orders.jsonl -------------------------------------------------------------------------------


def _placed_at(value: Any, where: _Where) -> datetime:
    parsed: datetime | None = None
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            parsed = None
    if parsed is None:
        where.fail(f"must be an ISO 8601 date-time, got {_show(value)}")
    if parsed.tzinfo is None:
        where.fail(f"must carry a UTC offset (e.g. \"2025-03-03T09:15:00Z\"), got {_show(value)}")
    return parsed


def _price(value: Any, where: _Where) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        where.fail(f"must be a number ≥ 0, got {_show(value)}")
    try:
        price = Decimal(str(value))
    except InvalidOperation:
        where.fail(f"must be a number ≥ 0, got {_show(value)}")
    if not price.is_finite() or price < 0:
        where.fail(f"must be a number ≥ 0, got {_show(value)}")
    return price


def _order(data: Any, where: _Where, currency: str) -> OrderSpec:
    data = _object(data, where,
                   ("external_id", "channel", "placed_at", "customer", "ship_to", "lines"),
                   ("delivery",))
    external_id = _identifier(data["external_id"], where.at("external_id"))
    channel = _code(data["channel"], where.at("channel"))
    placed_at = _placed_at(data["placed_at"], where.at("placed_at"))
    customer = _object(data["customer"], where.at("customer"), ("id",), ("segment",))
    customer_id = _identifier(customer["id"], where.at("customer").at("id"))
    segment = customer.get("segment")
    if segment is not None:
        segment = _code(segment, where.at("customer").at("segment"))
    ship_to = _object(data["ship_to"], where.at("ship_to"), ("city", "country", "lat", "lon"))
    city = _string(ship_to["city"], where.at("ship_to").at("city"))
    country = ship_to["country"]
    if not (isinstance(country, str) and len(country) == 2 and country.isupper()):
        where.at("ship_to").at("country").fail(
            f"must be an ISO country code like \"IT\", got {_show(country)}")
    destination = Coordinates(lat=_latlon(ship_to["lat"], where.at("ship_to").at("lat"), 90),
                              lon=_latlon(ship_to["lon"], where.at("ship_to").at("lon"), 180))
    delivery = data.get("delivery", "ship")
    if delivery != "ship":
        where.at("delivery").fail(f"only \"ship\" is simulated, got {_show(delivery)}")
    raw_lines = data["lines"]
    if not isinstance(raw_lines, list) or not raw_lines:
        where.at("lines").fail(f"must be a non-empty list, got {_show(raw_lines)}")
    lines: list[NewLine] = []
    for i, raw in enumerate(raw_lines):
        at = where.at("lines").at(i)
        line = _object(raw, at, ("sku", "quantity", "unit_price"))
        lines.append(NewLine(sku=_identifier(line["sku"], at.at("sku")),
                             quantity=_whole(line["quantity"], at.at("quantity"), minimum=1),
                             unit_price=_price(line["unit_price"], at.at("unit_price"))))
    try:
        command = PlaceOrder(
            channel=channel, external_id=external_id, currency=currency,
            customer=Customer(id=customer_id, segment=segment), lines=lines,
            delivery=DeliveryMethod(),
            shipping_address=Address(line1=city, city=city, country=country,
                                     coordinates=destination),
            placed_at=placed_at)
    except InvalidCommand as exc:
        field, _, message = exc.problems[0].partition(": ")
        _Where(where.path, where.line, field).fail(message or exc.problems[0])
    return OrderSpec(line=where.line or 0, external_id=external_id, placed_at=placed_at,
                     destination=destination, command=command)


def iter_orders(path: str | Path, *, currency: str) -> Iterator[OrderSpec]:
    """Read ``orders.jsonl`` lazily, checking each line; blank lines are skipped.

    ``currency`` is the network's: orders are placed in it. Raises :class:`InputError` at
    the first bad line, or when an ``(channel, external_id)`` pair repeats.
    """
    path = Path(path)
    seen: dict[tuple[str, str], int] = {}
    try:
        handle = path.open(encoding="utf-8")
    except OSError as exc:
        raise InputError(path, f"cannot read: {exc.strerror or exc}") from exc
    with handle:
        for number, text in enumerate(handle, start=1):
            if not text.strip():
                continue
            where = _Where(str(path), number)
            try:
                data = json.loads(text)
            except json.JSONDecodeError as exc:
                raise InputError(path, f"invalid JSON: {exc.msg} (column {exc.colno})",
                                 line=number) from exc
            order = _order(data, where, currency)
            key = (order.command.channel, order.external_id)
            if key in seen:
                where.at("external_id").fail(
                    f"{order.external_id!r} on channel {key[0]!r} repeats line {seen[key]}")
            seen[key] = number
            yield order


def load_orders(path: str | Path, *, currency: str) -> list[OrderSpec]:
    """Every order of ``orders.jsonl``, in stream order (see :func:`iter_orders`)."""
    return list(iter_orders(path, currency=currency))
