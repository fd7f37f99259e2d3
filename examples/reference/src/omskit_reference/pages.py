"""The pages: an operations dashboard, a store associate's page and the customer's tracking
page (jinja2 templates, htmx for the actions).

A person signs in with an API key, kept in an HttpOnly, SameSite=Strict cookie; the pages
apply the same scopes as the API (a store key sees its own store's page, nothing else). Every
action is a POST sent by htmx with an ``X-Requested-By`` header, which a form on another site
cannot send: that, with SameSite=Strict, is the protection against cross-site requests.
The customer's tracking page needs no key: its link's token is the credential.
"""

from __future__ import annotations

import base64
import hashlib
from collections import Counter
from datetime import date, timedelta
from importlib import resources
from typing import Annotated, Any

import attrs
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.params import Body, FromPath, FromQuery
from litestar.response import Redirect, Template
from omskit import (
    DeliveryKind,
    ExceptionKind,
    FulfillmentStatus,
    InvalidCommand,
    OmsError,
    Order,
    OrderException,
    OrderQuery,
    OrderStatus,
    OrderSummary,
    PurchaseOrderStatus,
)

from omskit_reference.access import (
    fulfillment_in_reach,
    location_in_reach,
    order_in_reach,
    require_write,
)
from omskit_reference.deployment import Deployment
from omskit_reference.keys import ApiKey, Scope

Dep = NamedDependency[Deployment]
COOKIE = "omskit_key"
ACTION_HEADER = "x-requested-by"

#: The vendored htmx: the file in ``static/``, its SHA-256 (checked by the tests against the
#: release on npm) and its Subresource Integrity hash (checked by the browser).
HTMX_FILE = "htmx-2.0.11.min.js"
HTMX_SHA256 = "d6fdc75f204e6bdefa99b69bf1e6d4ac69b8a364f77929f45c13476b4000f717"

#: What a store associate can do next, per fulfilment status (ship and reject take a form).
NEXT_STEPS: dict[str, list[str]] = {
    FulfillmentStatus.RELEASED.value: ["accept"],
    FulfillmentStatus.ACCEPTED.value: ["pick"],
    FulfillmentStatus.PICKED.value: ["pack"],
    FulfillmentStatus.PACKED.value: [],
    FulfillmentStatus.READY_FOR_PICKUP.value: [],
}

#: The store's queue: what is still to pick, pack and ship, and pickups waiting for their
#: customer.
QUEUE_STATUSES = (FulfillmentStatus.RELEASED, FulfillmentStatus.ACCEPTED,
                  FulfillmentStatus.PICKED, FulfillmentStatus.PACKED,
                  FulfillmentStatus.READY_FOR_PICKUP)

#: Orders that can no longer be edited (the edit form is not shown for them).
CLOSED_STATUSES = frozenset({OrderStatus.CANCELLED, OrderStatus.COMPLETED,
                             OrderStatus.SHIPPED, OrderStatus.DELIVERED})

#: Purchase orders the dropship page lists: still to be sent, answered or shipped.
OPEN_PURCHASE_ORDERS = (PurchaseOrderStatus.PENDING, PurchaseOrderStatus.SENDING,
                        PurchaseOrderStatus.UNKNOWN, PurchaseOrderStatus.FAILED,
                        PurchaseOrderStatus.SENT, PurchaseOrderStatus.ACKNOWLEDGED,
                        PurchaseOrderStatus.PARTIALLY_SHIPPED)

#: What the customer reads for each order status.
CUSTOMER_STATUS = {
    OrderStatus.RECEIVED: "We have your order.",
    OrderStatus.VALIDATED: "We have your order.",
    OrderStatus.ON_HOLD: "We are checking your order.",
    OrderStatus.BACKORDERED: "Some items are on their way to us; we will send them soon.",
    OrderStatus.ALLOCATED: "We are preparing your order.",
    OrderStatus.RELEASED: "We are preparing your order.",
    OrderStatus.PARTIALLY_SHIPPED: "Part of your order is on its way.",
    OrderStatus.SHIPPED: "Your order is on its way.",
    OrderStatus.DELIVERED: "Your order was delivered.",
    OrderStatus.COMPLETED: "Your order was delivered.",
    OrderStatus.CANCELLED: "Your order was cancelled.",
}


