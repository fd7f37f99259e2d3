"""Customer notifications (issue 12, item 2), on SQLite and PostgreSQL: one message per event
and recipient however often the event is delivered or however many workers race for it; in
the order's language and the channel's brand; customers' preferences; a template error and a
failed send recorded on the message, changing nothing else; retries by the sweep."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import attrs
import pytest

from omskit import (
    Event,
    InvalidCommand,
    InvalidSettings,
    ManualCarriers,
    NotificationKind,
    NotificationNotFound,
    NotificationStatus,
    NotifierRefused,
    NotifierUnavailable,
    Oms,
    OrderEvent,
    PluginError,
    hookimpl,
)
from omskit.testing import (
    MutableClock,
    RecordingNotifier,
    SimulatedCrash,
    location,
    order_command,
    table_contents,
)

S = NotificationStatus
SETTINGS = {"notifications": {
    "default_language": "en",
    "channels": {"web": {"brand": "Bottega Rossi", "from": "ordini@bottega.example",
                         "language": "it", "colours": {"primary": "#aa0000"},
                         "tracking_url": "https://track.example/{carrier}/{tracking_number}"}},
}}


class Notifiers:
    def __init__(self, *notifiers: RecordingNotifier) -> None:
        self.notifiers = notifiers

    @hookimpl
    def omskit_register_notifiers(self, register: Callable[[Any], None]) -> None:
        for n in self.notifiers:
            register(n)


@pytest.fixture
def clock() -> MutableClock:
    return MutableClock()


@pytest.fixture
def mail() -> RecordingNotifier:
    return RecordingNotifier("mail", "email")


def shop_of(make_oms: Callable[..., Oms], clock: MutableClock, *notifiers: RecordingNotifier,
            settings: dict[str, Any] | None = None, **kwargs: Any) -> Oms:
    oms = make_oms(plugins=[Notifiers(*notifiers), ManualCarriers("brt")], clock=clock,
                   settings=SETTINGS if settings is None else settings, **kwargs)
    oms.inventory.save_location(location("dc-milan", 45.47, 9.19))
    oms.inventory.receive("dc-milan", "SKU-1", 10)
    return oms


@pytest.fixture
def shop(make_oms: Callable[..., Oms], clock: MutableClock, mail: RecordingNotifier) -> Oms:
    return shop_of(make_oms, clock, mail)


def placed_event(oms: Oms, order_id: str) -> Event:
    (event,) = [e.event for e in oms.orders.timeline(order_id)
                if e.event_type == "order.placed"]
    return event


def others(oms: Oms) -> dict[str, Any]:
    """Every table but the notifications'."""
    return {k: v for k, v in table_contents(oms).items() if not k.endswith("notifications")}


def test_an_order_confirmation_is_sent_once_in_the_channels_language_and_brand(
        shop: Oms, mail: RecordingNotifier) -> None:
    order = shop.orders.place(order_command("N-1", {"SKU-1": 1}))
    (message,) = mail.sent
    assert message.subject == "Ordine N-1 confermato"  # the web channel speaks Italian
    assert message.recipient == "test@example.com"
    assert message.sender == "ordini@bottega.example"
    assert "Grazie per il tuo ordine N-1" in message.text
    assert "Il team Bottega Rossi" in message.text
    assert "#aa0000" in message.html
    assert "<h1" in message.html
    (record,) = shop.notifications.list(order_id=order.id)
    assert record.status is S.SENT
    assert record.provider_message_id == "mail-1"
    assert record.kind is NotificationKind.ORDER_CONFIRMED
    assert record.id == message.notification_id


def test_the_orders_language_wins_and_other_channels_use_the_default(
        make_oms: Callable[..., Oms], clock: MutableClock, mail: RecordingNotifier) -> None:
    shop = shop_of(make_oms, clock, mail)
    shop.orders.place(attrs.evolve(order_command("N-2", {"SKU-1": 1}),
                                   metadata={"language": "en-GB"}))
    shop.orders.place(attrs.evolve(order_command("N-3", {"SKU-1": 1}), channel="store"))
    assert [m.subject for m in mail.sent] == ["Order N-2 confirmed", "Order N-3 confirmed"]
    assert mail.sent[1].brand == "omskit"


def test_an_event_delivered_twice_sends_one_message(shop: Oms,
                                                    mail: RecordingNotifier) -> None:
    order = shop.orders.place(order_command("N-4", {"SKU-1": 1}))
    event = placed_event(shop, order.id)
    assert shop.notifications.notify(event) == []
    assert shop.notifications.notify(event) == []
    assert len(mail.sent) == 1
    assert len(shop.notifications.list(order_id=order.id)) == 1


class SlowNotifier(RecordingNotifier):
    """Holds each send until both racers have claimed (or tried to)."""

    def __init__(self) -> None:
        super().__init__("slow", "email")
        self.release = threading.Event()

    def send(self, message: Any) -> str:
        self.release.wait(timeout=30)
        return super().send(message)


