"""The settings shown in the README and in docs/routing-rules.md are the ones tested."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import pytest

from omskit_routing_rules.settings import validate
from routing_rules_helpers import FULL_EXAMPLE

PLUGIN = Path(__file__).resolve().parents[1]
README = PLUGIN / "README.md"
GUIDE = PLUGIN.parents[1] / "docs" / "routing-rules.md"


def example_settings(text: str) -> Any:
    """The literal assigned to ``settings =`` in the document's first such code block."""
    found = re.search(r"^settings = (\{.*?^\})$", text, flags=re.MULTILINE | re.DOTALL)
    assert found, "no `settings = {...}` block"
    return ast.literal_eval(found.group(1))


@pytest.mark.parametrize("document", [README, GUIDE], ids=["readme", "guide"])
def test_documented_example_is_the_tested_one(document: Path) -> None:
    if not document.exists():  # the guide lives in the monorepo, not in the sdist
        pytest.skip(f"{document} is not part of this checkout")
    settings = example_settings(document.read_text(encoding="utf-8"))
    assert settings == {"routing_rules": FULL_EXAMPLE}
    assert validate(settings) == []


def test_guide_quotes_the_rules_real_reasons() -> None:
    if not GUIDE.exists():
        pytest.skip(f"{GUIDE} is not part of this checkout")
    text = GUIDE.read_text(encoding="utf-8")
    for reason in ("ship_from_store: store without ship-from-store",
                   "channel_groups: not in a group allowed for channel marketplace (eu-dcs)",
                   "zones: does not ship to CH",
                   "store_segments: segment standard is not served from stores (only gold)",
                   "the last unit of each SKU at each location is kept from segment standard",
                   "shipping: 4.09 per shipment, 0.20 per unit (9 km)"):
        assert reason in text, reason