@attrs.frozen
class Htmx:
    """The vendored htmx file and its integrity hash, for the base template."""

    file: str
    integrity: str


def vendored_htmx() -> tuple[bytes, Htmx]:
    """The htmx file's bytes and how the pages load it."""
    data = (resources.files("omskit_reference") / "static" / HTMX_FILE).read_bytes()
    digest = base64.b64encode(hashlib.sha384(data).digest()).decode()
    return data, Htmx(file=HTMX_FILE, integrity=f"sha384-{digest}")


_, HTMX = vendored_htmx()


def viewer(request: Request[Any, Any, Any], deployment: Deployment) -> ApiKey:
    """The signed-in key of a page request (401 when there is none)."""
    token = request.cookies.get(COOKIE)
    key = deployment.keys.authenticate(token) if token else None
    if key is None:
        raise NotAuthorizedException("sign in with an API key")
    return key


def require_action(request: Request[Any, Any, Any]) -> None:
    """A page action must come from the pages' own htmx (see the module docstring)."""
    if request.headers.get(ACTION_HEADER) != "omskit-pages":
        raise PermissionDeniedException("page actions are sent by the pages themselves")


def page(name: str, viewer_key: ApiKey | None, **context: Any) -> Template:
    """A page rendered with the header's context."""
    return Template(template_name=name, context={"viewer": viewer_key, "htmx": HTMX,
                                                 **context})


