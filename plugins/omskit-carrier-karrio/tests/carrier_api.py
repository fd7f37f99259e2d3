"""DHL Express (XML-PI and the MyDHL REST API) and UPS as karrio hears them, without a
network.

:class:`CarrierAPI` replaces ``urlopen`` in ``karrio.core.utils.helpers``, the one function
every karrio HTTP request goes through (``karrio.lib.request`` and
``request_with_response``): karrio builds the carrier's real request (DHL's XML-PI, UPS's
REST/JSON), sends it to this object and reads back an answer shaped as the carrier documents
it, or the exception urllib would raise. The answers follow the structure of karrio's own test
fixtures (``modules/connectors/{dhl_express,mydhl,ups}/tests`` in karrio's repository), re-typed
with this suite's values rather than copied (those fixtures are LGPL-3.0).

The carriers keep state like the real ones: airway bills and UPS shipments sold (each request
sells a new one: neither API de-duplicates), voids, scans per tracking number, pickups, OAuth
tokens. :meth:`CarrierAPI.fault` makes the next matching request fail the ways a network
does, before or after the carrier acted.
"""

from __future__ import annotations

import base64
import io
import itertools
import json
import threading
import time
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Callable
from datetime import date, datetime
from typing import Any, Literal
from urllib.parse import urlsplit

import attrs
from PIL import Image

DHL_HOSTS = {"xmlpitest-ea.dhl.com", "xmlpi-ea.dhl.com"}
MYDHL_HOST = "express.api.dhl.com"
UPS_HOSTS = {"wwwcie.ups.com", "onlinetools.ups.com"}
NS = "{http://www.dhl.com}"

#: What a fault does: ``refused`` (the connection fails: nothing reaches the carrier, urllib
#: raises ``URLError``), ``timeout_after`` (the carrier acts, the answer is lost: a read
#: timeout), ``timeout_before`` (the request went out, the carrier never acted, the client
#: still times out), ``hang`` (the carrier answers only when :meth:`CarrierAPI.release` is
#: called), ``http_503_html`` (a proxy's error page), ``reset`` (the connection is reset
#: after the carrier acted).
FaultKind = Literal["refused", "timeout_after", "timeout_before", "hang", "http_503_html",
                    "reset"]


class Response:
    """The parts of urllib's response karrio reads."""

    def __init__(self, body: str | bytes, status: int = 200) -> None:
        self._body = body.encode() if isinstance(body, str) else body
        self.status = status
        self.headers: dict[str, str] = {}
        self.url = ""

    def read(self) -> bytes:
        return self._body

    def __enter__(self) -> Response:
        return self

    def __exit__(self, *args: object) -> None:
        return None


@attrs.define
class Exchange:
    """One request karrio sent: what the carrier received."""

    method: str
    url: str
    operation: str
    body: bytes
    headers: dict[str, str] = attrs.field(factory=dict)

    def xml(self) -> ET.Element:
        return ET.fromstring(self.body)

    def json(self) -> Any:
        return json.loads(self.body)


@attrs.define
class Scan:
    """A scan in a carrier's network."""

    code: str
    at: datetime
    description: str
    place: str


def _http_error(url: str, status: int, body: str) -> urllib.error.HTTPError:
    return urllib.error.HTTPError(url, status, "error", {}, io.BytesIO(body.encode()))  # type: ignore[arg-type]


def _pdf(text: str) -> bytes:
    """A small PDF naming what it is (enough for a label document)."""
    return (b"%PDF-1.4\n% " + text.encode() + b"\n1 0 obj << /Type /Catalog >> endobj\n"
            b"trailer << /Root 1 0 R >>\n%%EOF\n")


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("L", (120, 80), "white").save(out, "PNG")
    return out.getvalue()