def test_two_workers_racing_for_one_event_send_one_message(
        make_oms: Callable[..., Oms], clock: MutableClock) -> None:
    slow = SlowNotifier()
    shop = shop_of(make_oms, clock, slow, dispatch="deferred")
    order = shop.orders.place(order_command("N-5", {"SKU-1": 1}))
    event = placed_event(shop, order.id)
    start = threading.Barrier(2)
    results: list[Any] = [None, None]

    def worker(i: int) -> None:
        start.wait()
        results[i] = shop.notifications.notify(event)
        slow.release.set()  # the loser returns at once; it lets the winner finish

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(len(r) for r in results) == [0, 1]
    assert len(slow.sent) == 1
    (record,) = shop.notifications.list(order_id=order.id)
    assert record.status is S.SENT
    shop.outbox.dispatch_pending()  # the outbox's own delivery finds it sent too
    assert len(slow.sent) == 1


def test_preferences_per_channel_silence_email_but_not_webhooks(
        make_oms: Callable[..., Oms], clock: MutableClock, mail: RecordingNotifier) -> None:
    hooks = RecordingNotifier("hooks", "webhook")
    shop = shop_of(make_oms, clock, mail, hooks)
    assert shop.notifications.set_preference("customer-1", "web", "none") == {"web": "none"}
    shop.orders.place(order_command("N-6", {"SKU-1": 1}))
    assert mail.sent == []
    (posted,) = hooks.sent
    assert posted.recipient == "hooks"
    assert posted.data["order"]["external_id"] == "N-6"
    shop.notifications.set_preference("customer-1", "web", "email")
    shop.orders.place(order_command("N-7", {"SKU-1": 1}))
    assert [m.subject for m in mail.sent] == ["Ordine N-7 confermato"]


def test_a_preference_for_an_unknown_medium_is_refused_and_changes_nothing(shop: Oms) -> None:
    before = table_contents(shop)
    with pytest.raises(InvalidCommand, match="media"):
        shop.notifications.set_preference("customer-1", "web", "sms")
    with pytest.raises(InvalidCommand):
        shop.execute(shop.command("set_notification_preference",
                                  {"customer_id": "c", "channel": "Not A Code",
                                   "media": "email"}))
    assert table_contents(shop) == before


def test_shipped_out_for_delivery_and_delivered_carry_the_tracking_link(
        shop: Oms, mail: RecordingNotifier) -> None:
    order = shop.orders.place(attrs.evolve(order_command("N-8", {"SKU-1": 1}),
                                           metadata={"language": "en"}))
    (fo,) = order.fulfillment_orders
    shop.fulfillment.release(order.id)
    for step in (shop.fulfillment.accept, shop.fulfillment.pick, shop.fulfillment.pack):
        step(fo.id)
    shop.fulfillment.ship(fo.id, carrier="brt", tracking_number="BRT-9")
    shop.fulfillment.deliver(fo.id)
    kinds = [m.kind for m in mail.sent]
    assert kinds == [NotificationKind.ORDER_CONFIRMED, NotificationKind.ORDER_SHIPPED,
                     NotificationKind.ORDER_DELIVERED]
    shipped = mail.sent[1]
    assert "https://track.example/brt/BRT-9" in shipped.text
    assert 'href="https://track.example/brt/BRT-9"' in shipped.html


def test_backordered_and_cancelled_orders_are_told(shop: Oms, mail: RecordingNotifier) -> None:
    order = shop.orders.place(attrs.evolve(order_command("N-9", {"SKU-1": 50}),
                                           metadata={"language": "en"}))
    shop.orders.cancel(order.id, "customer asked")
    assert [m.kind for m in mail.sent] == [NotificationKind.ORDER_CONFIRMED,
                                           NotificationKind.ORDER_BACKORDERED,
                                           NotificationKind.ORDER_CANCELLED]


@attrs.frozen(kw_only=True)
class PickupReady(OrderEvent):
    """Stands in for the pickup branch's event: notified by its type name."""

    event_type = "pickup.ready"
    location: str
    collect_by: Any


def test_events_of_other_parts_are_notified_by_their_type_name(
        shop: Oms, mail: RecordingNotifier, clock: MutableClock) -> None:
    order = shop.orders.place(order_command("N-10", {"SKU-1": 1}))
    event = PickupReady(order=order.id, location="Roma Centro",
                        collect_by=clock() + timedelta(days=7))
    (record,) = shop.notifications.notify(event)
    assert record.kind is NotificationKind.READY_FOR_PICKUP
    assert "Roma Centro" in mail.sent[-1].text
    assert shop.notifications.notify(event) == []


def test_a_template_error_is_recorded_and_changes_nothing_else(
        make_oms: Callable[..., Oms], clock: MutableClock, mail: RecordingNotifier,
        tmp_path: Path) -> None:
    (tmp_path / "it").mkdir()
    (tmp_path / "it" / "order_confirmed.txt.j2").write_text(
        "{% set subject %}Ordine {{ order.nope }}{% endset %}x", encoding="utf-8")
    settings = {"notifications": {**SETTINGS["notifications"], "templates": str(tmp_path)}}
    shop = shop_of(make_oms, clock, mail, settings=settings, dispatch="deferred")
    order = shop.orders.place(order_command("N-11", {"SKU-1": 1}))
    before = others(shop)
    (record,) = shop.notifications.notify(placed_event(shop, order.id))
    assert record.status is S.FAILED
    assert "template" in record.last_error
    assert "nope" in record.last_error
    assert mail.sent == []
    assert others(shop) == before
    shop.outbox.dispatch_pending()  # the event's delivery succeeds: nothing parked
    assert shop.outbox.parked() == []


