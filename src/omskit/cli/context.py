"""What every command shares: the database URL, plugin switches, JSON output."""

from __future__ import annotations

import json
from typing import Any

import attrs
import click
from rich.console import Console

from omskit.app import Oms, bootstrap


@attrs.define
class CliState:
    """Options of the ``omskit`` group, and the ``Oms`` built from them on first use."""

    database_url: str | None
    load_plugins: bool
    schema: str | None = None
    table_prefix: str = "omskit_"
    console: Console = attrs.field(factory=Console)
    _oms: Oms | None = None

    def oms(self) -> Oms:
        """Bootstrap on first call; later calls return the same instance."""
        if self._oms is None:
            self._oms = bootstrap(self.database_url, load_entrypoints=self.load_plugins,
                                  schema=self.schema, table_prefix=self.table_prefix)
        return self._oms

    def close(self) -> None:
        """Dispose of the engine, if one was made."""
        if self._oms is not None:
            self._oms.close()


pass_state = click.make_pass_decorator(CliState)


def echo_json(data: Any) -> None:
    """Print ``data`` as indented JSON (already unstructured)."""
    click.echo(json.dumps(data, indent=2, sort_keys=False, default=str))
