"""One running deployment: an ``Oms``, its API keys and its idempotency keys.

Built only from omskit's public API: ``omskit.bootstrap`` with the deployment's tables
plugin, and the services on the ``Oms`` it returns.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

import omskit
import omskit_channel_marketplace
from litestar import Request, Response
from litestar.exceptions import ClientException, HTTPException
from litestar.serialization import encode_json
from omskit import Oms, OmsError, Order

from omskit_reference import idempotency
from omskit_reference.bodies import OrderView
from omskit_reference.idempotency import IdempotencyKeys, KeyInUse, KeyReused, Reply
from omskit_reference.keys import ApiKey, ApiKeys, utcnow
from omskit_reference.links import TrackingLinks
from omskit_reference.problems import PROBLEM_JSON, problem_document
from omskit_reference.tables import TablesPlugin, create_tables, tables_of

#: The deployment's own settings, under any the caller gives (a caller's key replaces the
#: same key here): the returns policy is ``omskit-returns-standard`` (a dependency of this
#: distribution, loaded through its entry point), with a 30-day window, the reasons a
#: customer may give, a restocking fee when the customer changed their mind, and no refund
#: for units the customer broke. Every store takes returns, online orders too.
SETTINGS: dict[str, Any] = {
    "returns": {"policy": "standard"},
    "returns_standard": {
        "window_days": 30,
        "reasons": ["size", "damaged", "wrong_item", "changed_mind"],
        "restocking_fee_percent": "10",
        "restocking_fee_reasons": ["changed_mind"],
        "free_label_reasons": ["damaged", "wrong_item"],
        "shipping_refund": "whole_order",
        "unrefunded_dispositions": ["damaged"],
        "stores": {"accept": True, "other_stores": True},
    },
    # omskit-channel-marketplace (a dependency, loaded through its entry point): no shop
    # unless configured (OMSKIT_MARKETPLACE_SHOPS, or the caller's settings).
    "marketplace": {"shops": {}},
}


#: The environment variable that configures the marketplace shops (JSON: ``{"<shop>":
#: {"domain": ..., "secret": ..., "locations": [...], "buffer": 0}}``, the settings of
#: ``omskit-channel-marketplace``): a shop's webhook secret is not kept in code.
MARKETPLACE_SHOPS_ENV = "OMSKIT_MARKETPLACE_SHOPS"

#: Channel webhooks the deployment serves at ``POST /webhooks/channels/{code}``: the
#: connector plugin's own receiver, which verifies the delivery over the raw body and
#: places its order once (a redelivery returns the same order).
CHANNEL_WEBHOOKS: dict[str, Callable[[Oms, Mapping[str, str], bytes], Order | None]] = {
    omskit_channel_marketplace.CHANNEL_CODE: omskit_channel_marketplace.receive_webhook,
}


def environment_settings(environ: Mapping[str, str]) -> dict[str, Any]:
    """Settings from the environment: the marketplace shops (see
    :data:`MARKETPLACE_SHOPS_ENV`). A value that is not a JSON object is a ``ValueError``;
    omskit checks the shops themselves at bootstrap (the plugin's settings validator)."""
    raw = environ.get(MARKETPLACE_SHOPS_ENV)
    if not raw:
        return {}
    shops = json.loads(raw)
    if not isinstance(shops, dict):
        raise ValueError(f"{MARKETPLACE_SHOPS_ENV} must be a JSON object of shop settings")
    return {"marketplace": {"shops": shops}}


class Deployment:
    """What every request handler works with."""

    def __init__(self, oms: Oms, tables: TablesPlugin,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.oms = oms
        #: The deployment's time (the same clock omskit was bootstrapped with).
        self.clock = clock
        found = tables_of(tables)
        #: The deployment's own tables (API keys, idempotency, tracking links).
        self.tables = found
        self.keys = ApiKeys(oms, found, clock)
        self.idempotency = IdempotencyKeys(oms, found, clock)
        self.tracking_links = TrackingLinks(oms, found, clock)

    @classmethod
    def open(cls, url: str | None = None, *, plugins: Sequence[object] = (),
             create: bool = False, migrate: bool = True,
             clock: Callable[[], datetime] = utcnow,
             **bootstrap: Any) -> Deployment:
        """Bootstrap omskit with the deployment's tables and :data:`SETTINGS` (under the
        caller's ``settings``). ``create``: make every table directly (tests, throwaway
        databases); else, with ``migrate``, run omskit's migrations and create the
        deployment's own tables that are missing (a worker among several passes
        ``migrate=False``: one process migrates)."""
        tables = TablesPlugin()
        bootstrap["settings"] = {**SETTINGS, **environment_settings(os.environ),
                                 **(bootstrap.get("settings") or {})}
        oms = omskit.bootstrap(url, plugins=[tables, *plugins], clock=clock, **bootstrap)
        if create:
            oms.create_schema()
        elif migrate:
            oms.upgrade()
            create_tables(oms, tables_of(tables))
        return cls(oms, tables, clock)

    def close(self) -> None:
        """Close the ``Oms`` (and its engine, when omskit created it)."""
        self.oms.close()

    # -- answering ------------------------------------------------------------------------------

    def write(self, request: Request[ApiKey, Any, Any], body: object,
              work: Callable[[], Reply]) -> Response[Any]:
        """Serve a POST once per ``Idempotency-Key`` (see :mod:`.idempotency`); omskit's
        typed errors become stored problem answers."""
        key = request.headers.get(idempotency.HEADER, "").strip()
        if not key or len(key) > idempotency.MAX_KEY_LENGTH:
            raise ClientException(f"every POST needs an {idempotency.HEADER} header "
                                  f"(1 to {idempotency.MAX_KEY_LENGTH} characters)")
        fingerprint = idempotency.request_hash(request.method, request.url.path,
                                               b"" if body is None else encode_json(body))

        def judged() -> Reply:
            try:
                return work()
            except OmsError as exc:
                status, document = problem_document(exc)
                return Reply(status=status, body=encode_json(document), media_type=PROBLEM_JSON)

        outcome = self.idempotency.run(request.user.id, key, fingerprint, judged)
        if isinstance(outcome, KeyInUse):
            raise HTTPException(status_code=409, headers={"Retry-After": "1"},
                                detail=f"a request with this {idempotency.HEADER} is "
                                       "still being served; retry later")
        if isinstance(outcome, KeyReused):
            raise ClientException(status_code=422,
                                  detail=f"this {idempotency.HEADER} was used for another "
                                         "request; use a new key for a new request")
        return send(outcome)


def reply(value: object, *, status: int = 200, order: Order | None = None) -> Reply:
    """A JSON answer; ``order``: the order it is about, whose version is the ETag (an
    ``Order`` itself is shown as its :class:`OrderView`)."""
    if isinstance(value, Order):
        value = OrderView.of(value)
    return Reply(status=status, body=encode_json(value),
                 etag=None if order is None else etag(order))


def send(answer: Reply) -> Response[Any]:
    """The HTTP response for a reply (stored or fresh)."""
    headers: dict[str, str] = {}
    if answer.etag is not None:
        headers["ETag"] = answer.etag
    if answer.replayed:
        headers["Idempotent-Replayed"] = "true"
    return Response(content=answer.body, status_code=answer.status,
                    media_type=answer.media_type, headers=headers)


def etag(order: Order) -> str:
    """An order's ETag: its version, which every change raises."""
    return f'"{order.version}"'


def check_if_match(headers: Mapping[str, str], order: Order) -> None:
    """A change to an order names the version it was made against (``If-Match``): 428
    without it, 412 when the order has changed since."""
    wanted = headers.get("if-match")
    if wanted is None:
        raise HTTPException(status_code=428, detail="changing an order needs If-Match: "
                                                    "the ETag of the order as you last read it")
    tags = [t.strip().removeprefix("W/") for t in wanted.split(",")]
    if "*" not in tags and etag(order) not in tags:
        raise HTTPException(status_code=412, headers={"ETag": etag(order)},
                            detail=f"the order is at version {order.version} now; read it "
                                   "again and retry")


T = TypeVar("T")


def change_at_version(headers: Mapping[str, str], oms: Oms, order: Order,
                      change: Callable[[], T]) -> T:
    """Run ``change`` only if the order is still at the version ``If-Match`` names: checked
    once on the order as read (428, 412), then again under the order's row lock by omskit
    (``oms.orders.expecting_version``), so two requests that read the same version cannot
    both change it: the second gets 412 too, and nothing of it is applied."""
    check_if_match(headers, order)
    try:
        with oms.orders.expecting_version(order.id, order.version):
            return change()
    except omskit.OrderVersionMismatch as exc:
        raise HTTPException(status_code=412, headers={"ETag": f'"{exc.actual}"'},
                            detail=f"the order is at version {exc.actual} now; read it "
                                   "again and retry") from exc
