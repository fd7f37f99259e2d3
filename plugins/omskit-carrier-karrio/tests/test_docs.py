"""The settings and the example in docs/plugins/carrier-karrio.md and the README are the ones
tested: the settings parse, the example runs (the generic carrier: no network)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from omskit_carrier_karrio import validate

PLUGIN = Path(__file__).resolve().parents[1]
GUIDE = PLUGIN.parents[1] / "docs" / "plugins" / "carrier-karrio.md"
README = PLUGIN / "README.md"


def blocks(path: Path, marker: str, lang: str) -> list[str]:
    """The fenced ``lang`` blocks preceded by ``<!-- marker -->``."""
    found = re.findall(rf"<!-- {marker} -->\n```{lang}\n(.*?)\n```", path.read_text(), re.S)
    assert found, f"{path.name} lost its {marker} block"
    return found


@pytest.mark.parametrize("path", [GUIDE, README], ids=["guide", "readme"])
def test_the_documented_settings_are_valid(path: Path) -> None:
    for block in blocks(path, "karrio-settings", "json"):
        assert validate(json.loads(block)) == []


def test_the_guides_example_runs() -> None:
    (code,) = blocks(GUIDE, "karrio-example", "python")
    exec(compile(code, str(GUIDE), "exec"), {"__name__": "karrio_example"})
