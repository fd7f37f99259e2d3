"""The ``omskit`` command line."""

from __future__ import annotations

from omskit.cli.main import cli, main

__all__ = ["cli", "main"]
