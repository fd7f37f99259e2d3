"""``omskit notifications list|preferences|retry`` on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from click.testing import CliRunner, Result

from omskit import NotifierRefused, bootstrap, hookimpl
from omskit.cli import cli
from omskit.cli.main import user_error
from omskit.testing import RecordingNotifier, TestDatabase, location, order_command


def run(db: TestDatabase, *args: str) -> Result:
    """``omskit`` with ``args``; a typed error is left on the result (``main()`` prints it
    as ``error: <message>``)."""
    base = ["--db", db.url, "--no-plugins"]
    if db.schema:
        base += ["--schema", db.schema]
    return CliRunner().invoke(cli, [*base, *args])


class Mail:
    def __init__(self, notifier: RecordingNotifier) -> None:
        self.notifier = notifier

    @hookimpl
    def omskit_register_notifiers(self, register: Callable[[Any], None]) -> None:
        register(self.notifier)


def test_list_preferences_and_retry(omskit_database: TestDatabase) -> None:
    mail = RecordingNotifier("mail")
    mail.fail_next(NotifierRefused("550 no such user"))
    with bootstrap(omskit_database.url, schema=omskit_database.schema,
                   load_entrypoints=False, plugins=[Mail(mail)]) as oms:
        oms.upgrade()
        oms.inventory.save_location(location("dc-milano", 45.46, 9.19))
        oms.inventory.receive("dc-milano", "SKU-1", 5)
        order = oms.orders.place(order_command("W-1", {"SKU-1": 1}))
        (failed,) = oms.notifications.list(order_id=order.id)

    listed = json.loads(run(omskit_database, "notifications", "list", "--json").output)
    assert [(n["id"], n["status"], n["kind"]) for n in listed] == [
        (failed.id, "failed", "order_confirmed")]
    assert listed[0]["last_error"] == "550 no such user"
    assert json.loads(run(omskit_database, "notifications", "list", "--status", "sent",
                          "--json").output) == []

    # Without the notifier's plugin this process cannot send: the message stays waiting.
    retried = run(omskit_database, "notifications", "retry", failed.id)
    assert retried.exit_code == 0
    assert f"{failed.id}: retrying" in retried.output
    missing = run(omskit_database, "notifications", "retry", "nope")
    assert missing.exit_code == 1
    assert user_error(missing.exception) == "notification 'nope' not found"

    chosen = run(omskit_database, "notifications", "preferences", "customer-1",
                 "--set", "web=none", "--json")
    assert json.loads(chosen.output) == {"web": "none"}
    refused = run(omskit_database, "notifications", "preferences", "customer-1",
                  "--set", "web=sms")
    assert refused.exit_code == 1
    assert "media: must be one of email, none" in str(user_error(refused.exception))
    shown = run(omskit_database, "notifications", "preferences", "customer-1")
    assert shown.output.strip() == "customer-1 web: none"
