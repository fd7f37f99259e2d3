"""``omskit plugins``: what is installed and which hooks each plugin implements."""

from __future__ import annotations

import click
from rich.table import Table

from omskit.cli.context import CliState, echo_json, pass_state


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@pass_state
def plugins(state: CliState, as_json: bool) -> None:
    """List registered plugins: distribution, version, hooks, and what each contributed
    (channels, routing strategies, carriers, event types)."""
    oms = state.oms("none")
    infos = oms.plugins()
    if as_json:
        echo_json([oms.converter.unstructure(info) for info in infos])
        return
    table = Table("name", "distribution", "version", "hooks", "contributes",
                  title="omskit plugins")
    for info in infos:
        contributed = "\n".join(f"{kind}: {', '.join(codes)}"
                                 for kind, codes in sorted(info.contributions.items()))
        table.add_row(info.name, info.distribution or ("(builtin)" if info.builtin else "-"),
                      info.version or "-", "\n".join(info.hooks), contributed or "-")
    state.console.print(table)
