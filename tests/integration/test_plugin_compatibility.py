"""A plugin built for another omskit's hook API fails at load, named, with how to go on.

Each test puts an installed-looking distribution on ``sys.path`` (a ``*.dist-info`` folder with
METADATA and entry_points.txt), whose ``Requires-Dist: omskit`` bound admits or excludes the
omskit installed here (decision 33).
"""

from __future__ import annotations

import importlib.metadata
import json
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from packaging.version import Version

from omskit import Oms, PluginError
from omskit.testing import location, order_command
from tests.support import MILAN
from tests.test_cli_newcomer import omskit as run_omskit
from tests.test_cli_newcomer import one_line_error

INSTALLED = Version(importlib.metadata.version("omskit"))
#: The bound a plugin built for this omskit states (the template's rule: this minor release).
THIS_MINOR = f">={INSTALLED.major}.{INSTALLED.minor},<{INSTALLED.major}.{INSTALLED.minor + 1}"
#: A plugin built for the next minor release, whose hooks this omskit may not have.
NEXT_MINOR = f">={INSTALLED.major}.{INSTALLED.minor + 1},<{INSTALLED.major}.{INSTALLED.minor + 2}"

PLUGIN = '''
from omskit import hookimpl

@hookimpl
def omskit_customer_segment(order):
    return "from-bounded-plugin"
'''
#: A plugin for another hook API typically fails on import (a name that moved); the bound is
#: checked first, so the user reads the cause rather than the symptom.
UNIMPORTABLE = "from omskit import a_name_from_another_release\n"


def install(site: Path, module: str, bound: str, source: str) -> None:
    """Write an installed-looking ``omskit-carrier-acme 2.0.1`` whose plugin is ``acme``."""
    info = site / f"{module}-2.0.1.dist-info"
    info.mkdir(parents=True)
    (site / f"{module}.py").write_text(source)
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: omskit-carrier-acme\nVersion: 2.0.1\n"
        f"Requires-Dist: omskit{bound}\nRequires-Dist: attrs>=24.1\n"
        "Requires-Dist: omskit[testing]; extra == 'testing'\n")
    (info / "entry_points.txt").write_text(f"[omskit]\nacme = {module}\n")


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "site"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))
    for module in ("omskit_acme_this", "omskit_acme_next"):
        monkeypatch.delitem(sys.modules, module, raising=False)
    return folder


def test_a_plugin_built_for_this_omskit_loads(site: Path,
                                              make_oms: Callable[..., Oms]) -> None:
    install(site, "omskit_acme_this", THIS_MINOR, PLUGIN)
    oms = make_oms(load_entrypoints=True)
    (info,) = [p for p in oms.plugins() if p.name == "acme"]
    assert (info.distribution, info.version) == ("omskit-carrier-acme", "2.0.1")
    oms.inventory.save_location(location("milan", *MILAN))
    oms.inventory.receive("milan", "A", 1)
    assert oms.orders.place(order_command("E-1", {"A": 1})).customer.segment == (
        "from-bounded-plugin")


def test_a_plugin_built_for_another_hook_api_fails_at_load_named(
        site: Path, make_oms: Callable[..., Oms]) -> None:
    install(site, "omskit_acme_next", NEXT_MINOR, UNIMPORTABLE)
    with pytest.raises(PluginError) as refused:
        make_oms(load_entrypoints=True)
    message = str(refused.value)
    assert "plugin 'acme' (distribution omskit-carrier-acme 2.0.1)" in message
    assert f"supports omskit{NEXT_MINOR}, but omskit {INSTALLED} is installed" in message
    assert "OMSKIT_DISABLED_PLUGINS=acme" in message
    # Refused before its module ran: the import error would only have hidden the cause.
    assert "omskit_acme_next" not in sys.modules
    assert "a_name_from_another_release" not in message


def test_a_refused_plugin_disabled_by_name_lets_omskit_start(
        site: Path, make_oms: Callable[..., Oms], monkeypatch: pytest.MonkeyPatch) -> None:
    install(site, "omskit_acme_next", NEXT_MINOR, UNIMPORTABLE)
    monkeypatch.setenv("OMSKIT_DISABLED_PLUGINS", "acme")
    oms = make_oms(load_entrypoints=True)
    assert "acme" not in {p.name for p in oms.plugins()}
    assert "omskit_acme_next" not in sys.modules
    # Without entry points the bound is never read either.
    monkeypatch.delenv("OMSKIT_DISABLED_PLUGINS")
    make_oms(load_entrypoints=False)


def test_the_command_line_names_the_refused_plugin_in_one_line(tmp_path: Path) -> None:
    site = tmp_path / "site"
    install(site, "omskit_acme_next", NEXT_MINOR, UNIMPORTABLE)
    env = {"PYTHONPATH": str(site)}
    line = one_line_error(run_omskit(tmp_path, "plugins", env=env))
    assert f"plugin 'acme' (distribution omskit-carrier-acme 2.0.1) supports omskit{NEXT_MINOR}" \
        in line
    assert "OMSKIT_DISABLED_PLUGINS=acme" in line
    disabled = run_omskit(tmp_path, "plugins", "--json",
                      env={**env, "OMSKIT_DISABLED_PLUGINS": "acme"})
    assert disabled.returncode == 0, disabled.stderr
    assert "acme" not in {p["name"] for p in json.loads(disabled.stdout)}
