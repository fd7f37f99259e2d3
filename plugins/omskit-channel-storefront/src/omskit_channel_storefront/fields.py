"""The payload's scalar field types, each with the one strict check that admits it.

Every field of the payload is typed with one of the ``NewType`` s below, and
:data:`FIELD_CHECKS` maps each type to the function that structures it. The checks are strict
on purpose: cattrs would happily turn ``"2"`` into ``2`` or ``42`` into ``"42"``, but a shop
that sends a quantity as a string has a bug worth telling it about, not one to paper over.

Each check raises :class:`~omskit_channel_storefront.problems.InvalidField` with a message
that names what was expected and shows what came; the path is added by the caller.

Limits follow omskit's own (``omskit.domain.commands``) so that ``PlaceOrder`` refuses
nothing accepted here, with one exception: omskit's size limit on the whole metadata
document, which only the finished command can measure. The few extra limits (names, notes,
e-mail, phone) keep the derived values inside omskit's limits too.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any, NewType

from omskit import (
    CODE_PATTERN,
    EARLIEST_MOMENT,
    LATEST_MOMENT,
    LOCATION_CODE_PATTERN,
    MAX_ID_LENGTH,
    MAX_LINE_QUANTITY,
    MAX_TEXT_LENGTH,
    MAX_UNIT_PRICE,
    InvalidCommand,
    check_currency,
)

from omskit_channel_storefront.problems import InvalidField, show

#: Longest first or last name; both joined with a space stay under omskit's text limit.
MAX_NAME_LENGTH = 200
#: Longest customer note (kept in the order's metadata).
MAX_NOTE_LENGTH = 2000
#: Longest e-mail address (RFC 5321's limit on a forward path).
MAX_EMAIL_LENGTH = 254
#: Longest phone number, formatting included.
MAX_PHONE_LENGTH = 32
#: Longest decimal string accepted for an amount (stops absurd inputs before parsing them).
MAX_AMOUNT_LENGTH = 32
#: Longest ``created_at`` string.
MAX_TIMESTAMP_LENGTH = 64

#: Sales sources this connector accepts; each becomes the order's omskit channel.
SOURCES = ("web", "mobile")

Identifier = NewType("Identifier", str)
"""An id chosen by the shop (order id, customer id, SKU, line id, tag): non-empty, at most
``MAX_ID_LENGTH`` characters, no control characters, no leading or trailing spaces."""
Code = NewType("Code", str)
"""A lower-case code such as ``gold`` or ``store-milan-duomo``: ``[a-z0-9][a-z0-9_.:-]*``."""
LocationCode = NewType("LocationCode", str)
"""A location code as retailers write them (``WA-0000``, ``DC01``, ``store-milan-duomo``):
omskit's own rule, ``[A-Za-z0-9][A-Za-z0-9_.:-]*``, case kept."""
Text = NewType("Text", str)
"""One line of free text (address parts), at most ``MAX_TEXT_LENGTH`` characters."""
RequiredText = NewType("RequiredText", str)
"""Like :data:`Text`, and not blank (address ``line1`` and ``city``)."""
Name = NewType("Name", str)
"""A first or last name: one line, at most ``MAX_NAME_LENGTH`` characters."""
Note = NewType("Note", str)
"""Free text that may span lines (the customer's note), at most ``MAX_NOTE_LENGTH``."""
Email = NewType("Email", str)
"""An e-mail address shaped ``local@domain.tld``."""
Phone = NewType("Phone", str)
"""A phone number: digits, spaces and ``+ ( ) . - /``, or empty."""
Country = NewType("Country", str)
"""An ISO 3166-1 alpha-2 country code in capitals (``IT``)."""
Currency = NewType("Currency", str)
"""An ISO 4217 currency code in capitals (``EUR``), one that omskit prices orders in (the
codes with minor units: not ``XXX`` or ``XAU``)."""
Source = NewType("Source", str)
"""Where the order was placed: one of :data:`SOURCES`."""
Quantity = NewType("Quantity", int)
"""A whole number of units, ``1 .. MAX_LINE_QUANTITY``."""
NewQuantity = NewType("NewQuantity", int)
"""A line's new quantity in an edit, ``0 .. MAX_LINE_QUANTITY`` (0 removes the line)."""
Version = NewType("Version", int)
"""An order version the app saw, a whole number from 0."""
Amount = NewType("Amount", Decimal)
"""Money: a decimal string (``"19.90"``) or an integer, ``0 .. MAX_UNIT_PRICE``; never a float."""
PromisedDate = NewType("PromisedDate", date)
"""A delivery date quoted at checkout (``oms.promise``), ``YYYY-MM-DD``."""
Latitude = NewType("Latitude", float)
"""Degrees north, ``-90 .. 90``, as a JSON number."""
Longitude = NewType("Longitude", float)
"""Degrees east, ``-180 .. 180``, as a JSON number."""

