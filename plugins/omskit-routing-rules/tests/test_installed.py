"""The installed distribution is found through its entry point.

These tests need the distribution installed (``pip install -e plugins/omskit-routing-rules``),
since entry points are read from installed metadata, not from the source tree.
"""

from __future__ import annotations

import tomllib
from importlib import import_module
from importlib.metadata import version
from pathlib import Path

import pytest
from omskit import ENV_DISABLE_AUTOLOAD, ENV_DISABLED_PLUGINS, InvalidSettings, bootstrap

import omskit_routing_rules

DISTRIBUTION = "omskit-routing-rules"
PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"
HOOKS = ("omskit_routing_cost_terms", "omskit_routing_policy", "omskit_routing_rules",
         "omskit_validate_settings")


@pytest.fixture(autouse=True)
def _autoload_on(monkeypatch: pytest.MonkeyPatch) -> None:
    # An operator's (or tox's) switches would hide the very entry point under test.
    monkeypatch.delenv(ENV_DISABLE_AUTOLOAD, raising=False)
    monkeypatch.delenv(ENV_DISABLED_PLUGINS, raising=False)


def test_entry_point_registers_the_plugin() -> None:
    with bootstrap("sqlite://", load_entrypoints=True) as oms:
        mine = [p for p in oms.plugins() if p.distribution == DISTRIBUTION]

    assert len(mine) == 1, "is the plugin pip-installed?"
    assert mine[0].name == "routing-rules"
    assert mine[0].version == version(DISTRIBUTION) == "0.1.0"
    assert mine[0].hooks == HOOKS
    assert not mine[0].builtin


def test_installed_plugin_validates_its_settings() -> None:
    with pytest.raises(InvalidSettings) as caught:
        bootstrap("sqlite://", load_entrypoints=True,
                  settings={"routing_rules": {"store_segment": ["gold"]}})
    assert "routing_rules.store_segment: unknown setting" in caught.value.problems


def test_operators_can_disable_it_by_name() -> None:
    with bootstrap("sqlite://", load_entrypoints=True, disabled_plugins=["routing-rules"],
                   settings={"routing_rules": {"store_segment": ["gold"]}}) as oms:
        # Disabled, it neither runs nor checks its settings.
        assert all(p.distribution != DISTRIBUTION for p in oms.plugins())


def test_the_entry_point_names_this_package() -> None:
    project = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]

    assert project["name"].replace("-", "_") == omskit_routing_rules.__name__
    assert project["entry-points"]["omskit"] == {"routing-rules": "omskit_routing_rules"}
    assert import_module("omskit_routing_rules") is omskit_routing_rules