def orders_per_hour_chart(orders: list[OrderSummary], hours: int = 24) -> str:
    """An SVG bar chart of orders per hour, stacked by channel (no script needed)."""
    if not orders:
        return '<p class="muted">No orders in the last 24 hours.</p>'
    newest = max(o.placed_at for o in orders).replace(minute=0, second=0, microsecond=0)
    start = newest - timedelta(hours=hours - 1)
    counts = Counter((o.channel, int((o.placed_at - start).total_seconds() // 3600))
                     for o in orders if o.placed_at >= start)
    channels = sorted({c for c, _ in counts})
    colours = ["#3b6fd8", "#e07b39", "#3aa76d", "#a04fc2", "#c9a227", "#d94f70"]
    tallest = max(sum(counts[(c, h)] for c in channels) for h in range(hours)) or 1
    width, height, bar = 24 * hours + 40, 160, 20
    parts = [f'<svg role="img" aria-label="orders per hour by channel" width="{width}" '
             f'height="{height + 40}" viewBox="0 0 {width} {height + 40}">']
    for h in range(hours):
        y = float(height)
        for i, channel in enumerate(channels):
            n = counts[(channel, h)]
            if n:
                size = n / tallest * (height - 10)
                y -= size
                parts.append(f'<rect x="{h * 24 + 30}" y="{y:.1f}" width="{bar}" '
                             f'height="{size:.1f}" fill="{colours[i % len(colours)]}">'
                             f'<title>{channel}: {n}</title></rect>')
        if h % 3 == 0:
            label = (start + timedelta(hours=h)).strftime("%H:00")
            parts.append(f'<text x="{h * 24 + 30}" y="{height + 14}">{label}</text>')
    for i, channel in enumerate(channels):
        parts.append(f'<rect x="{30 + i * 110}" y="{height + 24}" width="10" height="10" '
                     f'fill="{colours[i % len(colours)]}"/><text x="{44 + i * 110}" '
                     f'y="{height + 33}">{channel}</text>')
    parts.append(f'<text x="0" y="12">{tallest}</text></svg>')
    return "".join(parts)


def late_orders_chart(late: list[OrderException], today: date) -> str:
    """An SVG bar chart of late orders by how many days late they are."""
    buckets = [("1", 1, 1), ("2", 2, 2), ("3", 3, 3), ("4-7", 4, 7), ("8-14", 8, 14),
               ("15+", 15, 10**6)]
    days = [(today - x.since.date()).days + 1 for x in late]
    counts = [sum(low <= d <= high for d in days) for _, low, high in buckets]
    tallest = max(counts) or 1
    height, step = 120, 60
    parts = [f'<svg role="img" aria-label="late orders by days late" '
             f'width="{step * len(buckets) + 30}" height="{height + 30}">']
    for i, ((label, _, _), n) in enumerate(zip(buckets, counts, strict=True)):
        size = n / tallest * (height - 14)
        x = 30 + i * step
        parts.append(f'<rect x="{x}" y="{height - size:.1f}" width="40" height="{size:.1f}" '
                     f'fill="#d94f70"><title>{label} day(s) late: {n}</title></rect>'
                     f'<text x="{x + 14}" y="{height - size - 3:.1f}">{n}</text>'
                     f'<text x="{x + 6}" y="{height + 14}">{label}d</text>')
    parts.append("</svg>")
    return "".join(parts)


class Pages(Controller):
    """The signed-in pages under ``/ui``."""

    path = "/ui"
    include_in_schema = False

    @get("/login", sync_to_thread=False)
    def login_form(self) -> Template:
        """The sign-in form."""
        return page("login.html.j2", None)

    @post("/login", sync_to_thread=True)
    def login(self, deployment: Dep, data: Annotated[dict[str, str], Body(
            media_type=RequestEncodingType.URL_ENCODED)]) -> Response[Any]:
        """Check the key and keep it in the session cookie."""
        token = data.get("key", "").strip()
        key = deployment.keys.authenticate(token) if token else None
        if key is None:
            return page("login.html.j2", None, error="Unknown or revoked API key.")
        home = f"/ui/store/{key.location}" if key.scope is Scope.STORE else "/ui/"
        response: Response[Any] = Redirect(home, status_code=303)
        response.set_cookie(COOKIE, token, httponly=True, samesite="strict",
                            secure=False, path="/ui")
        return response

    @post("/logout", sync_to_thread=False)
    def logout(self) -> Response[Any]:
        """Forget the session cookie."""
        response: Response[Any] = Redirect("/ui/login", status_code=303)
        response.delete_cookie(COOKIE, path="/ui")
        return response

    @get("/", sync_to_thread=True)
    def dashboard(self, request: Request[Any, Any, Any], deployment: Dep) -> Template:
        """Order counts, orders per hour by channel, and the order search."""
        key = viewer(request, deployment)
        _operations(key)
        oms = deployment.oms
        counts = oms.orders.count_by_status()
        recent = oms.orders.search(OrderQuery(limit=10_000,
                                               placed_from=deployment.clock() - timedelta(days=1)))
        return page("dashboard.html.j2", key,
                    counts=[(s.value, counts.get(s, 0)) for s in OrderStatus],
                    statuses=[s.value for s in OrderStatus], orders=recent[:50],
                    chart=orders_per_hour_chart(recent))

    @get("/orders", sync_to_thread=True)
    def orders(self, request: Request[Any, Any, Any], deployment: Dep,
               status: FromQuery[str] = "", channel: FromQuery[str] = "",
               external_id: FromQuery[str] = "") -> Template:
        """The search results (the table the dashboard's form swaps in)."""
        key = viewer(request, deployment)
        _operations(key)
        try:
            statuses = (OrderStatus(status),) if status else ()
        except ValueError as exc:
            raise InvalidCommand([f"status: unknown status {status!r}"]) from exc
        found = deployment.oms.orders.search(OrderQuery(
            statuses=statuses, channel=channel or None, external_id=external_id or None,
            limit=50))
        return page("_orders.html.j2", key, orders=found)

    @get("/orders/{order_id:str}", sync_to_thread=True)
    def order(self, request: Request[Any, Any, Any], deployment: Dep,
              order_id: FromPath[str]) -> Template:
        """An order: lines, holds, fulfilment, payments, routing and timeline."""
        key = viewer(request, deployment)
        order = order_in_reach(key, deployment.oms.orders.get(order_id))
        return self._order_page(deployment, key, order)

    def _order_page(self, deployment: Deployment, key: ApiKey, order: Order,
                    message: str = "") -> Template:
        oms = deployment.oms
        return page("order.html.j2", key, order=order, message=message,
                    can_change=key.writes and key.scope in (Scope.ADMIN, Scope.OPERATIONS),
                    editable=order.status not in CLOSED_STATUSES,
                    edits=oms.edits.for_order(order.id),
                    notifications=oms.notifications.list(order_id=order.id),
                    documents=oms.invoices.for_order(order.id),
                    payments=oms.payments.summary(order.id),
                    decisions=oms.orders.explain(order.id),
                    timeline=oms.orders.timeline(order.id))

    @post("/orders/{order_id:str}/holds/{code:str}/release", sync_to_thread=True,
          status_code=200)
    def release_hold(self, request: Request[Any, Any, Any], deployment: Dep,
                     order_id: FromPath[str], code: FromPath[str]) -> Template:
        """Release a hold from the order's page."""
        key = viewer(request, deployment)
        require_action(request)
        require_write(key, Scope.OPERATIONS)
        order = order_in_reach(key, deployment.oms.orders.get(order_id))
        try:
            order = deployment.oms.orders.release_hold(order.id, code)
        except OmsError as exc:
            return self._order_page(deployment, key, order, str(exc))
        return self._order_page(deployment, key, order)

    @post("/orders/{order_id:str}/edit", sync_to_thread=True, status_code=200)
    def edit(self, request: Request[Any, Any, Any], deployment: Dep, order_id: FromPath[str],
             data: Annotated[dict[str, str], Body(
                 media_type=RequestEncodingType.URL_ENCODED)]) -> Template:
        """Change line quantities from the order's page ("Edit order"): an order edit
        (``oms.edits``) begun, staged and committed at once, on the version the page showed
        (the form's ``version``: a page older than the order is refused, nothing changes)."""
        key = viewer(request, deployment)
        require_action(request)
        require_write(key, Scope.OPERATIONS)
        oms = deployment.oms
        order = order_in_reach(key, oms.orders.get(order_id))
        try:
            if data.get("version", "") != str(order.version):
                raise InvalidCommand([f"version: the order is at version {order.version} "
                                      "now; look at it again and redo the change"])
            quantities = _edited_quantities(order, data)
            if not quantities:
                return self._order_page(deployment, key, order, "Nothing to change.")
            edit = oms.edits.begin(order.id, channel="operations", actor=f"key:{key.name}")
            try:
                oms.edits.stage(edit.id, quantities=quantities)
                oms.edits.commit(edit.id)
            except OmsError:
                oms.edits.abandon(edit.id)
                raise
        except OmsError as exc:
            return self._order_page(deployment, key, oms.orders.get(order.id), str(exc))
        return self._order_page(deployment, key, oms.orders.get(order.id), "Order edited.")

    @get("/exceptions", sync_to_thread=True)
    def exceptions(self, request: Request[Any, Any, Any], deployment: Dep,
                   kind: FromQuery[str] = "") -> Template:
        """The exceptions queue, with the late-orders chart and each row's action."""
        key = viewer(request, deployment)
        _operations(key)
        late = deployment.oms.monitor.exceptions(kinds=[ExceptionKind.LATE])
        return page("exceptions.html.j2", key, kind=kind,
                    kinds=[k.value for k in ExceptionKind],
                    chart=late_orders_chart(late, deployment.clock().date()),
                    **self._exceptions(deployment, key, kind))

    @post("/exceptions/orders/{order_id:str}/holds/{code:str}/release", sync_to_thread=True,
          status_code=200)
    def exception_release_hold(self, request: Request[Any, Any, Any], deployment: Dep,
                               order_id: FromPath[str], code: FromPath[str],
                               kind: FromQuery[str] = "") -> Template:
        """Release a held order's hold from the queue; answers the queue."""
        key = viewer(request, deployment)
        require_action(request)
        require_write(key, Scope.OPERATIONS)
        message = ""
        try:
            deployment.oms.orders.release_hold(order_id, code)
        except OmsError as exc:
            message = str(exc)
        return page("_exceptions.html.j2", key,
                    **self._exceptions(deployment, key, kind, message))

    @post("/exceptions/outbox/{seq:int}/{action:str}", sync_to_thread=True, status_code=200)
    def exception_outbox(self, request: Request[Any, Any, Any], deployment: Dep,
                         seq: FromPath[int], action: FromPath[str],
                         kind: FromQuery[str] = "") -> Template:
        """Retry or skip a parked event from the queue; answers the queue."""
        key = viewer(request, deployment)
        require_action(request)
        require_write(key, Scope.OPERATIONS)
        message = ""
        try:
            if action == "retry":
                deployment.oms.outbox.retry(seq)
            elif action == "skip":
                deployment.oms.outbox.skip(seq, reason=f"skipped by {key.name}")
            else:
                raise InvalidCommand([f"action: unknown action {action!r}"])
        except OmsError as exc:
            message = str(exc)
        return page("_exceptions.html.j2", key,
                    **self._exceptions(deployment, key, kind, message))

    def _exceptions(self, deployment: Deployment, key: ApiKey, kind: str,
                    message: str = "") -> dict[str, Any]:
        oms = deployment.oms
        found = oms.monitor.exceptions(kinds=[kind] if kind else None)
        externals = {o: oms.orders.get(o).external_id
                     for o in {x.order_id for x in found[:200] if x.order_id}}
        return {"exceptions": found[:200], "externals": externals, "message": message,
                "query": f"?kind={kind}" if kind else "",
                "can_change": key.writes and key.scope in (Scope.ADMIN, Scope.OPERATIONS)}

    @get("/stock", sync_to_thread=True)
    def stock(self, request: Request[Any, Any, Any], deployment: Dep,
              sku: FromQuery[str] = "") -> Template:
        """A SKU's stock at every location, with what is in transit."""
        key = viewer(request, deployment)
        _operations(key)
        found = deployment.oms.inventory.stock(sku) if sku else None
        return page("stock.html.j2", key, sku=sku, stock=found)

    @get("/purchase-orders", sync_to_thread=True)
    def purchase_orders(self, request: Request[Any, Any, Any], deployment: Dep) -> Template:
        """Dropship: every supplier's open purchase orders (to be sent, answered or
        shipped), oldest first, with the order they serve and the last error."""
        key = viewer(request, deployment)
        _operations(key)
        oms = deployment.oms
        found = oms.dropship.purchase_orders(statuses=OPEN_PURCHASE_ORDERS, limit=500)
        externals = {o: oms.orders.get(o).external_id for o in {po.order_id for po in found}}
        return page("purchase_orders.html.j2", key, purchase_orders=found,
                    externals=externals, suppliers=oms.dropship.suppliers())

    @get("/store/{code:str}", sync_to_thread=True)
    def store(self, request: Request[Any, Any, Any], deployment: Dep,
              code: FromPath[str]) -> Template:
        """A store associate's page: the store's work queue with its next steps, and its
        pickups (ready, collected)."""
        key = viewer(request, deployment)
        location_in_reach(key, code)
        return page("store.html.j2", key, **self._queue(deployment, code))

    @get("/store/{code:str}/pick-list", sync_to_thread=True)
    def pick_list(self, request: Request[Any, Any, Any], deployment: Dep,
                  code: FromPath[str]) -> Response[str]:
        """The store's pick list for everything released or accepted (printable HTML)."""
        key = viewer(request, deployment)
        location_in_reach(key, code)
        return Response(deployment.oms.shipping.pick_list(code), media_type="text/html")

    @post("/store/{code:str}/fulfilment-orders/{fo_id:str}/{step:str}", sync_to_thread=True,
          status_code=200)
    def step(self, request: Request[Any, Any, Any], deployment: Dep, code: FromPath[str],
             fo_id: FromPath[str], step: FromPath[str],
             data: Annotated[dict[str, str] | None, Body(
                 media_type=RequestEncodingType.URL_ENCODED)] = None) -> Template:
        """One step of a fulfilment order from the store's page; answers the queue."""
        key = viewer(request, deployment)
        require_action(request)
        require_write(key, Scope.OPERATIONS, Scope.STORE)
        location_in_reach(key, code)
        fulfillment = deployment.oms.fulfillment
        fo = fulfillment_in_reach(key, fulfillment.get(fo_id))
        form = data or {}
        message = ""
        try:
            if fo.location != code:
                raise InvalidCommand([f"fulfilment order {fo_id} is not at {code}"])
            if step == "accept":
                fulfillment.accept(fo_id)
            elif step == "pick":
                fulfillment.pick(fo_id)
            elif step == "pack":
                fulfillment.pack(fo_id)
            elif step == "ship":
                fulfillment.ship(fo_id, carrier=form.get("carrier", "").strip(),
                                 tracking_number=form.get("tracking_number", "").strip())
            elif step == "reject":
                fulfillment.reject(fo_id, form.get("reason", "").strip())
            elif step == "ready":
                deployment.oms.pickups.ready(fo_id)
            elif step == "collect":
                # Everything ready, once: a second click finds it delivered (409, shown).
                deployment.oms.pickups.collect(fo_id, collection_id=f"desk-{fo_id}")
            else:
                raise InvalidCommand([f"step: unknown step {step!r}"])
        except OmsError as exc:
            message = str(exc)
        return page("_queue.html.j2", key, message=message, **self._queue(deployment, code))

    def _queue(self, deployment: Deployment, code: str) -> dict[str, Any]:
        oms = deployment.oms
        queue = oms.fulfillment.at_location(code, QUEUE_STATUSES)
        orders = {o: oms.orders.get(o) for o in {fo.order_id for fo in queue}}
        # A pickup handed over here: the store readies it and the customer collects it.
        pickups = {fo.id for fo in queue
                   if orders[fo.order_id].delivery.kind is DeliveryKind.PICKUP
                   and orders[fo.order_id].delivery.pickup_location == code}
        return {"location": oms.inventory.location(code), "queue": queue,
                "externals": {o: order.external_id for o, order in orders.items()},
                "steps": NEXT_STEPS, "pickups": pickups}


@get("/track/{token:str}", sync_to_thread=True, include_in_schema=False)
def track(deployment: Dep, token: FromPath[str]) -> Template:
    """The customer's page: the order's status, expected date and tracking events."""
    order_id = deployment.tracking_links.order_id(token)
    if order_id is None:
        return Template(template_name="track.html.j2", status_code=404,
                        context={"viewer": None, "htmx": HTMX, "order": None})
    return _track_page(deployment, token, order_id)


def _track_page(deployment: Deployment, token: str, order_id: str, *,
                saved: bool = False) -> Template:
    oms = deployment.oms
    order = oms.orders.get(order_id)
    events = {s.id: [e for p in s.parcels for e in oms.shipping.tracking_events(p.id)]
              for fo in order.fulfillment_orders for s in fo.shipments}
    media = oms.notifications.preferences(order.customer.id).get(order.channel, "email")
    return page("track.html.j2", None, order=order, events=events, token=token,
                media=media, saved=saved,
                status_text=CUSTOMER_STATUS.get(order.status, str(order.status)))


@post("/track/{token:str}/messages", sync_to_thread=True, include_in_schema=False,
      status_code=200)
def track_messages(request: Request[Any, Any, Any], deployment: Dep, token: FromPath[str],
                   data: Annotated[dict[str, str], Body(
                       media_type=RequestEncodingType.URL_ENCODED)]) -> Template:
    """The customer chooses, from their tracking page, whether this shop's channel sends
    them e-mails about their orders (``email`` or ``none``)."""
    require_action(request)
    order_id = deployment.tracking_links.order_id(token)
    if order_id is None:
        return Template(template_name="track.html.j2", status_code=404,
                        context={"viewer": None, "htmx": HTMX, "order": None})
    order = deployment.oms.orders.get(order_id)
    deployment.oms.notifications.set_preference(order.customer.id, order.channel,
                                                data.get("media", ""))
    return _track_page(deployment, token, order_id, saved=True)


def _edited_quantities(order: Order, form: dict[str, str]) -> dict[str, int]:
    """The new quantities the edit form asks for (``qty-<line id>``), only those that
    differ from the line's units not cancelled; a value that is not a whole number is an
    ``InvalidCommand``."""
    changed: dict[str, int] = {}
    problems: list[str] = []
    for line in order.lines:
        raw = form.get(f"qty-{line.line_id}", "").strip()
        if not raw:
            continue
        try:
            wanted = int(raw)
        except ValueError:
            problems.append(f"line {line.line_id}: {raw!r} is not a whole number")
            continue
        if wanted != line.open_quantity:
            changed[line.line_id] = wanted
    if problems:
        raise InvalidCommand(problems, subject="order edit")
    return changed


def _operations(key: ApiKey) -> None:
    if not key.sees_everything:
        raise PermissionDeniedException("this page is for operations")
