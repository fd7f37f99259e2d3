"""omskit's pytest plugin gives the fixtures; each database test runs on SQLite and PostgreSQL."""

pytest_plugins = ["omskit.testing"]
