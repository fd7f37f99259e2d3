"""omskit-notify-smtp: customer e-mails through an SMTP server.

Contributes one notifier, ``smtp`` (media ``email``), built from ``settings["notify_smtp"]``
(``host``, ``port``, ``username``, ``password``, ``security``: ``none``, ``starttls`` or
``ssl``, ``timeout`` in seconds, ``code``); without the key the plugin contributes nothing.
Each message is a ``multipart/alternative`` e-mail with a text and an HTML part, its
``Message-ID`` made from the notification id (so a receiver may de-duplicate a message that
was sent again after a crash). Sent with the standard library's ``smtplib``.

An unreachable server, a timeout or a ``4xx`` answer is :class:`omskit.NotifierUnavailable`
(retried by omskit later); a ``5xx`` refusal (an unknown mailbox, a rejected sender, failed
authentication) is :class:`omskit.NotifierRefused`.
"""

from __future__ import annotations

import dataclasses
import smtplib
import ssl
from collections.abc import Callable, Mapping
from email.message import EmailMessage
from email.utils import formataddr, formatdate
from typing import Any

from omskit import NotificationMessage, Notifier, NotifierRefused, NotifierUnavailable, hookimpl

#: The key of ``settings`` this plugin reads.
SETTINGS_KEY = "notify_smtp"
_SECURITY = ("none", "starttls", "ssl")
_KEYS = {"host", "port", "username", "password", "security", "timeout", "code", "domain"}


@dataclasses.dataclass(frozen=True, kw_only=True)
class SmtpSettings:
    """Where and how to reach the SMTP server."""

    host: str
    port: int = 25
    username: str | None = None
    password: str | None = None
    #: ``none`` (plain), ``starttls`` (upgrade after connecting) or ``ssl`` (TLS from the
    #: start, usually port 465).
    security: str = "none"
    timeout: float = 10.0
    #: The notifier's code (``smtp``); another code lets one process run two servers.
    code: str = "smtp"
    #: The right-hand side of each ``Message-ID``.
    domain: str = "omskit.invalid"


def validate(settings: Mapping[str, Any]) -> list[str]:
    """Every problem of ``settings["notify_smtp"]`` (none when the key is absent)."""
    raw = settings.get(SETTINGS_KEY)
    if raw is None:
        return []
    if not isinstance(raw, Mapping):
        return [f"{SETTINGS_KEY}: must be a table"]
    problems = [f"{SETTINGS_KEY}.{key}: unknown key" for key in sorted(set(raw) - _KEYS)]
    if not isinstance(raw.get("host"), str) or not raw.get("host"):
        problems.append(f"{SETTINGS_KEY}.host: the SMTP server's host name is required")
    port = raw.get("port", 25)
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        problems.append(f"{SETTINGS_KEY}.port: must be a port number")
    if raw.get("security", "none") not in _SECURITY:
        problems.append(f"{SETTINGS_KEY}.security: must be one of {', '.join(_SECURITY)}")
    timeout = raw.get("timeout", 10)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
        problems.append(f"{SETTINGS_KEY}.timeout: must be a positive number of seconds")
    if ("username" in raw) != ("password" in raw):
        problems.append(f"{SETTINGS_KEY}: username and password go together")
    for key in ("username", "password", "code", "domain"):
        if key in raw and not isinstance(raw[key], str):
            problems.append(f"{SETTINGS_KEY}.{key}: must be a string")
    return problems


def settings_of(settings: Mapping[str, Any]) -> SmtpSettings | None:
    """The SMTP settings, or None when absent or wrong (``validate`` says why)."""
    raw = settings.get(SETTINGS_KEY)
    if raw is None or validate(settings):
        return None
    return SmtpSettings(**{k: raw[k] for k in _KEYS if k in raw})