_CODE = CODE_PATTERN  # the core's own rule, so the two can never drift apart
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")
_PHONE = re.compile(r"\+?[0-9 ().\-/]+")
_COUNTRY = re.compile(r"[A-Z]{2}")
# Plain decimal notation only: exponents, "NaN", "Infinity" and signs other than a leading
# minus are legal for Decimal() but never what a shop meant to send as a price.
_AMOUNT = re.compile(r"-?[0-9]+(\.[0-9]+)?")


def _has_control(text: str, *, allow: str = "") -> bool:
    return any((ord(c) < 32 or 0x7F <= ord(c) < 0xA0) and c not in allow for c in text)


def _string(value: Any) -> str:
    if not isinstance(value, str):
        raise InvalidField(f"must be a string, not {show(value)}")
    return value


def _bounded(value: Any, limit: int, *, allow: str = "") -> str:
    text = _string(value)
    if len(text) > limit:
        raise InvalidField(f"longer than {limit} characters")
    if _has_control(text, allow=allow):
        raise InvalidField("must not contain control characters")
    return text


def structure_identifier(value: Any, _type: object = None) -> Identifier:
    """Admit an :data:`Identifier`."""
    text = _string(value)
    if not text.strip():
        raise InvalidField("must not be empty")
    if len(text) > MAX_ID_LENGTH:
        raise InvalidField(f"longer than {MAX_ID_LENGTH} characters")
    if _has_control(text) or text != text.strip():
        raise InvalidField("must not contain control characters or leading/trailing spaces")
    return Identifier(text)


def structure_code(value: Any, _type: object = None) -> Code:
    """Admit a :data:`Code`."""
    text = _string(value)
    if len(text) > MAX_ID_LENGTH or not _CODE.fullmatch(text):
        raise InvalidField(f"{show(value)} is not a code like 'gold' or 'store-milan' "
                           "(lower-case letters, digits, '_', '.', ':' and '-')")
    return Code(text)


def structure_location_code(value: Any, _type: object = None) -> LocationCode:
    """Admit a :data:`LocationCode`."""
    text = _string(value)
    if len(text) > MAX_ID_LENGTH or not LOCATION_CODE_PATTERN.fullmatch(text):
        raise InvalidField(f"{show(value)} is not a location code like 'DC01' or "
                           "'store-milan' (letters, digits, '_', '.', ':' and '-')")
    return LocationCode(text)


def structure_text(value: Any, _type: object = None) -> Text:
    """Admit a :data:`Text`."""
    return Text(_bounded(value, MAX_TEXT_LENGTH))


def structure_required_text(value: Any, _type: object = None) -> RequiredText:
    """Admit a :data:`RequiredText`."""
    text = _bounded(value, MAX_TEXT_LENGTH)
    if not text.strip():
        raise InvalidField("must not be empty")
    return RequiredText(text)


def structure_name(value: Any, _type: object = None) -> Name:
    """Admit a :data:`Name`."""
    return Name(_bounded(value, MAX_NAME_LENGTH))


def structure_note(value: Any, _type: object = None) -> Note:
    """Admit a :data:`Note`; line breaks and tabs are fine in a note typed in a text box."""
    return Note(_bounded(value, MAX_NOTE_LENGTH, allow="\n\r\t"))


def structure_email(value: Any, _type: object = None) -> Email:
    """Admit an :data:`Email`."""
    text = _bounded(value, MAX_EMAIL_LENGTH)
    if not text:
        raise InvalidField("must not be empty")
    if not _EMAIL.fullmatch(text):
        raise InvalidField(f"{show(value)} is not an e-mail address like 'anna@example.com'")
    return Email(text)


def structure_phone(value: Any, _type: object = None) -> Phone:
    """Admit a :data:`Phone`; an empty string means the shop has no number."""
    text = _bounded(value, MAX_PHONE_LENGTH)
    if text and (not _PHONE.fullmatch(text) or sum(c.isdigit() for c in text) < 3):
        raise InvalidField(f"{show(value)} is not a phone number "
                           "(digits, spaces and '+', '(', ')', '.', '-', '/')")
    return Phone(text)


def structure_country(value: Any, _type: object = None) -> Country:
    """Admit a :data:`Country`."""
    text = _string(value)
    if not _COUNTRY.fullmatch(text):
        raise InvalidField(f"{show(value)} is not an ISO 3166-1 alpha-2 country code "
                           "like 'IT'")
    return Country(text)


def structure_currency(value: Any, _type: object = None) -> Currency:
    """Admit a :data:`Currency`."""
    text = _string(value)
    try:
        # omskit's own list (ISO 4217), so the two can never disagree.
        check_currency(text)
    except InvalidCommand:
        raise InvalidField(f"{show(value)} is not an ISO 4217 currency code like 'EUR'"
                           ) from None
    return Currency(text)


def structure_source(value: Any, _type: object = None) -> Source:
    """Admit a :data:`Source`."""
    if not isinstance(value, str) or value not in SOURCES:
        raise InvalidField(f"{show(value)} is not one of "
                           + ", ".join(repr(s) for s in SOURCES))
    return Source(value)


