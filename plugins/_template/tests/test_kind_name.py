"""The plugin's behaviour, on SQLite and PostgreSQL (``make_oms`` runs each test on both)."""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from importlib import import_module
from pathlib import Path

from omskit import Oms
from omskit.testing import location, order_command

import omskit_kind_name

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def test_orders_above_the_limit_are_held(make_oms: Callable[..., Oms]) -> None:
    oms = make_oms(plugins=[omskit_kind_name])
    oms.inventory.save_location(location("dc-milan", 45.47, 9.19))
    oms.inventory.receive("dc-milan", "SKU-1", 100)

    big = oms.orders.place(order_command("BIG-1", {"SKU-1": 2}, unit_price="2500.01"))
    small = oms.orders.place(order_command("SMALL-1", {"SKU-1": 2}, unit_price="2500.00"))

    assert [hold.code for hold in big.active_holds] == ["high_value"]
    assert big.active_holds[0].reason == "total 5000.02 EUR is above 5000 EUR"
    assert small.active_holds == ()


def test_the_entry_point_names_this_package() -> None:
    # Catches a half-done rename: the distribution, the import package and the entry point
    # must all agree, or `pip install` gives a plugin omskit never loads.
    project = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]
    targets = list(project["entry-points"]["omskit"].values())

    assert project["name"].replace("-", "_") == omskit_kind_name.__name__
    assert targets == [omskit_kind_name.__name__]
    assert import_module(targets[0]) is omskit_kind_name
