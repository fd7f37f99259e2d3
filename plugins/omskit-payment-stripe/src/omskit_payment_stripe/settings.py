"""``settings["payment_stripe"]``: the Stripe account's keys and how the plugin talks to it.

omskit passes the ``bootstrap(settings=...)`` mapping to ``omskit_register_payment_providers``
and to ``omskit_validate_settings`` (decision 12), so every ``Oms`` builds its own provider
from its own key. :func:`parse` reads the section into :class:`StripeSettings` and lists
every problem, as ``"payment_stripe.<field>: <what is wrong>"``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final

import attrs
import stripe

#: The key of ``bootstrap(settings=...)`` this plugin reads.
SETTINGS_KEY: Final = "payment_stripe"
#: Seconds a webhook's signature stays acceptable (the SDK's default).
DEFAULT_TOLERANCE: Final = 300
#: Seconds an API call may take before it is given up (its outcome is then unknown).
DEFAULT_TIMEOUT: Final = 30.0
#: The API version this plugin's request and event shapes are written and tested against.
TESTED_API_VERSION: Final = str(stripe.api_version)

_SECRET_KEY = re.compile(r"(sk|rk)_(test|live)_[A-Za-z0-9_]+")
_WEBHOOK_SECRET = re.compile(r"whsec_[A-Za-z0-9_]+")
_API_VERSION = re.compile(r"\d{4}-\d{2}-\d{2}(\.[a-z]+)?")
_FIELDS = ("secret_key", "webhook_secret", "api_version", "webhook_tolerance", "multicapture",
           "timeout")


@attrs.frozen(kw_only=True)
class StripeSettings:
    """The parsed settings of one Stripe account."""

    #: The secret (``sk_...``) or restricted (``rk_...``) API key.
    secret_key: str = attrs.field(repr=False)
    #: The webhook endpoint's signing secret (``whsec_...``).
    webhook_secret: str = attrs.field(repr=False)
    #: The ``Stripe-Version`` every call sends; set the webhook endpoint to the same one.
    api_version: str = TESTED_API_VERSION
    #: How old a webhook's signature may be, in seconds.
    webhook_tolerance: int = DEFAULT_TOLERANCE
    #: Whether the account has multicapture (an IC+ feature): several captures per payment.
    multicapture: bool = False
    #: Seconds before an API call is given up.
    timeout: float = DEFAULT_TIMEOUT

    @property
    def live(self) -> bool:
        """Whether the key moves real money."""
        return "_live_" in self.secret_key


def parse(raw: object) -> tuple[StripeSettings | None, list[str]]:
    """The settings and every problem found (``None`` when there is any)."""
    if not isinstance(raw, Mapping):
        return None, [f"{SETTINGS_KEY}: must be an object with secret_key and webhook_secret"]
    problems = [f"{SETTINGS_KEY}.{k}: unknown field" for k in sorted(set(raw) - set(_FIELDS))]
    secret_key = raw.get("secret_key")
    if secret_key is None:
        problems.append(f"{SETTINGS_KEY}.secret_key: missing (the account's sk_... or rk_... "
                        "API key)")
    elif not isinstance(secret_key, str) or not _SECRET_KEY.fullmatch(secret_key):
        problems.append(f"{SETTINGS_KEY}.secret_key: not a Stripe secret or restricted key "
                        "(sk_test_..., sk_live_..., rk_...)")
    webhook_secret = raw.get("webhook_secret")
    if webhook_secret is None:
        problems.append(f"{SETTINGS_KEY}.webhook_secret: missing (the webhook endpoint's "
                        "whsec_... signing secret)")
    elif not isinstance(webhook_secret, str) or not _WEBHOOK_SECRET.fullmatch(webhook_secret):
        problems.append(f"{SETTINGS_KEY}.webhook_secret: not a webhook signing secret "
                        "(whsec_...)")
    api_version = raw.get("api_version", TESTED_API_VERSION)
    if not isinstance(api_version, str) or not _API_VERSION.fullmatch(api_version):
        problems.append(f"{SETTINGS_KEY}.api_version: a Stripe API version like "
                        f"{TESTED_API_VERSION!r}")
    tolerance = raw.get("webhook_tolerance", DEFAULT_TOLERANCE)
    if isinstance(tolerance, bool) or not isinstance(tolerance, int) or tolerance < 1:
        problems.append(f"{SETTINGS_KEY}.webhook_tolerance: whole seconds ≥ 1, not "
                        f"{tolerance!r}")
    multicapture = raw.get("multicapture", False)
    if not isinstance(multicapture, bool):
        problems.append(f"{SETTINGS_KEY}.multicapture: true or false, not {multicapture!r}")
    timeout = raw.get("timeout", DEFAULT_TIMEOUT)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not timeout > 0:
        problems.append(f"{SETTINGS_KEY}.timeout: seconds > 0, not {timeout!r}")
    if problems:
        return None, problems
    return StripeSettings(secret_key=str(secret_key), webhook_secret=str(webhook_secret),
                          api_version=str(api_version), webhook_tolerance=int(tolerance),
                          multicapture=bool(multicapture), timeout=float(timeout)), []


def validate(settings: Mapping[str, object]) -> list[str]:
    """Problems of ``settings["payment_stripe"]`` (none when the key is absent: the plugin
    then contributes no provider)."""
    if SETTINGS_KEY not in settings:
        return []
    return parse(settings[SETTINGS_KEY])[1]


def settings_of(settings: Mapping[str, object]) -> StripeSettings | None:
    """The parsed section, or ``None`` when it is absent or has problems."""
    if SETTINGS_KEY not in settings:
        return None
    return parse(settings[SETTINGS_KEY])[0]
