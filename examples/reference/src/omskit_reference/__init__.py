"""The omskit reference deployment: a complete OMS an operator can run, built only from
omskit's public API and its plugins (an HTTP API with API keys and scopes)."""

from omskit_reference.app import create_app
from omskit_reference.deployment import Deployment
from omskit_reference.keys import ApiKey, ApiKeys, IssuedKey, Scope

__all__ = ["ApiKey", "ApiKeys", "Deployment", "IssuedKey", "Scope", "create_app"]