def test_a_retryable_failure_is_sent_again_by_the_sweep_with_backoff(
        shop: Oms, mail: RecordingNotifier, clock: MutableClock) -> None:
    mail.fail_next(NotifierUnavailable("connection refused"), times=2)
    order = shop.orders.place(order_command("N-12", {"SKU-1": 1}))
    (record,) = shop.notifications.list(order_id=order.id)
    assert record.status is S.RETRYING
    assert record.last_error == "connection refused"
    assert record.next_attempt_at == clock() + timedelta(minutes=1)
    assert shop.orders.get(order.id).status.value == "allocated"
    assert shop.sweeps.run(jobs=["notifications"]).notifications_retried == 0  # not yet due
    clock.advance(timedelta(minutes=1))
    assert shop.sweeps.run(jobs=["notifications"]).notifications_retried == 1
    again = shop.notifications.get(record.id)
    assert again.attempts == 2
    assert again.next_attempt_at == clock() + timedelta(minutes=2)  # doubled
    clock.advance(timedelta(minutes=2))
    shop.sweeps.run(jobs=["notifications"])
    done = shop.notifications.get(record.id)
    assert done.status is S.SENT
    assert done.attempts == 3
    assert len(mail.sent) == 1
    assert shop.sweeps.run(jobs=["notifications"]).notifications_retried == 0


def test_a_permanent_failure_is_not_retried_until_an_operator_asks(
        shop: Oms, mail: RecordingNotifier, clock: MutableClock) -> None:
    mail.fail_next(NotifierRefused("550 no such user"))
    order = shop.orders.place(order_command("N-13", {"SKU-1": 1}))
    (record,) = shop.notifications.list(order_id=order.id)
    assert record.status is S.FAILED
    clock.advance(timedelta(days=1))
    assert shop.sweeps.run(jobs=["notifications"]).notifications_retried == 0
    retried = shop.execute(shop.command("retry_notification",
                                        {"notification_id": record.id}))
    assert retried.status is S.SENT
    assert len(mail.sent) == 1
    assert shop.notifications.retry(record.id).status is S.SENT  # sent: unchanged
    assert len(mail.sent) == 1
    with pytest.raises(NotificationNotFound):
        shop.notifications.retry("nope")


def test_without_a_notifier_placement_still_settles_its_events_on_write(
        oms: Oms) -> None:
    oms.inventory.save_location(location("dc-milan", 45.47, 9.19))
    oms.inventory.receive("dc-milan", "SKU-1", 10)
    oms.orders.place(order_command("N-14", {"SKU-1": 1}))
    with oms.engine.connect() as conn:
        ob = oms.tables.outbox
        pending = conn.execute(ob.select().where(ob.c.event_type == "order.placed",
                                                 ob.c.dispatched_at.is_(None))).all()
    assert pending == []
    assert oms.notifications.list() == []


def test_wrong_notification_settings_are_refused_at_bootstrap(
        make_oms: Callable[..., Oms]) -> None:
    with pytest.raises(InvalidSettings) as raised:
        make_oms(settings={"notifications": {"default_language": "fr", "colour": 1,
                                             "channels": {"web": {"colours": {"x": "red"}}}}})
    text = str(raised.value)
    assert "default_language" in text
    assert "notifications.colour" in text
    assert "colours" in text


def test_a_notifier_that_does_not_fit_stops_bootstrap_naming_the_plugin(
        make_oms: Callable[..., Oms]) -> None:
    class NoMedia:
        code = "broken"

        def send(self, message: Any) -> str:
            return "x"

    with pytest.raises(PluginError, match="media"):
        make_oms(plugins=[Notifiers(NoMedia())])  # type: ignore[arg-type]


def test_a_sender_that_died_mid_send_leaves_the_message_to_the_sweep(
        make_oms: Callable[..., Oms], clock: MutableClock, mail: RecordingNotifier) -> None:
    shop = shop_of(make_oms, clock, mail, dispatch="deferred")
    order = shop.orders.place(order_command("N-15", {"SKU-1": 1}))
    mail.fail_next(SimulatedCrash("the worker died"))
    with pytest.raises(SimulatedCrash):
        shop.notifications.notify(placed_event(shop, order.id))
    (record,) = shop.notifications.list(order_id=order.id)
    assert record.status is S.SENDING
    assert shop.notifications.notify(placed_event(shop, order.id)) == []  # still claimed
    assert shop.sweeps.run(jobs=["notifications"]).notifications_retried == 0  # lease holds
    clock.advance(timedelta(minutes=5))
    assert shop.sweeps.run(jobs=["notifications"]).notifications_retried == 1
    done = shop.notifications.get(record.id)
    assert done.status is S.SENT
    assert done.attempts == 2
    assert len(mail.sent) == 1