class CarrierAPI:
    """DHL Express (XML-PI) and UPS (REST) behind karrio's ``urlopen``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.exchanges: list[Exchange] = []
        self._faults: list[tuple[str, FaultKind]] = []
        self._hang = threading.Event()
        self._numbers = itertools.count(1)
        # DHL Express
        self.dhl_sold: dict[str, Exchange] = {}
        self.dhl_documents: dict[str, bytes] = {}
        self.dhl_refuse: tuple[str, str] | None = None
        self.dhl_rates: list[tuple[str, str, str, int]] = [
            ("N", "EXPRESS DOMESTIC", "14.90", 1), ("P", "EXPRESS WORLDWIDE", "38.20", 2)]
        # MyDHL API
        self.mydhl_sold: dict[str, Exchange] = {}
        # UPS
        self.ups_tokens = 0
        self.ups_sold: dict[str, Exchange] = {}
        self.ups_voided: set[str] = set()
        self.ups_refuse: tuple[str, str] | None = None
        self.ups_token_refused = False
        # Both
        self.scans: dict[str, list[Scan]] = {}
        self.estimates: dict[str, date] = {}
        self.pickups: list[Exchange] = []

    # -- the seam ---------------------------------------------------------------------------

    def urlopen(self, request: urllib.request.Request, timeout: float | None = None) -> Response:
        """Stands in for ``urllib.request.urlopen``."""
        data = request.data if isinstance(request.data, bytes) else b""
        exchange = Exchange(method=request.get_method(), url=request.full_url,
                            operation=self._operation(request.full_url, data), body=data,
                            headers={k.lower(): v for k, v in request.header_items()})
        with self._lock:
            self.exchanges.append(exchange)
            fault = next((f for f in self._faults if exchange.operation.startswith(f[0])),
                         None)
            if fault is not None:
                self._faults.remove(fault)
        kind = fault[1] if fault is not None else None
        if kind == "refused":
            raise urllib.error.URLError(ConnectionRefusedError(111, "Connection refused"))
        if kind == "timeout_before":
            raise TimeoutError("The read operation timed out")
        if kind == "http_503_html":
            raise _http_error(exchange.url, 503, "<html><body>Service Unavailable</body></html>")
        if kind == "hang":
            self._hang.wait(timeout=60)
        answer = self._answer(exchange)
        if kind == "timeout_after":
            raise TimeoutError("The read operation timed out")
        if kind == "reset":
            raise ConnectionResetError(104, "Connection reset by peer")
        return answer

    def fault(self, operation: str, kind: FaultKind) -> None:
        """Make the next request whose operation starts with ``operation`` (``dhl.ship``,
        ``ups.track``, ``ups``...) fail as ``kind``."""
        with self._lock:
            self._faults.append((operation, kind))

    def release(self) -> None:
        """Let hanging requests get their answer."""
        self._hang.set()

    def count(self, operation: str) -> int:
        """How many requests of ``operation`` the carriers received."""
        with self._lock:
            return Counter(e.operation for e in self.exchanges)[operation]

    def last(self, operation: str) -> Exchange:
        with self._lock:
            return next(e for e in reversed(self.exchanges) if e.operation == operation)

    def scan(self, tracking_number: str, code: str, at: datetime, description: str,
             place: str = "Milano - Italy", estimate: date | None = None) -> None:
        """The carrier's network scans a parcel (seen by the next tracking request)."""
        with self._lock:
            self.scans.setdefault(tracking_number, []).append(
                Scan(code=code, at=at, description=description, place=place))
            if estimate is not None:
                self.estimates[tracking_number] = estimate

    # -- routing ----------------------------------------------------------------------------

    @staticmethod
    def _operation(url: str, body: bytes) -> str:
        parts = urlsplit(url)
        if parts.hostname in DHL_HOSTS:
            root = ET.fromstring(body).tag.removeprefix(NS)
            return {"ShipmentRequest": "dhl.ship", "KnownTrackingRequest": "dhl.track",
                    "BookPURequest": "dhl.pickup", "DCTRequest": "dhl.rates"}.get(
                        root, f"dhl.{root}")
        if parts.hostname == MYDHL_HOST:
            path = parts.path.removeprefix("/mydhlapi").removeprefix("/test")
            if path == "/shipments":
                return "mydhl.ship"
            if path == "/tracking":
                return "mydhl.track"
            if path.endswith("/proof-of-delivery"):
                return "mydhl.proof"
            return f"mydhl.{path}"
        if parts.hostname in UPS_HOSTS:
            path = parts.path
            for suffix, name in (("/security/v1/oauth/token", "ups.token"),
                                 ("/ship", "ups.ship"), ("/pickup", "ups.pickup"),
                                 ("/Shop", "ups.rates")):
                if path.endswith(suffix):
                    return name
            if "/void/cancel/" in path:
                return "ups.void"
            if "/track/v1/details/" in path:
                return "ups.track"
            return f"ups.{path}"
        raise AssertionError(f"no network in tests: karrio called {url}")

    def _answer(self, exchange: Exchange) -> Response:
        handler: Callable[[Exchange], Response] = getattr(
            self, "_" + exchange.operation.replace(".", "_"))
        return handler(exchange)

    # -- DHL Express (XML-PI) ---------------------------------------------------------------

    @staticmethod
    def _dhl_header() -> str:
        return ("<Response><ServiceHeader><MessageTime>2026-12-01T09:00:00+01:00</MessageTime>"
                "<MessageReference>1234567890123456789012345678901</MessageReference>"
                "<SiteID>site</SiteID></ServiceHeader></Response>")

    def _dhl_error(self, root: str, code: str, text: str) -> Response:
        return Response(
            f'<?xml version="1.0" encoding="UTF-8"?><res:{root} xmlns:res="http://www.dhl.com">'
            f"<Response><ServiceHeader><MessageTime>2026-12-01T09:00:00+01:00</MessageTime>"
            f"</ServiceHeader><Status><ActionStatus>Error</ActionStatus><Condition>"
            f"<ConditionCode>{code}</ConditionCode><ConditionData>{text}</ConditionData>"
            f"</Condition></Status></Response></res:{root}>")

    def _dhl_ship(self, exchange: Exchange) -> Response:
        if self.dhl_refuse is not None:
            return self._dhl_error("ShipmentValidateErrorResponse", *self.dhl_refuse)
        with self._lock:
            awb = f"{5700000000 + next(self._numbers)}"
            self.dhl_sold[awb] = exchange
            self.dhl_documents[awb] = document = _pdf(f"DHL Express label {awb}")
        image = base64.b64encode(document).decode()
        return Response(
            '<?xml version="1.0" encoding="UTF-8"?><res:ShipmentResponse '
            'xmlns:res="http://www.dhl.com">' + self._dhl_header()
            + "<RegionCode>EU</RegionCode><Note><ActionNote>Success</ActionNote></Note>"
            f"<AirwayBillNumber>{awb}</AirwayBillNumber><BillingCode>DSA</BillingCode>"
            "<CurrencyCode>EUR</CurrencyCode><PackageCharge>12.40</PackageCharge>"
            "<Rated>Y</Rated><ShippingCharge>14.90</ShippingCharge><Piece>1</Piece>"
            "<LabelImage><OutputFormat>PDF</OutputFormat>"
            f"<OutputImage>{image}</OutputImage></LabelImage></res:ShipmentResponse>")

    def _dhl_track(self, exchange: Exchange) -> Response:
        numbers = [e.text or "" for e in exchange.xml().iter("AWBNumber")]
        infos: list[str] = []
        for number in numbers:
            with self._lock:
                scans = list(self.scans.get(number, ()))
                estimate = self.estimates.get(number)
            if number not in self.dhl_sold or not scans:
                infos.append(
                    f"<AWBInfo><AWBNumber>{number}</AWBNumber><Status><ActionStatus>No "
                    f"Shipments Found</ActionStatus><Condition><ConditionCode>103"
                    f"</ConditionCode><ConditionData>No Shipments Found for AWBNumber "
                    f"{number}</ConditionData></Condition></Status></AWBInfo>")
                continue
            events = "".join(
                f"<ShipmentEvent><Date>{s.at:%Y-%m-%d}</Date><Time>{s.at:%H:%M:%S}</Time>"
                f"<ServiceEvent><EventCode>{s.code}</EventCode><Description>{s.description}"
                f"</Description></ServiceEvent><Signatory/><ServiceArea><ServiceAreaCode>MIL"
                f"</ServiceAreaCode><Description>{s.place}</Description></ServiceArea>"
                f"</ShipmentEvent>" for s in scans)
            eta = (f"<EstDlvyDate>{estimate:%Y-%m-%d} 23:59:00 GMT+01:00</EstDlvyDate>"
                   if estimate else "")
            infos.append(
                f"<AWBInfo><AWBNumber>{number}</AWBNumber><Status><ActionStatus>success"
                f"</ActionStatus></Status><ShipmentInfo><OriginServiceArea><ServiceAreaCode>MIL"
                f"</ServiceAreaCode><Description>Milano - Italy</Description>"
                f"</OriginServiceArea><DestinationServiceArea><ServiceAreaCode>TRN"
                f"</ServiceAreaCode><Description>Torino - Italy</Description>"
                f"</DestinationServiceArea><ShipperName>Conformance DC</ShipperName>"
                f"<ConsigneeName>Customer</ConsigneeName><ShipmentDate>2026-12-01T08:00:00"
                f"</ShipmentDate><Pieces>1</Pieces><Weight>1.2</Weight><WeightUnit>K"
                f"</WeightUnit>{eta}<GlobalProductCode>N</GlobalProductCode>{events}"
                f"</ShipmentInfo></AWBInfo>")
        return Response(
            '<?xml version="1.0" encoding="UTF-8"?><req:TrackingResponse '
            'xmlns:req="http://www.dhl.com">' + self._dhl_header() + "".join(infos)
            + "<LanguageCode>en</LanguageCode></req:TrackingResponse>")

    def _dhl_pickup(self, exchange: Exchange) -> Response:
        with self._lock:
            self.pickups.append(exchange)
            number = 3600 + len(self.pickups)
        day = exchange.xml().findtext(".//PickupDate")
        return Response(
            '<?xml version="1.0" encoding="UTF-8"?><res:BookPUResponse '
            'xmlns:res="http://www.dhl.com">' + self._dhl_header()
            + "<RegionCode>EU</RegionCode><Note><ActionNote>Success</ActionNote></Note>"
            f"<ConfirmationNumber>{number}</ConfirmationNumber><ReadyByTime>09:00:00"
            f"</ReadyByTime><NextPickupDate>{day}</NextPickupDate><CallInTime>17:00:00"
            "</CallInTime><OriginSvcArea>MIL</OriginSvcArea></res:BookPUResponse>")

    def _dhl_rates(self, exchange: Exchange) -> Response:
        quotes = "".join(
            f"<QtdShp><GlobalProductCode>{code}</GlobalProductCode><LocalProductCode>{code}"
            f"</LocalProductCode><ProductShortName>{name}</ProductShortName>"
            f"<LocalProductName>{name}</LocalProductName><NetworkTypeCode>TD"
            f"</NetworkTypeCode><CurrencyCode>EUR</CurrencyCode><WeightCharge>{amount}"
            f"</WeightCharge><TotalTransitDays>{days}</TotalTransitDays>"
            f"<PricingDate>2026-12-01</PricingDate><ShippingCharge>{amount}</ShippingCharge>"
            f"<TotalTaxAmount>0.</TotalTaxAmount><DeliveryDate><DeliveryType>QDDC"
            f"</DeliveryType><DlvyDateTime>2026-12-{1 + days:02d} 11:59:00</DlvyDateTime>"
            f"<DeliveryDateTimeOffset>+01:00</DeliveryDateTimeOffset></DeliveryDate>"
            f"</QtdShp>" for code, name, amount, days in self.dhl_rates)
        return Response(
            '<?xml version="1.0" ?><res:DCTResponse xmlns:res="http://www.dhl.com">'
            "<GetQuoteResponse>" + self._dhl_header()
            + f"<BkgDetails>{quotes}</BkgDetails></GetQuoteResponse></res:DCTResponse>")

    # -- DHL Express (MyDHL API, REST) ------------------------------------------------------

    def _mydhl_ship(self, exchange: Exchange) -> Response:
        with self._lock:
            number = f"{1230000000 + next(self._numbers)}"
            self.mydhl_sold[number] = exchange
            self.dhl_documents[number] = document = _pdf(f"MyDHL label {number}")
        return Response(json.dumps({
            "url": "https://express.api.dhl.com/mydhlapi/shipments",
            "shipmentTrackingNumber": number,
            "trackingUrl": f"https://express.api.dhl.com/mydhlapi/shipments/{number}/tracking",
            "packages": [{"referenceNumber": 1, "trackingNumber": f"JD0146{number}",
                          "trackingUrl": "https://express.api.dhl.com/mydhlapi/tracking"}],
            "documents": [{"imageFormat": "PDF", "typeCode": "label",
                           "content": base64.b64encode(document).decode()}],
            "shipmentCharges": [{"currencyType": "BILLC", "priceCurrency": "EUR",
                                 "price": 14.9}]}), status=201)

    def _mydhl_track(self, exchange: Exchange) -> Response:
        number = urlsplit(exchange.url).query.split("shipmentTrackingNumber=", 1)[1]
        number = number.split("&", 1)[0]
        with self._lock:
            scans = list(self.scans.get(number, ()))
            estimate = self.estimates.get(number)
        if number not in self.mydhl_sold or not scans:
            raise _http_error(exchange.url, 404, json.dumps({
                "instance": "/expressapi/tracking", "title": "Not Found", "status": "404",
                "detail": f"No shipment found for {number}"}))
        events = [{"date": f"{s.at:%Y-%m-%d}", "time": f"{s.at:%H:%M:%S}",
                   "typeCode": s.code, "description": s.description,
                   "serviceArea": [{"code": "MIL", "description": s.place}]}
                  for s in reversed(scans)]  # the MyDHL API lists the newest first
        shipment: dict[str, Any] = {"shipmentTrackingNumber": number, "status": "Success",
                                    "productCode": "N", "events": events}
        if estimate is not None:
            shipment["estimatedTimeOfDelivery"] = f"{estimate:%Y-%m-%d}T23:59:00"
        return Response(json.dumps({"shipments": [shipment]}))

    def _mydhl_proof(self, exchange: Exchange) -> Response:
        raise _http_error(exchange.url, 404, json.dumps({
            "title": "Not Found", "status": "404", "detail": "No proof of delivery"}))

    # -- UPS (REST) -------------------------------------------------------------------------

    def _ups_token(self, exchange: Exchange) -> Response:
        with self._lock:
            self.ups_tokens += 1
        if self.ups_token_refused:
            raise _http_error(exchange.url, 401, json.dumps({"response": {"errors": [
                {"code": "250003", "message": "Invalid Access License number"}]}}))
        return Response(json.dumps({
            "token_type": "Bearer", "issued_at": str(int(time.time() * 1000)),
            "client_id": "client-id", "access_token": f"token-{self.ups_tokens}",
            "scope": "", "expires_in": "14399", "refresh_count": "0",
            "status": "approved"}))

    def _ups_errors(self, url: str, status: int, code: str, message: str) -> Response:
        raise _http_error(url, status, json.dumps({"response": {"errors": [
            {"code": code, "message": message}]}}))

    def _ups_ship(self, exchange: Exchange) -> Response:
        if self.ups_refuse is not None:
            return self._ups_errors(exchange.url, 400, *self.ups_refuse)
        with self._lock:
            number = f"1ZOMS{next(self._numbers):013d}"
            self.ups_sold[number] = exchange
        image = base64.b64encode(_png()).decode()
        return Response(json.dumps({"ShipmentResponse": {
            "Response": {"ResponseStatus": {"Code": "1", "Description": "Success"},
                         "Alert": [{"Code": "120900", "Description": "User Id and Shipper "
                                    "Number combination is not qualified to receive "
                                    "negotiated rates"}],
                         "TransactionReference": {"CustomerContext": "omskit"}},
            "ShipmentResults": {
                "ShipmentCharges": {
                    "TransportationCharges": {"CurrencyCode": "EUR", "MonetaryValue": "11.20"},
                    "TotalCharges": {"CurrencyCode": "EUR", "MonetaryValue": "11.20"}},
                "BillingWeight": {"UnitOfMeasurement": {"Code": "KGS"}, "Weight": "1.5"},
                "ShipmentIdentificationNumber": number,
                "PackageResults": {
                    "TrackingNumber": number,
                    "ShippingLabel": {"ImageFormat": {"Code": "PNG", "Description": "PNG"},
                                      "GraphicImage": image}}}}}))

    def _ups_void(self, exchange: Exchange) -> Response:
        number = exchange.url.rsplit("/", 1)[-1]
        if number not in self.ups_sold or number in self.ups_voided:
            return self._ups_errors(exchange.url, 400, "190117",
                                    "Shipment has already been voided or does not exist")
        with self._lock:
            self.ups_voided.add(number)
        return Response(json.dumps({"VoidShipmentResponse": {
            "Response": {"ResponseStatus": {"Code": "1", "Description": "Success"}},
            "SummaryResult": {"Status": {"Code": "1", "Description": "Success"}}}}))

    _UPS_TYPES = {"PU": "P", "AR": "I", "OT": "I", "DL": "D", "X": "X"}

    def _ups_track(self, exchange: Exchange) -> Response:
        number = urlsplit(exchange.url).path.rsplit("/", 1)[-1]
        with self._lock:
            scans = list(self.scans.get(number, ()))
            estimate = self.estimates.get(number)
        if number not in self.ups_sold or not scans:
            return Response(json.dumps({"trackResponse": {"shipment": [{"warnings": [
                {"code": "TW0001", "message": "Tracking Information Not Found"}]}]}}))
        activity = [{
            "date": f"{s.at:%Y%m%d}", "time": f"{s.at:%H%M%S}",
            "location": {"address": {"city": s.place, "countryCode": "IT", "country": "IT"}},
            "status": {"type": self._UPS_TYPES.get(s.code, "I"), "code": s.code,
                       "description": s.description},
        } for s in reversed(scans)]  # UPS lists the newest first
        return Response(json.dumps({"trackResponse": {"shipment": [{
            "inquiryNumber": number,
            "package": [{
                "trackingNumber": number, "activity": activity,
                "deliveryDate": ([{"type": "DEL", "date": f"{estimate:%Y%m%d}"}]
                                 if estimate else []),
                "packageAddress": [], "service": {"code": "011", "description": "UPS Standard"},
            }]}]}}))

    def _ups_pickup(self, exchange: Exchange) -> Response:
        with self._lock:
            self.pickups.append(exchange)
            number = f"2929OMS{len(self.pickups):02d}"
        return Response(json.dumps({"PickupCreationResponse": {
            "Response": {"ResponseStatus": {"Code": "1", "Description": "Success"}},
            "PRN": number, "RateStatus": {"Code": "01", "Description": "Rate available"}}}))


__all__ = ["CarrierAPI", "Exchange", "FaultKind", "Response"]
