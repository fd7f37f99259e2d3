"""Every distribution builds, passes ``twine check``, and installs from a local wheelhouse.

Run by ``tox -e dist`` (part of the README's test command). Steps, in a temporary folder:

1. build the sdist and the wheel of omskit (the root ``pyproject.toml``) and of every plugin
   (each ``plugins/*/pyproject.toml``, found by globbing, so a new plugin is built without
   being listed) into one wheelhouse with ``python -m build``; the wheel is built from the
   sdist, which proves the sdist holds everything the wheel needs;
2. check what was built: the changelog and the license text in each sdist; in each wheel the
   version of its pyproject, the license, ``py.typed``, and a description (the README) with
   no relative link, which would lead nowhere on PyPI;
3. ``twine check --strict`` every file;
4. create a fresh virtual environment and install omskit and two plugins from the wheelhouse
   (their dependencies, SQLAlchemy and the rest, come from the usual index), then check that
   each of the three was installed from its wheel in the wheelhouse, at its version;
5. in that environment, ``omskit plugins --json`` lists the two plugins with their
   distributions and versions, and a Python snippet bootstraps on SQLite with entry points
   and places an order through both plugins.
"""

from __future__ import annotations

import argparse
import email.parser
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import textwrap
import time
import tomllib
import venv
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: The plugins installed with omskit in the fresh environment (every plugin is built).
#: A Markdown link to a file of the repository: on PyPI it would lead nowhere.
RELATIVE_LINK = re.compile(r"\]\((?!https?://|#|mailto:)([^)\s]+)\)")
SMOKE_PLUGINS = {"omskit-channel-storefront": "storefront", "omskit-routing-rules": "routing-rules"}


def run(*args: str | Path, cwd: Path, env: dict[str, str] | None = None) -> str:
    """Run a command, echo it with its time, and fail the check with its output if it fails."""
    started = time.monotonic()
    done = subprocess.run([str(a) for a in args], cwd=cwd, env=env, text=True,
                          capture_output=True, check=False)
    print(f"+ {' '.join(map(str, args))} ({time.monotonic() - started:.1f} s)", flush=True)
    if done.returncode != 0:
        sys.stdout.write(done.stdout)
        sys.stderr.write(done.stderr)
        raise SystemExit(f"failed ({done.returncode}): {' '.join(map(str, args))}")
    return done.stdout


def distributions() -> dict[str, tuple[Path, str]]:
    """``{name: (folder, version)}`` for omskit and every plugin."""
    found = {}
    for pyproject in [ROOT / "pyproject.toml", *sorted(ROOT.glob("plugins/*/pyproject.toml"))]:
        meta = tomllib.loads(pyproject.read_text("utf-8"))["project"]
        found[meta["name"]] = (pyproject.parent, meta["version"])
    return found


def stem(name: str, version: str) -> str:
    """The file-name stem of a built distribution (``omskit_routing_rules-0.1.0``, PEP 625)."""
    return f"{re.sub(r'[-_.]+', '_', name).lower()}-{version}"


def check_built(wheelhouse: Path, name: str, version: str) -> tuple[Path, Path]:
    """The sdist and wheel of ``name``, checked to ship the changelog and the license."""
    sdist = wheelhouse / f"{stem(name, version)}.tar.gz"
    wheels = list(wheelhouse.glob(f"{stem(name, version)}-*.whl"))
    if not sdist.is_file() or len(wheels) != 1:
        raise SystemExit(f"{name} {version}: expected one sdist and one wheel, found "
                         f"{sorted(p.name for p in wheelhouse.iterdir())}")
    with tarfile.open(sdist) as archive:
        members = {m.split("/", 1)[1] for m in archive.getnames() if "/" in m}
    missing = {"PKG-INFO", "pyproject.toml", "README.md", "CHANGELOG.md", "LICENSE"} - members
    if missing:
        raise SystemExit(f"{sdist.name} lacks {sorted(missing)}")
    if name == "omskit" and any(m.startswith("plugins/") for m in members):
        raise SystemExit(f"{sdist.name} ships the plugins, which are distributions of their own")
    info = f"{stem(name, version)}.dist-info"
    with zipfile.ZipFile(wheels[0]) as archive:
        files = set(archive.namelist())
        metadata = email.parser.Parser().parsestr(
            archive.read(f"{info}/METADATA").decode("utf-8"))
    if metadata["Version"] != version:
        raise SystemExit(f"{wheels[0].name} says version {metadata['Version']}, not {version}")
    relative = RELATIVE_LINK.findall(str(metadata.get_payload()))
    if relative:
        raise SystemExit(f"{wheels[0].name}: relative links in the description, dead on PyPI: "
                         f"{relative}")
    # entry_points.txt: omskit's command, each plugin's entry in the omskit group.
    needed = {f"{info}/licenses/LICENSE", f"{info}/METADATA", f"{info}/entry_points.txt"}
    if not needed <= files or not any(f.endswith("/py.typed") for f in files):
        raise SystemExit(f"{wheels[0].name} lacks {sorted(needed - files)} or py.typed")
    return sdist, wheels[0]


