import os

from hypothesis import HealthCheck, settings

# tests.xdist_groups: `-n auto` keeps the xdist_group marks; tests.reliability.figures: the fault
# suite's figures, printed by the controller; pytester: tests/test_parallel.py runs pytest.
pytest_plugins = [
    "omskit.testing",
    "pytester",
    "tests.reliability.figures",
    "tests.xdist_groups",
]

# Hypothesis profiles: "default" keeps the whole suite fast on a small machine; "thorough"
# (HYPOTHESIS_PROFILE=thorough) explores much further for a nightly or pre-release run.
# Database-backed examples have no deadline: a transaction's latency is not the property.
settings.register_profile(
    "default", max_examples=60, deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "thorough", max_examples=1000, deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

