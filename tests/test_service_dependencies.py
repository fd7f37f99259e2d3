"""Services take their collaborators explicitly (decision 28): each constructor's keyword
arguments, with types, are the whole list of what the service depends on, and each is used."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import typing

import pytest

import omskit.services
from omskit.app import Oms
from omskit.registries import Registries
from omskit.services.handle import Services


def service_classes() -> list[type]:
    """Every ``...Service`` class defined in a module of ``omskit.services``."""
    found: list[type] = []
    for info in pkgutil.iter_modules(omskit.services.__path__):
        module = importlib.import_module(f"omskit.services.{info.name}")
        found.extend(obj for name, obj in vars(module).items()
                     if inspect.isclass(obj) and name.endswith("Service")
                     and obj.__module__ == module.__name__)
    return sorted(found, key=lambda c: c.__name__)


def test_every_service_is_found() -> None:
    names = {c.__name__ for c in service_classes()}
    assert {"OrderService", "InventoryService", "FulfillmentService", "ChannelService",
            "PromiseService", "CartService", "OutboxService"} <= names


@pytest.mark.parametrize("service", service_classes(), ids=lambda c: c.__name__)
def test_a_service_takes_typed_keyword_collaborators_and_no_bag(service: type) -> None:
    parameters = list(inspect.signature(service.__init__).parameters.values())[1:]
    assert parameters, f"{service.__name__} takes no collaborators"
    positional = [p.name for p in parameters if p.kind is not inspect.Parameter.KEYWORD_ONLY]
    assert positional == [], f"{service.__name__}: keyword-only, please: {positional}"
    hints = typing.get_type_hints(service.__init__)
    for p in parameters:
        assert p.name in hints, f"{service.__name__}({p.name}=...) has no type"
        assert hints[p.name] not in (Oms, Services, Registries, typing.Any, object), (
            f"{service.__name__}({p.name}=...) is a bag: pass the collaborators it uses")


@pytest.mark.parametrize("service", service_classes(), ids=lambda c: c.__name__)
def test_a_service_uses_every_collaborator_it_takes(service: type) -> None:
    source = inspect.getsource(service)
    parameters = list(inspect.signature(service.__init__).parameters)[1:]
    unused = [name for name in parameters if source.count(f"self._{name}") < 2]
    assert unused == [], f"{service.__name__} takes but never uses {unused}"
