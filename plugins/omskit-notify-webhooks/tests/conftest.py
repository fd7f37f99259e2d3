"""omskit's pytest plugin gives the fixtures: ``make_oms``, ``oms``, ``hook_calls``...

Each test that uses them runs on SQLite, and on PostgreSQL too when
``OMSKIT_TEST_POSTGRES_URL`` names a database (``OMSKIT_TEST_DATABASES`` chooses explicitly).
"""

import os

# omskit's own suite insists on PostgreSQL; a plugin author may not have one at hand, so here
# PostgreSQL runs when a URL is given, and is never silently skipped when it is.
if "OMSKIT_TEST_DATABASES" not in os.environ:
    os.environ["OMSKIT_TEST_DATABASES"] = (
        "sqlite,postgresql" if os.environ.get("OMSKIT_TEST_POSTGRES_URL") else "sqlite")

pytest_plugins = ["omskit.testing"]
