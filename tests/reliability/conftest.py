"""The fault and abuse suite's shared plumbing: how big a run is.

``OMSKIT_RELIABILITY_SCALE`` (default 1) multiplies every count (orders, kills, payloads,
examples, steps) for a local soak run: ``OMSKIT_RELIABILITY_SCALE=10 pytest tests/reliability``.
What each test tried is recorded with the ``figures`` fixture of ``tests/reliability/figures.py``.
"""

from __future__ import annotations

import os

import pytest

ENV_SCALE = "OMSKIT_RELIABILITY_SCALE"


def scale() -> float:
    """The multiplier from ``OMSKIT_RELIABILITY_SCALE`` (default 1)."""
    value = float(os.environ.get(ENV_SCALE, "1"))
    if not value > 0:
        raise pytest.UsageError(f"{ENV_SCALE} must be positive, not {value!r}")
    return value


def scaled(count: int) -> int:
    """``count`` times the scale, at least 1."""
    return max(1, round(count * scale()))