def structure_quantity(value: Any, _type: object = None) -> Quantity:
    """Admit a :data:`Quantity`."""
    # bool is an int subclass, but `true` is never a quantity.
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidField(f"must be a whole number, not {show(value)}")
    if value < 1:
        raise InvalidField(f"must be at least 1, not {value}")
    if value > MAX_LINE_QUANTITY:
        raise InvalidField(f"must be at most {MAX_LINE_QUANTITY}, not {value}")
    return Quantity(value)


def structure_new_quantity(value: Any, _type: object = None) -> NewQuantity:
    """Admit a :data:`NewQuantity`."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidField(f"must be a whole number, not {show(value)}")
    if value < 0:
        raise InvalidField(f"must be at least 0, not {value}")
    if value > MAX_LINE_QUANTITY:
        raise InvalidField(f"must be at most {MAX_LINE_QUANTITY}, not {value}")
    return NewQuantity(value)


def structure_version(value: Any, _type: object = None) -> Version:
    """Admit a :data:`Version`."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidField(f"must be a whole number from 0, not {show(value)}")
    return Version(value)


def structure_amount(value: Any, _type: object = None) -> Amount:
    """Admit an :data:`Amount`."""
    if isinstance(value, float):
        raise InvalidField(f"must be a decimal string such as '19.90' or a whole number, "
                           f"not the float {value!r} (floats cannot hold prices exactly)")
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise InvalidField("must be a decimal string such as '19.90' or a whole number, "
                           f"not {show(value)}")
    if isinstance(value, str) and (len(value) > MAX_AMOUNT_LENGTH
                                   or not _AMOUNT.fullmatch(value)):
        raise InvalidField(f"{show(value)} is not a decimal number like '19.90'")
    amount = Decimal(value)
    if amount < 0:
        raise InvalidField(f"must not be negative, not {show(value)}")
    if amount > MAX_UNIT_PRICE:
        raise InvalidField(f"must be at most {MAX_UNIT_PRICE}, not {show(value)}")
    return Amount(amount)


def _degrees(value: Any, limit: int) -> float:
    if (isinstance(value, bool) or not isinstance(value, int | float)
            or not math.isfinite(value) or not -limit <= value <= limit):
        raise InvalidField(f"must be a number between -{limit} and {limit}, not {show(value)}")
    return float(value)


def structure_latitude(value: Any, _type: object = None) -> Latitude:
    """Admit a :data:`Latitude`."""
    return Latitude(_degrees(value, 90))


def structure_longitude(value: Any, _type: object = None) -> Longitude:
    """Admit a :data:`Longitude`."""
    return Longitude(_degrees(value, 180))


def structure_timestamp(value: Any, _type: object = None) -> datetime:
    """Admit an ISO 8601 date-time with a timezone (``2026-11-25T10:15:00+01:00`` or ``...Z``).

    A time without a zone is refused rather than guessed: the shop's servers, the
    warehouse and omskit may all sit in different zones.
    """
    example = "'2026-11-25T10:15:00+01:00'"
    text = _string(value)
    try:
        # A bare date parses too (as a naive midnight); refuse it as what it is.
        if len(text) > MAX_TIMESTAMP_LENGTH or len(text) < 16 or text[10] not in "Tt ":
            raise ValueError(text)
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidField(f"{show(value)} is not an ISO 8601 date-time like {example}"
                           ) from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InvalidField(f"{show(value)} has no timezone (end it with Z or an offset "
                           "like +01:00)")
    if not EARLIEST_MOMENT <= moment < LATEST_MOMENT:  # omskit's range: 1900 to 3000
        raise InvalidField(f"{show(value)} is outside {EARLIEST_MOMENT:%Y-%m-%d}.."
                           f"{LATEST_MOMENT:%Y-%m-%d} (UTC)")
    return moment


def structure_promised_date(value: Any, _type: object = None) -> PromisedDate:
    """Admit a :data:`PromisedDate`: a calendar date written ``YYYY-MM-DD``."""
    text = _string(value)
    try:
        if len(text) != 10:
            raise ValueError(text)
        day = date.fromisoformat(text)
    except ValueError:
        raise InvalidField(f"{show(value)} is not a date like '2026-11-28'") from None
    if not EARLIEST_MOMENT.date() <= day < LATEST_MOMENT.date():
        raise InvalidField(f"{show(value)} is outside {EARLIEST_MOMENT:%Y-%m-%d}.."
                           f"{LATEST_MOMENT:%Y-%m-%d}")
    return PromisedDate(day)


#: Every field type and the check that structures it (registered on the payload converter).
FIELD_CHECKS: dict[object, Callable[[Any, Any], Any]] = {
    Identifier: structure_identifier,
    Code: structure_code,
    LocationCode: structure_location_code,
    Text: structure_text,
    RequiredText: structure_required_text,
    Name: structure_name,
    Note: structure_note,
    Email: structure_email,
    Phone: structure_phone,
    Country: structure_country,
    Currency: structure_currency,
    Source: structure_source,
    Quantity: structure_quantity,
    NewQuantity: structure_new_quantity,
    Version: structure_version,
    Amount: structure_amount,
    PromisedDate: structure_promised_date,
    Latitude: structure_latitude,
    Longitude: structure_longitude,
    datetime: structure_timestamp,
}
