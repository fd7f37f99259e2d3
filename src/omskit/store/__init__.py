"""Persistence adapters: SQLAlchemy Core tables, repositories, unit of work, migrations."""
