"""What every command shares: the database, plugin switches, settings, JSON output."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
import click
from rich.console import Console

if TYPE_CHECKING:  # the CLI imports the library only when a command runs (fast --help)
    from omskit.app import Oms
    from omskit.cli.opening import Need


@attrs.define
class CliState:
    """Options of the ``omskit`` group, and the ``Oms`` built from them on first use."""

    database_url: str | None
    load_plugins: bool
    schema: str | None = None
    table_prefix: str = "omskit_"
    #: Settings keyed by plugin, read from ``--settings FILE`` (TOML).
    settings: Mapping[str, Any] = attrs.field(factory=dict)
    console: Console = attrs.field(factory=Console)
    _oms: Oms | None = None

    def oms(self, need: Need = "tables") -> Oms:
        """Bootstrap on first call; later calls return the same instance.

        Only ``db upgrade`` may create the database (``need="create"``): every other command
        refuses a database that does not exist or has no omskit tables, with one line saying
        how to make it, instead of leaving an empty file behind.
        """
        if self._oms is None:
            from omskit.cli.opening import open_oms

            self._oms = open_oms(self.database_url, load_plugins=self.load_plugins,
                                 schema=self.schema, table_prefix=self.table_prefix,
                                 settings=self.settings, need=need)
        return self._oms

    def close(self) -> None:
        """Dispose of the engine, if one was made."""
        if self._oms is not None:
            self._oms.close()


pass_state = click.make_pass_decorator(CliState)


def echo_json(data: Any) -> None:
    """Print ``data`` as indented JSON (already unstructured)."""
    click.echo(json.dumps(data, indent=2, sort_keys=False, default=str))


def read_settings(path: Path) -> dict[str, Any]:
    """Plugin settings from a TOML file: one table per plugin (``[routing]``,
    ``[routing_rules]``...), as ``bootstrap(settings=...)`` takes them."""
    import tomllib

    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise click.BadParameter(f"{path}: {exc}", param_hint="'--settings'") from exc
    except tomllib.TOMLDecodeError as exc:
        raise click.BadParameter(f"{path} is not valid TOML: {exc}",
                                 param_hint="'--settings'") from exc
    loose = sorted(key for key, value in data.items() if not isinstance(value, dict))
    if loose:
        raise click.BadParameter(
            f"{path}: settings are tables keyed by plugin ([routing], [inventory]...); "
            f"{', '.join(loose)} is not a table", param_hint="'--settings'")
    return data
