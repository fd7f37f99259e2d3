"""Whatever JSON a shop sends, parsing gives a command or a PayloadError, never anything else."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from omskit import PayloadError, PlaceOrder

from omskit_channel_storefront import StorefrontConnector

EXAMPLE_ORDER = Path(__file__).resolve().parents[1] / "examples" / "order.json"
EXAMPLE: dict[str, Any] = json.loads(EXAMPLE_ORDER.read_text(encoding="utf-8"))

#: Any value ``json.loads`` can produce.
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=12,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place inside ``value`` where another value could be put."""
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*prefix, index))
    return found


PATHS = _paths(EXAMPLE)[1:]
CONNECTOR = StorefrontConnector()


def _problems_or_none(payload: Any) -> tuple[str, ...] | None:
    """None if ``payload`` parses to a command, else the PayloadError's problems.

    Any other exception escapes and fails the test.
    """
    try:
        command = CONNECTOR.parse(payload)
    except PayloadError as exc:
        return exc.problems
    assert isinstance(command, PlaceOrder)
    return None


@settings(max_examples=300, deadline=None)
@given(path=st.sampled_from(PATHS), replacement=json_values)
def test_any_value_anywhere_is_handled(path: tuple[Any, ...], replacement: Any) -> None:
    payload = copy.deepcopy(EXAMPLE)
    target: Any = payload
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = replacement

    problems = _problems_or_none(payload)

    if problems is not None:
        assert problems
        assert all(": " in problem for problem in problems)


@settings(max_examples=100, deadline=None)
@given(payload=json_values)
def test_any_json_document_is_handled(payload: Any) -> None:
    problems = _problems_or_none(payload)

    assert problems is None or problems
