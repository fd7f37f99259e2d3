"""The connections' settings, checked against karrio's extensions; registration of one carrier
per connection with exactly the capabilities karrio implements (mostly without a database)."""

from __future__ import annotations

import copy
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest
from omskit import CarrierCapability, CarrierRefused, InvalidSettings, Oms

import omskit_carrier_karrio
from connections import DHL, GENERIC, MYDHL, UPS, karrio_settings
from omskit_carrier_karrio import KarrioCarrier, parse, validate

C = CarrierCapability


def test_good_connections_parse_with_their_extensions_capabilities(
        settings: dict[str, Any]) -> None:
    parsed, problems = parse(settings["carrier_karrio"])
    assert problems == []
    found = {c.code: (c.carrier, c.capabilities, c.local_labels) for c in parsed.connections}
    # Exactly what each karrio extension implements (its proxy and mapper methods): DHL
    # Express has no cancellation in karrio, the generic carrier only rates and renders.
    assert found == {
        "karrio-local": ("generic", frozenset({C.RATES, C.LABELS}), True),
        "karrio-dhl": ("dhl_express", frozenset({C.RATES, C.LABELS, C.RETURN_LABELS,
                                                 C.TRACKING, C.PICKUPS}), False),
        "karrio-ups": ("ups", frozenset({C.RATES, C.LABELS, C.VOID, C.RETURN_LABELS,
                                         C.TRACKING, C.PICKUPS}), False),
    }
    # No karrio extension used here offers a webhook omskit could verify.
    assert all(C.WEBHOOKS not in c.capabilities for c in parsed.connections)


def test_dhls_rest_api_has_the_same_capabilities_as_its_xml_api() -> None:
    parsed, problems = parse(karrio_settings(MYDHL)["carrier_karrio"])
    assert problems == []
    (mydhl,) = parsed.connections
    assert mydhl.capabilities == frozenset({C.RATES, C.LABELS, C.RETURN_LABELS, C.TRACKING,
                                            C.PICKUPS})


def with_change(connection: dict[str, Any], **change: Any) -> dict[str, Any]:
    changed = copy.deepcopy(connection)
    for key, value in change.items():
        if value is None:
            changed.pop(key, None)
        else:
            changed[key] = value
    return changed


@pytest.mark.parametrize(("connection", "problem"), [
    (with_change(DHL, carrier="poste_italiane"),
     "carrier_karrio.connections[0].carrier: 'poste_italiane' is not an installed karrio "
     "extension (installed: dhl_express, generic, mydhl, ups; pip install "
     "karrio.<name>)"),
    (with_change(DHL, code="Karrio DHL"),
     "carrier_karrio.connections[0].code: 'Karrio DHL' is not a carrier code like "
     "'karrio-dhl'"),
    (with_change(DHL, credentials={"site_id": "x"}),
     "carrier_karrio.connections[0].credentials.password: required by karrio's "
     "'dhl_express' connection"),
    (with_change(DHL, credentials={**DHL["credentials"], "api_key": "x"}),
     "carrier_karrio.connections[0].credentials.api_key: not a field of karrio's "
     "'dhl_express' connection"),
    (with_change(UPS, credentials={**UPS["credentials"], "test_mode": False}),
     "carrier_karrio.connections[0].credentials.test_mode: set by omskit (from the "
     "connection's code and test_mode), leave it out"),
    (with_change(DHL, default_service="dhl_overnight"),
     "carrier_karrio.connections[0].default_service: 'dhl_overnight' is not a service of "
     "'dhl_express'"),
    (with_change(GENERIC, default_service="express"),
     "carrier_karrio.connections[0].default_service: 'express' is not a service of "
     "'generic' (corriere_express, corriere_standard)"),
    (with_change(DHL, label_type="PNG"),
     "carrier_karrio.connections[0].label_type: one of PDF, ZPL, not 'PNG'"),
    (with_change(DHL, timezone="Europe/Milan-ish"),
     "carrier_karrio.connections[0].timezone: 'Europe/Milan-ish' is not an IANA time zone"),
    (with_change(DHL, timeout_seconds=0),
     "carrier_karrio.connections[0].timeout_seconds: a number of seconds in (0, 600], not 0"),
    (with_change(DHL, test_mode="no"),
     "carrier_karrio.connections[0].test_mode: must be true or false, not 'no'"),
    (with_change(DHL, shipper={"fax": "1"}),
     "carrier_karrio.connections[0].shipper.fax: unknown field"),
    (with_change(DHL, pickup={"ready_time": "18:00", "closing_time": "09:00"}),
     "carrier_karrio.connections[0].pickup: ready_time must come before closing_time"),
    (with_change(DHL, webhooks=True),
     "carrier_karrio.connections[0].webhooks: unknown field"),
    (with_change(GENERIC, credentials={**GENERIC["credentials"], "label_template": {
        "slug": "zpl", "template": "^XA^XZ", "template_type": "ZPL"}}),
     "carrier_karrio.connections[0].credentials.label_template.template_type: karrio renders "
     "SVG templates only"),
])
def test_bad_connections_are_refused_with_their_path(connection: dict[str, Any],
                                                     problem: str) -> None:
    problems = validate(karrio_settings(connection))
    assert any(p.startswith(problem) for p in problems), problems


