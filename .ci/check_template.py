"""The plugin template stands alone: copied outside the repository, renamed, installed against
a built omskit wheel, its lint, types and tests pass.

Run by ``tox -e template-standalone`` (part of the README's test command). Steps:

1. build omskit's wheel from this checkout into a wheelhouse in a temporary folder;
2. copy ``plugins/_template`` there and rename it with the shell lines of the template's
   README, run as written (so the README's instructions are what CI proves);
3. create a fresh virtual environment and install the renamed plugin with its ``testing``
   extra, omskit coming from the wheelhouse only;
4. run ``ruff check``, ``mypy`` and ``pytest`` in the plugin's folder: on SQLite, and on
   PostgreSQL too when ``OMSKIT_TEST_POSTGRES_URL`` is set.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "plugins" / "_template"
KIND, NAME = "carrier", "acme"


def run(*args: str | Path, cwd: Path, env: dict[str, str] | None = None) -> str:
    """Run a command, echo it, and fail the check with its output when it fails."""
    print("+", " ".join(map(str, args)), flush=True)
    done = subprocess.run([str(a) for a in args], cwd=cwd, env=env, text=True,
                          capture_output=True, check=False)
    if done.returncode != 0:
        sys.stdout.write(done.stdout)
        sys.stderr.write(done.stderr)
        raise SystemExit(f"failed ({done.returncode}): {' '.join(map(str, args))}")
    return done.stdout


def rename_script() -> str:
    """The "Copy and rename" shell lines of the template's README, with this check's names."""
    readme = (TEMPLATE / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```console\n(.*?)```", readme, flags=re.S)
    script = next(b for b in blocks if "cp -r plugins/_template" in b)
    lines = [re.sub(r"^\s{3}", "", line) for line in script.splitlines()]
    body = "\n".join(lines)
    return re.sub(r"^KIND=\S+ NAME=\S+", f"KIND={KIND} NAME={NAME}", body.strip(), flags=re.M)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    options = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="omskit-template-"))
    try:
        wheels = work / "wheels"
        run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", wheels, ROOT,
            cwd=work)
        (work / "plugins").mkdir()
        shutil.copytree(TEMPLATE, work / "plugins" / "_template",
                        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", ".*"))
        run("bash", "-euo", "pipefail", "-c", rename_script(), cwd=work)
        plugin = work / "plugins" / f"omskit-{KIND}-{NAME}"
        leftovers = run("grep", "-rlI", "--exclude=README.md", "kind.name", ".", cwd=plugin) \
            if subprocess.run(["grep", "-rqI", "--exclude=README.md", "kind.name", "."],
                              cwd=plugin, check=False).returncode == 0 else ""
        if leftovers:
            raise SystemExit(f"the rename left 'kind-name' in: {leftovers}")

        env_dir = work / "venv"
        venv.create(env_dir, with_pip=True)
        python = env_dir / "bin" / "python"
        environ = {k: v for k, v in os.environ.items()
                   if k not in ("VIRTUAL_ENV", "PYTHONPATH") and not k.startswith("TOX_")}
        environ["PATH"] = f"{env_dir / 'bin'}{os.pathsep}{environ.get('PATH', '')}"
        run(python, "-m", "pip", "install", "-q", "--find-links", wheels,
            f"{plugin}[testing]", cwd=work, env=environ)
        # omskit must be the wheel just built, not anything else an index could offer.
        shown = json.loads(run(python, "-m", "pip", "list", "--format", "json", "-v",
                               cwd=work, env=environ))
        omskit = next(p for p in shown if p["name"] == "omskit")
        if "editable_project_location" in omskit:
            raise SystemExit(f"omskit was installed editable from {omskit}, not from the wheel")

        run(python, "-m", "ruff", "check", ".", cwd=plugin, env=environ)
        run(python, "-m", "mypy", cwd=plugin, env=environ)
        out = run(python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rA", cwd=plugin,
                  env=environ)
        backends = {"sqlite"} | ({"postgresql"} if environ.get("OMSKIT_TEST_POSTGRES_URL")
                                 else set())
        for backend in backends:
            if f"[{backend}]" not in out:
                raise SystemExit(f"no test ran on {backend}:\n{out}")
        print(out.strip().splitlines()[-1])
        print(f"the template stands alone ({', '.join(sorted(backends))}; {work})")
    finally:
        if not options.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
