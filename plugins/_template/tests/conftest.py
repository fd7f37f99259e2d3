"""omskit's pytest plugin gives the fixtures: ``make_oms``, ``oms``, ``hook_calls``..."""

pytest_plugins = ["omskit.testing"]