SMOKE = textwrap.dedent('''
    """Place a storefront order on SQLite with every installed plugin loaded from its wheel."""
    import sys
    import omskit
    from omskit import Capability, Coordinates, Location, LocationKind

    settings = {"routing_rules": {}}  # routing-rules on: stores need ship_from_store
    with omskit.bootstrap(f"sqlite:///{sys.argv[1]}", settings=settings) as oms:
        oms.upgrade()
        loaded = {p.name: (p.distribution, p.version) for p in oms.plugins()}
        assert {"storefront", "routing-rules"} <= set(loaded), loaded
        # The store is next to the customer but may not ship parcels; the DC is far away.
        oms.inventory.save_location(Location(code="store-milano", name="Milano store",
            kind=LocationKind.STORE, coordinates=Coordinates(lat=45.46, lon=9.19),
            capabilities=frozenset({Capability.SHIP})))
        oms.inventory.save_location(Location(code="dc-roma", name="Roma DC",
            kind=LocationKind.DISTRIBUTION_CENTRE, coordinates=Coordinates(lat=41.90, lon=12.50)))
        for code in ("store-milano", "dc-roma"):
            oms.inventory.receive(code, "SHIRT-0001", 5)
        order = oms.channels.receive("storefront", {
            "id": "WEB-1", "source": "web", "created_at": "2026-12-03T10:00:00+01:00",
            "currency": "EUR", "customer": {"id": "c-1", "email": "giulia@example.com"},
            "shipping_address": {"line1": "Via Torino 12", "city": "Milano", "country": "IT",
                                 "lat": 45.46, "lon": 9.19},
            "fulfillment": {"type": "ship"},
            "items": [{"sku": "SHIRT-0001", "quantity": 2, "unit_price": "19.90"}]})
        assert order.status.value == "allocated", order.status
        assert [fo.location for fo in order.fulfillment_orders] == ["dc-roma"]
        (decision,) = oms.orders.explain(order.id)
        (store,) = [c for c in decision.candidates if c.location == "store-milano"]
        assert store.status == "excluded" and any("ship_from_store" in r for r in store.reasons)
        print(f"order {order.external_id}: {order.status.value} from dc-roma, "
              f"{order.total}; plugins {loaded['storefront']}, {loaded['routing-rules']}")
''')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    options = parser.parse_args()
    found = distributions()
    work = Path(tempfile.mkdtemp(prefix="omskit-dist-"))
    try:
        wheelhouse = work / "wheelhouse"
        # Each build in its own isolated environment, as a release builds it (a missing
        # build requirement would fail here); side by side, as they mostly wait on pip.
        with ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(lambda folder: run(sys.executable, "-m", "build", "--outdir",
                                             wheelhouse, folder, cwd=work),
                          [folder for folder, _ in found.values()]))
        built = {name: check_built(wheelhouse, name, version)
                 for name, (_, version) in found.items()}
        files = sorted(wheelhouse.iterdir())
        run(sys.executable, "-m", "twine", "check", "--strict", *files, cwd=work)

        env_dir = work / "venv"
        venv.create(env_dir, with_pip=True)
        python = env_dir / "bin" / "python"
        # Nothing from the calling environment: no venv, no path, no omskit switches.
        environ = {k: v for k, v in os.environ.items()
                   if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")
                   and not k.startswith(("TOX_", "OMSKIT_"))}
        environ["PATH"] = f"{env_dir / 'bin'}{os.pathsep}{environ.get('PATH', '')}"
        chosen = ["omskit", *SMOKE_PLUGINS]
        # The three wheels by path (pip records where each came from), with the wheelhouse
        # as the only other place to find an omskit; dependencies come from the index.
        # --no-compile: this environment is thrown away; compiling SciPy's modules is most of
        # an install's time.
        run(python, "-m", "pip", "install", "-q", "--no-compile", "--find-links", wheelhouse,
            *(built[name][1] for name in chosen), cwd=work, env=environ)
        report = json.loads(run(python, "-m", "pip", "inspect", "--local", cwd=work,
                                env=environ))
        installed = {item["metadata"]["name"]: item for item in report["installed"]}
        site = run(python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))",
                   cwd=work, env=environ).strip()
        for name in chosen:
            item = installed.get(name)
            wheel = built[name][1]
            if item is None:
                raise SystemExit(f"{name} is not installed in the fresh environment")
            source = item.get("direct_url", {}).get("url")
            if source != wheel.as_uri() or item["metadata"]["version"] != found[name][1]:
                raise SystemExit(f"{name} {item['metadata']['version']} came from {source}, "
                                 f"not from {wheel.as_uri()}")
            if not Path(item["metadata_location"]).is_relative_to(site):
                raise SystemExit(f"{name} is installed in {item['metadata_location']}")
        module = run(python, "-c", "import omskit; print(omskit.__file__)", cwd=work,
                     env=environ).strip()
        if not Path(module).is_relative_to(site):
            raise SystemExit(f"omskit is imported from {module}, not from {site}")

        listed = json.loads(run(env_dir / "bin" / "omskit", "plugins", "--json", cwd=work,
                                env=environ))
        shown = {p["name"]: (p["distribution"], p["version"]) for p in listed}
        for name, plugin in SMOKE_PLUGINS.items():
            if shown.get(plugin) != (name, found[name][1]):
                raise SystemExit(f"omskit plugins lists {plugin} as {shown.get(plugin)}, "
                                 f"not ({name}, {found[name][1]})")
        (work / "smoke.py").write_text(SMOKE)
        print(run(python, work / "smoke.py", work / "smoke.db", cwd=work, env=environ).strip())
        print(f"{len(files)} files built and checked ({', '.join(found)}); omskit with "
              f"{' and '.join(SMOKE_PLUGINS)} installed from the wheelhouse ({work})")
    finally:
        if not options.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
