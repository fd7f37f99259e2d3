"""A newcomer's mistakes on the command line: one line that says what to do, never a traceback.

Most cases run the installed ``omskit`` script in a fresh working folder, as a user would,
and read its exit code, its output and the files it left behind.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from omskit.cli import cli
from omskit.cli.main import COMMANDS
from omskit.testing import TestDatabase

SCRIPT = Path(sys.executable).with_name("omskit")
EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "simulation"


def omskit(cwd: Path, *args: str, env: dict[str, str] | None = None,
           timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run the ``omskit`` script in ``cwd`` with no database named by the environment."""
    environ = {k: v for k, v in os.environ.items()
               if not k.startswith("OMSKIT_") or k == "OMSKIT_TEST_POSTGRES_URL"}
    environ.update(env or {})
    return subprocess.run([str(SCRIPT), *args], cwd=cwd, env=environ, capture_output=True,
                          text=True, timeout=timeout, check=False)


def one_line_error(done: subprocess.CompletedProcess[str]) -> str:
    """The error the command printed, checked to be one line with no traceback."""
    assert done.returncode == 1, (done.returncode, done.stdout, done.stderr)
    assert "Traceback" not in done.stderr + done.stdout
    lines = [x for x in done.stderr.splitlines() if x.strip()]
    assert len(lines) == 1, done.stderr
    return lines[0]


def test_a_missing_database_is_named_and_never_created(tmp_path: Path) -> None:
    for command in (["orders", "list"], ["orders", "show", "W-1"], ["inventory", "show", "A"],
                    ["outbox", "status"]):
        line = one_line_error(omskit(tmp_path, *command))
        assert "no database at omskit.db" in line
        assert "db upgrade" in line
        assert "omskit demo" in line
    assert list(tmp_path.iterdir()) == [], "a read command created a file"


def test_db_current_reads_none_without_creating_the_file(tmp_path: Path) -> None:
    done = omskit(tmp_path, "db", "current")
    assert done.returncode == 0
    assert done.stdout.strip() == "none"
    assert not (tmp_path / "omskit.db").exists()


def test_a_missing_folder_is_named_by_db_upgrade(tmp_path: Path) -> None:
    line = one_line_error(omskit(tmp_path, "--db", "sqlite:///nowhere/x.db", "db", "upgrade"))
    assert "the folder nowhere does not exist" in line


@pytest.mark.parametrize(("url", "expected"), [
    ("mysql://root@127.0.0.1/test", "omskit runs on SQLite and PostgreSQL, not mysql"),
    ("not a url", "is not a database URL"),
    ("postgresql://postgres@127.0.0.1:1/test", "cannot connect to postgresql+psycopg://"),
])
def test_a_database_omskit_cannot_use_is_one_line(tmp_path: Path, url: str,
                                                  expected: str) -> None:
    line = one_line_error(omskit(tmp_path, "--db", url, "orders", "list"))
    assert expected in line


def test_a_refused_postgresql_port_says_what_to_check(tmp_path: Path) -> None:
    line = one_line_error(omskit(tmp_path, "--db", "postgresql://postgres@127.0.0.1:1/test",
                                 "orders", "list"))
    assert "Connection refused" in line or "connection refused" in line
    assert "is the server running" in line


def test_a_database_without_omskit_tables_says_how_to_create_them(
        omskit_database: TestDatabase) -> None:
    if omskit_database.backend == "sqlite":
        # An existing file that is not omskit's, such as one the user made by hand.
        path = omskit_database.url.removeprefix("sqlite:///")
        sqlite3.connect(path).close()
    base = ["--db", omskit_database.url, "--no-plugins"]
    if omskit_database.schema:
        base += ["--schema", omskit_database.schema]
    result = CliRunner().invoke(cli, [*base, "orders", "list"])
    assert result.exit_code == 1
    assert "has no omskit tables" in result.output
    assert "db upgrade" in result.output
    assert "Traceback" not in result.output


def test_an_empty_sqlite_file_is_not_omskit_s(tmp_path: Path) -> None:
    sqlite3.connect(tmp_path / "omskit.db").close()
    line = one_line_error(omskit(tmp_path, "orders", "list"))
    assert "has no omskit tables" in line
    assert "db upgrade" in line