def email_of(message: NotificationMessage, domain: str = "omskit.invalid") -> EmailMessage:
    """The e-mail for ``message``: text and HTML alternatives, from the channel's brand."""
    mail = EmailMessage()
    mail["From"] = formataddr((message.brand, message.sender)) if message.brand \
        else message.sender
    mail["To"] = message.recipient
    mail["Subject"] = message.subject
    mail["Date"] = formatdate(localtime=False)
    mail["Message-ID"] = f"<{message.notification_id}@{domain}>"
    mail["Content-Language"] = message.language
    # Which omskit message this is, for receivers that de-duplicate and for support.
    mail["X-Omskit-Notification-Id"] = message.notification_id
    mail.set_content(message.text)
    if message.html:
        mail.add_alternative(message.html, subtype="html")
    return mail


class SmtpNotifier:
    """Sends customer messages as e-mails through one SMTP server."""

    media = "email"

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings

    @property
    def code(self) -> str:
        """The notifier's code (``smtp`` unless configured otherwise)."""
        return self.settings.code

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        if s.security == "ssl":
            return smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout,
                                    context=ssl.create_default_context())
        client = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
        if s.security == "starttls":
            client.starttls(context=ssl.create_default_context())
        return client

    def send(self, message: NotificationMessage) -> str:
        """Send ``message``; its ``Message-ID``. ``NotifierUnavailable`` when the server
        cannot be reached or answers 4xx, ``NotifierRefused`` on a 5xx refusal."""
        mail = email_of(message, self.settings.domain)
        try:
            with self._connect() as client:
                if self.settings.username is not None:
                    client.login(self.settings.username, self.settings.password or "")
                client.send_message(mail)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            raise _by_code(min(codes) if codes else 550,
                           f"recipient refused: {exc.recipients}") from exc
        except smtplib.SMTPResponseException as exc:
            raise _by_code(exc.smtp_code, f"{exc.smtp_code} {exc.smtp_error!r}") from exc
        except (smtplib.SMTPException, OSError) as exc:
            # Connection refused or reset, a timeout, a server that hung up.
            raise NotifierUnavailable(
                f"SMTP server {self.settings.host}:{self.settings.port} unreachable: "
                f"{type(exc).__name__}: {exc}") from exc
        return str(mail["Message-ID"])


def _by_code(code: int, text: str) -> NotifierUnavailable | NotifierRefused:
    if 400 <= code < 500:
        return NotifierUnavailable(f"SMTP server said try later: {text}")
    return NotifierRefused(f"SMTP server refused the message: {text}")


class SmtpPlugin:
    """Registers an :class:`SmtpNotifier` built from ``settings["notify_smtp"]``, or the
    notifier it is given."""

    def __init__(self, notifier: SmtpNotifier | None = None) -> None:
        self.notifier = notifier

    @hookimpl
    def omskit_register_notifiers(self, register: Callable[[Notifier], None],
                                  settings: Mapping[str, Any]) -> None:
        """Contribute the SMTP notifier (none when ``notify_smtp`` is absent or wrong)."""
        if self.notifier is not None:
            register(self.notifier)
            return
        found = settings_of(settings)
        if found is not None:
            register(SmtpNotifier(found))

    @hookimpl
    def omskit_validate_settings(self, settings: Mapping[str, Any]) -> list[str]:
        """Every problem of ``settings["notify_smtp"]``."""
        return validate(settings) if self.notifier is None else []


@hookimpl
def omskit_register_notifiers(register: Callable[[Notifier], None],
                              settings: Mapping[str, Any]) -> None:
    """The entry point's notifier, from ``settings["notify_smtp"]`` (none without it)."""
    found = settings_of(settings)
    if found is not None:
        register(SmtpNotifier(found))


@hookimpl
def omskit_validate_settings(settings: Mapping[str, Any]) -> list[str]:
    """Every problem of ``settings["notify_smtp"]``, as ``"notify_smtp.<field>: ..."``."""
    return validate(settings)


__all__ = ["SETTINGS_KEY", "SmtpNotifier", "SmtpPlugin", "SmtpSettings", "email_of",
           "settings_of", "validate"]