def test_codes_are_unique_and_connections_are_listed() -> None:
    assert "carrier_karrio.connections[1].code: 'karrio-dhl' is already the code of another " \
           "connection" in validate(karrio_settings(DHL, DHL))
    assert validate({"carrier_karrio": {"connections": []}}) == [
        "carrier_karrio.connections: a non-empty list of connections"]
    assert validate({"carrier_karrio": {"accounts": []}})[0] == \
        "carrier_karrio.accounts: unknown field"
    assert validate({}) == []


def test_registration_takes_what_parses_and_the_validator_stops_bootstrap(
        make_oms: Callable[..., Oms]) -> None:
    bad = with_change(UPS, credentials={"client_id": "only"})
    settings = karrio_settings(GENERIC, bad, DHL)
    registered: list[Any] = []
    omskit_carrier_karrio.omskit_register_shipping_carriers(registered.append, settings)
    assert [c.code for c in registered] == ["karrio-local", "karrio-dhl"]
    with pytest.raises(InvalidSettings, match=r"connections\[1\]\.credentials\.client_secret"):
        make_oms(plugins=[omskit_carrier_karrio], settings=settings)


def test_the_entry_point_registers_one_carrier_per_connection(
        make_oms: Callable[..., Oms], settings: dict[str, Any]) -> None:
    oms = make_oms(load_entrypoints=True, settings=settings)
    assert {"karrio-local", "karrio-dhl", "karrio-ups"} <= set(oms.shipping.carriers())
    assert any(p.name == "carrier-karrio" for p in oms.plugins())
    dhl = oms.shipping.carrier("karrio-dhl")
    assert isinstance(dhl, KarrioCarrier)
    assert (dhl.carrier, C.VOID in dhl.capabilities) == ("dhl_express", False)
    # Without the key: no karrio carrier at all.
    assert not any(c.startswith("karrio-") for c in
                   make_oms(load_entrypoints=True).shipping.carriers())


def test_a_capability_karrio_lacks_is_refused_if_called_anyway(
        settings: dict[str, Any]) -> None:
    dhl = KarrioCarrier("karrio-dhl", "dhl_express",
                        frozenset({C.RATES, C.LABELS, C.RETURN_LABELS, C.TRACKING, C.PICKUPS}))
    with pytest.raises(CarrierRefused, match="'dhl_express' extension does not support void"):
        dhl.void_label("5700000001", settings)
    with pytest.raises(CarrierRefused, match="not configured"):
        dhl.track("5700000001", {})


def test_importing_the_plugin_leaves_karrio_unimported() -> None:
    # karrio reconfigures loguru when imported: an Oms without connections must not pay.
    code = ("import sys, omskit_carrier_karrio; "
            "assert not [m for m in sys.modules if m.split('.')[0] == 'karrio'], 'imported'")
    subprocess.run([sys.executable, "-c", code], check=True)