def test_after_the_demo_every_listed_id_and_external_id_can_be_shown(tmp_path: Path) -> None:
    demo = omskit(tmp_path, "demo", "--orders", "30", "--skus", "10", timeout=600)
    assert demo.returncode == 0, demo.stderr
    assert (tmp_path / "omskit.db").exists()
    # The summary ends with commands that work on the demo's own orders.
    tries = [line.strip().split("   #")[0] for line in demo.stdout.splitlines()
             if line.strip().startswith("omskit ")]
    assert any(" orders explain " in t for t in tries), demo.stdout
    for line in tries:
        done = omskit(tmp_path, *line.split()[1:])
        assert done.returncode == 0, (line, done.stderr)
    # The table prints whole ids, even in a narrow terminal, and `orders show` finds them.
    listed = omskit(tmp_path, "orders", "list", "--limit", "3", env={"COLUMNS": "60"})
    assert listed.returncode == 0, listed.stderr
    summaries = json.loads(omskit(tmp_path, "orders", "list", "--limit", "3",
                                  "--json").stdout)
    for s in summaries:
        assert s["id"] in listed.stdout
        shown = omskit(tmp_path, "orders", "show", s["id"], "--json")
        assert json.loads(shown.stdout)["id"] == s["id"]
        by_external = omskit(tmp_path, "orders", "show", s["external_id"], "--json")
        assert json.loads(by_external.stdout)["id"] == s["id"]
        qualified = omskit(tmp_path, "orders", "show", f"{s['channel']}/{s['external_id']}",
                           "--json")
        assert json.loads(qualified.stdout)["id"] == s["id"]
    unknown = one_line_error(omskit(tmp_path, "orders", "show", "NO-SUCH-ORDER"))
    assert "no order has the id or external id 'NO-SUCH-ORDER'" in unknown
    # A second demo would mix two days: it says how to start again.
    again = one_line_error(omskit(tmp_path, "demo", "--orders", "5", "--skus", "10"))
    assert "already holds orders" in again
    assert "--reset" in again


def test_the_demo_routes_with_the_optimal_strategy_over_carriers(tmp_path: Path) -> None:
    demo = omskit(tmp_path, "demo", "--orders", "12", "--skus", "10", "--json", timeout=600)
    assert demo.returncode == 0, demo.stderr
    order_id = json.loads(omskit(tmp_path, "orders", "list", "--limit", "1",
                                 "--json").stdout)[0]["id"]
    decisions = json.loads(omskit(tmp_path, "orders", "explain", order_id, "--json").stdout)
    assert decisions
    assert all(d["strategy"] == "optimal" for d in decisions)
    priced = [c for d in decisions for c in d["candidates"] if c.get("fixed_cost") is not None]
    assert priced, "no candidate was priced by a carrier"


def test_help_imports_none_of_the_library(tmp_path: Path) -> None:
    probe = textwrap.dedent("""
        import sys
        from omskit.cli import main
        sys.argv = ["omskit", "--help"]
        try:
            main()
        except SystemExit:
            pass
        heavy = sorted(m for m in ("sqlalchemy", "scipy", "omskit.app", "pluggy")
                       if m in sys.modules)
        print("HEAVY", heavy)
    """)
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          check=True, cwd=tmp_path)
    assert "Commands:" in done.stdout
    assert "HEAVY []" in done.stdout


def test_help_lines_match_each_command_s_own_help() -> None:
    ctx = click.Context(cli)
    for name, (_where, summary) in COMMANDS.items():
        command = cli.get_command(ctx, name)
        assert command is not None
        assert command.get_short_help_str(10_000) == summary, name


def test_a_plugin_that_fails_to_import_is_named_with_how_to_disable_it(
        tmp_path: Path) -> None:
    site = tmp_path / "site"
    dist = site / "broken_plugin-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-plugin\n"
                                   "Version: 1.0\n")
    (dist / "entry_points.txt").write_text("[omskit]\nbroken = broken_plugin\n")
    (site / "broken_plugin.py").write_text("import a_module_that_is_not_installed\n")
    env = {"PYTHONPATH": str(site)}
    line = one_line_error(omskit(tmp_path, "plugins", env=env))
    assert "plugin 'broken' (distribution broken-plugin) failed to import" in line
    assert "OMSKIT_DISABLED_PLUGINS=broken" in line
    disabled = omskit(tmp_path, "plugins", "--json",
                      env={**env, "OMSKIT_DISABLED_PLUGINS": "broken"})
    assert disabled.returncode == 0, disabled.stderr
    assert "broken" not in {p["name"] for p in json.loads(disabled.stdout)}


def test_settings_file_reaches_every_command(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[routing]\nbackorder_penalty = 'a lot'\n")
    line = one_line_error(omskit(tmp_path, "--settings", str(bad), "plugins"))
    assert "backorder_penalty" in line
    # simulate builds its own instances: the settings reach them too, --plugins included.
    sim = omskit(tmp_path, "--settings", str(bad), "simulate", "--plugins",
                 str(EXAMPLES / "network.json"), str(EXAMPLES / "orders.jsonl"))
    assert "backorder_penalty" in one_line_error(sim)
    loose = tmp_path / "loose.toml"
    loose.write_text("backorder_penalty = 5\n")
    done = omskit(tmp_path, "--settings", str(loose), "plugins")
    assert done.returncode == 2
    assert "is not a table" in done.stderr
    assert "Traceback" not in done.stderr
    broken = tmp_path / "broken.toml"
    broken.write_text("[routing\n")
    done = omskit(tmp_path, "--settings", str(broken), "plugins")
    assert done.returncode == 2
    assert "is not valid TOML" in done.stderr
    good = tmp_path / "good.toml"
    good.write_text("[routing]\nbackorder_penalty = 500\n")
    done = omskit(tmp_path, "--settings", str(good), "simulate", "--strategy", "nearest",
                  str(EXAMPLES / "network.json"), str(EXAMPLES / "orders.jsonl"), "--json")
    assert done.returncode == 0, done.stderr
