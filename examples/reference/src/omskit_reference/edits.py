"""Order edits over HTTP (``oms.edits``): begin an edit of an order, stage changes on it
(quantities, lines added or removed, the shipping address, ship or pick up), preview what
committing would do (the new total and how the payment difference is settled), then commit
it on the order's version, or discard it.

An edit is begun on the order's current version and commits only on that version: the
commit also names it with ``If-Match`` (428 without it, 412 when the order has moved), and
omskit refuses an edit whose order moved since it began (``OrderEditConflict``, 409). A
retried begin or staging carries its ``Idempotency-Key`` into omskit (scoped to the API
key), so it begins or stages once.

Operations keys edit any order; a channel key edits its own channel's orders (and the edit
comes from its channel); read-only keys read edits and previews. Store keys do not edit.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Response, get, post
from litestar.params import FromPath, JSONBody
from omskit import EditStatus, Order, OrderEdit, OrderEditNotFound, OrderNotFound

from omskit_reference.access import acting_channel, order_in_reach, require, require_write
from omskit_reference.api import Dep, IdempotencyKey, IfMatch, Req, scoped_key
from omskit_reference.bodies import EditChanges, EditPreview, EditView, NewEdit
from omskit_reference.deployment import Deployment, change_at_version, reply
from omskit_reference.idempotency import Reply
from omskit_reference.keys import ApiKey, Scope
from omskit_reference.problems import ERRORS

#: Who edits orders, and who reads edits.
EDITORS = (Scope.OPERATIONS, Scope.CHANNEL)
READERS = (Scope.OPERATIONS, Scope.CHANNEL, Scope.READ)


def edit_in_reach(key: ApiKey, deployment: Deployment, edit_id: str) -> tuple[OrderEdit, Order]:
    """The edit and its order, if the key may see the order; else 404 for the edit."""
    edit = deployment.oms.edits.get(edit_id)
    try:
        order = order_in_reach(key, deployment.oms.orders.get(edit.order_id))
    except OrderNotFound as exc:
        raise OrderEditNotFound(edit_id) from exc
    return edit, order


class OrderEditController(Controller):
    """An order's edits: begin one, list them."""

    path = "/orders/{order_id:str}/edits"
    tags = ["order edits"]

    @post(sync_to_thread=True, responses=ERRORS, status_code=201)
    def begin(self, request: Req, deployment: Dep, order_id: FromPath[str],
              data: JSONBody[NewEdit], idempotency_key: IdempotencyKey) -> Response[EditView]:
        """Begin an edit on the order's current version (a cancelled, completed or fully
        shipped order is not editable: 409)."""
        key = request.user
        require_write(key, *EDITORS)
        channel = acting_channel(key, data.channel, default="operations")
        core = scoped_key(request)

        def work() -> Reply:
            order_in_reach(key, deployment.oms.orders.get(order_id))
            edit = deployment.oms.edits.begin(order_id, channel=channel, actor=data.actor,
                                              idempotency_key=core)
            return reply(EditView.of(edit), status=201)
        return deployment.write(request, data, work)

    @get(sync_to_thread=True, responses=ERRORS)
    def list_edits(self, request: Req, deployment: Dep,
                   order_id: FromPath[str]) -> list[EditView]:
        """The order's edits, oldest first."""
        require(request.user, *READERS)
        order_in_reach(request.user, deployment.oms.orders.get(order_id))
        return [EditView.of(e) for e in deployment.oms.edits.for_order(order_id)]


class EditController(Controller):
    """One edit: read it, stage changes, preview, commit, discard."""

    path = "/order-edits"
    tags = ["order edits"]

    @get("/{edit_id:str}", sync_to_thread=True, responses=ERRORS)
    def read(self, request: Req, deployment: Dep, edit_id: FromPath[str]) -> EditView:
        """One edit (an open one past its time reads as ``expired``)."""
        require(request.user, *READERS)
        return EditView.of(edit_in_reach(request.user, deployment, edit_id)[0])

    @get("/{edit_id:str}/preview", sync_to_thread=True, responses=ERRORS)
    def preview(self, request: Req, deployment: Dep, edit_id: FromPath[str]) -> EditPreview:
        """What committing the edit now would do, without doing it: the new lines and total,
        the routing of what changed, the promised date, the payment difference and how it
        would be settled. It refuses what the commit would (409 when the order moved)."""
        require(request.user, *READERS)
        edit_in_reach(request.user, deployment, edit_id)
        summary = deployment.oms.edits.preview(edit_id)
        return EditPreview(summary=summary, payment_difference=summary.payment_difference,
                           address_changed=summary.address_changed,
                           delivery_changed=summary.delivery_changed)

    def _step(self, request: Req, deployment: Deployment, edit_id: str, body: object,
              step: Any) -> Response[EditView]:
        require_write(request.user, *EDITORS)

        def work() -> Reply:
            edit_in_reach(request.user, deployment, edit_id)
            return reply(EditView.of(step()))
        return deployment.write(request, body, work)

    @post("/{edit_id:str}/changes", sync_to_thread=True, responses=ERRORS, status_code=200)
    def stage(self, request: Req, deployment: Dep, edit_id: FromPath[str],
              data: JSONBody[EditChanges],
              idempotency_key: IdempotencyKey) -> Response[EditView]:
        """Stage changes; a later quantity of a line replaces an earlier one. Checked against
        the order as it is now: an unknown line is 404, a line already released for picking
        409, a SKU nobody stocks 422."""
        core = scoped_key(request)
        return self._step(request, deployment, edit_id, data,
                          lambda: deployment.oms.edits.stage(
                              edit_id, quantities=data.quantities,
                              add_lines=list(data.add_lines),
                              remove_lines=list(data.remove_lines),
                              shipping_address=data.shipping_address, delivery=data.delivery,
                              idempotency_key=core))

    @post("/{edit_id:str}/commit", sync_to_thread=True, responses=ERRORS, status_code=200)
    def commit(self, request: Req, deployment: Dep, edit_id: FromPath[str],
               idempotency_key: IdempotencyKey, if_match: IfMatch) -> Response[EditView]:
        """Apply the edit in one transaction; ``If-Match`` names the order's version (the
        answer's ``ETag`` is the order's new one). The payment difference is settled after.
        Committing a committed edit answers it as it is."""
        key = request.user
        require_write(key, *EDITORS)

        def work() -> Reply:
            edit, order = edit_in_reach(key, deployment, edit_id)
            if edit.status is EditStatus.COMMITTED:
                done = deployment.oms.edits.commit(edit_id)
            else:
                done = change_at_version(request.headers, deployment.oms, order,
                                         lambda: deployment.oms.edits.commit(edit_id))
            return reply(EditView.of(done), order=deployment.oms.orders.get(done.order_id))
        return deployment.write(request, None, work)

    @post("/{edit_id:str}/discard", sync_to_thread=True, responses=ERRORS, status_code=200)
    def discard(self, request: Req, deployment: Dep, edit_id: FromPath[str],
                idempotency_key: IdempotencyKey) -> Response[EditView]:
        """Give the edit up: it changed nothing and held nothing (a committed one: 409)."""
        return self._step(request, deployment, edit_id, None,
                          lambda: deployment.oms.edits.abandon(edit_id))


CONTROLLERS = [OrderEditController, EditController]
