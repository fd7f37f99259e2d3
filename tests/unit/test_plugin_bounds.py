"""A plugin's ``Requires-Dist: omskit`` bound, judged against the installed omskit (decision 33).

Each case is a real distribution folder (``*.dist-info`` with METADATA) read through
``importlib.metadata``, as the entry-point loader reads installed plugins.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Sequence
from pathlib import Path

import pytest
from packaging.version import Version

from omskit import PluginError
from omskit.plugins import check_omskit_bound


def distribution(tmp_path: Path, requires: Sequence[str]) -> importlib.metadata.Distribution:
    info = tmp_path / "omskit_carrier_acme-2.0.1.dist-info"
    info.mkdir()
    lines = ["Metadata-Version: 2.1", "Name: omskit-carrier-acme", "Version: 2.0.1",
             *(f"Requires-Dist: {r}" for r in requires)]
    (info / "METADATA").write_text("\n".join(lines) + "\n")
    return importlib.metadata.PathDistribution(info)


BOUND = "omskit>=0.1,<0.2"


@pytest.mark.parametrize(("requires", "installed"), [
    ([BOUND], "0.1.0"),
    ([BOUND], "0.1.7"),
    # A development build is judged by where it stands, not refused for being a pre-release.
    ([BOUND], "0.1.1.dev0"),
    # Extras and other environments are not what the plugin needs to run here.
    ([BOUND, "omskit[testing]>=0.5; extra == 'testing'"], "0.1.0"),
    (['omskit>=9; python_version < "3"', BOUND], "0.1.0"),
    # No bound at all: nothing to check, the plugin loads (pip would have accepted it too).
    (["attrs>=24.1"], "0.9.0"),
    ([], "0.9.0"),
])
def test_a_bound_that_admits_the_installed_omskit_passes(
        tmp_path: Path, requires: list[str], installed: str) -> None:
    check_omskit_bound(distribution(tmp_path, requires), "acme", Version(installed))


@pytest.mark.parametrize(("requires", "installed"), [
    ([BOUND], "0.2.0"),
    ([BOUND], "0.0.9"),
    # PEP 440: <0.2 admits no pre-release of 0.2 itself.
    ([BOUND], "0.2.0.dev0"),
    # Project names compare normalised, as pip compares them.
    (["attrs>=24.1", "OMSKIT >=0.1, <0.2"], "1.0.0"),
    (["omskit[postgres]<0.2,>=0.1"], "0.3.0"),
])
def test_a_bound_that_excludes_the_installed_omskit_refuses_the_plugin(
        tmp_path: Path, requires: list[str], installed: str) -> None:
    with pytest.raises(PluginError) as refused:
        check_omskit_bound(distribution(tmp_path, requires), "acme", Version(installed))
    message = str(refused.value)
    assert "plugin 'acme' (distribution omskit-carrier-acme 2.0.1)" in message
    # The bound as an author writes it, lower bound first, and what is installed instead.
    assert f"supports omskit>=0.1,<0.2, but omskit {installed} is installed" in message
    assert "hook API" in message
    assert "OMSKIT_DISABLED_PLUGINS=acme" in message


def test_without_omskit_metadata_no_bound_can_be_checked(tmp_path: Path) -> None:
    check_omskit_bound(distribution(tmp_path, ["omskit>=9"]), "acme", None)
