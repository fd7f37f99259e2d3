"""Every distribution in the repository is release-ready (docs/releasing.md).

omskit (the root ``pyproject.toml``) and each plugin (found as ``plugins/*/pyproject.toml``, so
a new plugin is checked without being listed here) carry a version, a description, a readme,
a license with its text, authors, keywords, classifiers, project URLs and a Keep a Changelog
file whose latest entry is that version; a plugin bounds the omskit versions it supports, and
the bound admits the omskit of this checkout. ``tox -e dist`` builds them and runs
``twine check`` (``.ci/check_distributions.py``); this test reads what can be read without
building.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
REPOSITORY = "https://github.com/omskit/omskit"
FOLDERS = [ROOT, *sorted(p.parent for p in ROOT.glob("plugins/*/pyproject.toml"))]
#: The Python versions CI runs and each release claims (classifiers and requires-python).
PYTHONS = ("3.11", "3.12")
URLS = ("Homepage", "Documentation", "Changelog", "Issues")
#: A release entry of Keep a Changelog: ``## [0.1.0] - 2026-12-03`` (``Unreleased`` before).
RELEASE = re.compile(r"^## \[(?P<version>[^\]]+)\] - (?P<date>\d{4}-\d{2}-\d{2}|Unreleased)$",
                     re.M)


def name_of(folder: Path) -> str:
    return "omskit" if folder == ROOT else folder.relative_to(ROOT).as_posix()


def project(folder: Path) -> dict[str, Any]:
    data: dict[str, Any] = tomllib.loads((folder / "pyproject.toml").read_text("utf-8"))
    return data


def omskit_requirements(requirements: list[str]) -> list[Requirement]:
    found = [Requirement(r) for r in requirements]
    return [r for r in found if canonicalize_name(r.name) == "omskit"]


def test_every_plugin_folder_is_checked() -> None:
    folders = {p.name for p in (ROOT / "plugins").iterdir() if (p / "src").is_dir()}
    assert folders == {f.name for f in FOLDERS[1:]}
    assert {"omskit-channel-storefront", "omskit-routing-rules", "_template"} <= folders


@pytest.mark.parametrize("folder", FOLDERS, ids=name_of)
def test_the_distribution_carries_release_metadata(folder: Path) -> None:
    config = project(folder)
    meta = config["project"]
    assert str(Version(meta["version"])) == meta["version"], "a normalised PEP 440 version"
    assert meta["description"].strip()
    # The README, its relative links made absolute for PyPI (.ci/check_distributions.py
    # checks the built description).
    assert meta["dynamic"] == ["readme"]
    readme = config["tool"]["hatch"]["metadata"]["hooks"]["fancy-pypi-readme"]
    assert readme["fragments"] == [{"path": "README.md"}]
    where = "" if folder == ROOT else f"plugins/{meta['name']}/"
    # A plugin's links up to the repository's root first (../../docs/api.md), then the rest.
    links = readme["substitutions"][-1]
    assert links["replacement"] == rf"]({REPOSITORY}/blob/main/{where}\1)"
    assert meta.get("authors") or meta.get("maintainers")
    assert meta.get("keywords")
    # The license is an SPDX expression with its text shipped (PEP 639).
    assert meta["license"] == "Apache-2.0"
    assert meta["license-files"] == ["LICENSE"]
    assert "Apache License" in (folder / "LICENSE").read_text("utf-8")
    # license-files needs hatchling 1.27; a build with an older one would drop the text.
    assert config["build-system"]["requires"] == ["hatchling>=1.27",
                                                  "hatch-fancy-pypi-readme>=24.1"]
    python = SpecifierSet(meta["requires-python"])
    assert all(python.contains(v) for v in PYTHONS)


@pytest.mark.parametrize("folder", FOLDERS, ids=name_of)
def test_the_classifiers_say_what_a_release_claims(folder: Path) -> None:
    classifiers = project(folder)["project"]["classifiers"]
    assert len(classifiers) == len(set(classifiers))
    assert any(c.startswith("Development Status :: ") for c in classifiers)
    for version in PYTHONS:
        assert f"Programming Language :: Python :: {version}" in classifiers
    assert "Typing :: Typed" in classifiers
    assert any(c.startswith("Topic :: ") for c in classifiers)
    # PEP 639 deprecates them: the license is the SPDX expression.
    assert not [c for c in classifiers if c.startswith("License :: ")]
    if folder == ROOT:  # omskit.testing is a pytest plugin
        assert "Framework :: Pytest" in classifiers
    # Typing :: Typed is true only with the marker in the package.
    assert list(folder.glob("src/*/py.typed"))


@pytest.mark.parametrize("folder", FOLDERS, ids=name_of)
def test_the_project_urls_point_into_the_repository(folder: Path) -> None:
    meta = project(folder)["project"]
    urls = meta["urls"]
    assert set(URLS) <= set(urls)
    assert all(u.startswith(f"{REPOSITORY}") for u in urls.values())
    assert urls["Issues"] == f"{REPOSITORY}/issues"
    # A plugin's folder is its distribution's name; the template's addresses name the folder
    # its renamed copies get (plugins/omskit-<kind>-<name>).
    where = "" if folder == ROOT else f"plugins/{meta['name']}/"
    if folder not in (ROOT, ROOT / "plugins" / "_template"):
        assert folder.name == meta["name"]
    assert urls["Changelog"] == f"{REPOSITORY}/blob/main/{where}CHANGELOG.md"


@pytest.mark.parametrize("folder", FOLDERS, ids=name_of)
def test_the_changelog_opens_with_this_version(folder: Path) -> None:
    config = project(folder)
    version = config["project"]["version"]
    changelog = (folder / "CHANGELOG.md").read_text("utf-8")
    assert changelog.startswith("# Changelog\n")
    assert "[Keep a Changelog](https://keepachangelog.com/en/1.1.0/)" in changelog
    releases = list(RELEASE.finditer(changelog))
    assert releases, "no '## [VERSION] - DATE' entry"
    assert releases[0]["version"] == version, "the latest entry is the version being built"
    versions = [Version(r["version"]) for r in releases]
    assert versions == sorted(versions, reverse=True), "newest first"
    assert re.search(rf"^\[{re.escape(version)}\]: https://", changelog, re.M), \
        "a link for the version"
    # The sdist ships it (hatchling includes every file not excluded).
    sdist = config["tool"]["hatch"]["build"]["targets"].get("sdist", {})
    assert "only-include" not in sdist
    assert not [p for p in sdist.get("exclude", []) if "CHANGELOG" in p or p in ("/", "*")]


@pytest.mark.parametrize("folder", FOLDERS[1:], ids=name_of)
def test_a_plugin_bounds_the_omskit_it_supports(folder: Path) -> None:
    # tests/test_public_api.py checks that each bound has both ends and admits the installed
    # omskit; here: one run-time bound, the same in the extras and in the changelog, and the
    # version of omskit's pyproject (what `tox -e dist` builds) within it.
    meta = project(folder)["project"]
    omskit_version = Version(project(ROOT)["project"]["version"])
    (bound,) = omskit_requirements(meta["dependencies"])
    assert bound.marker is None
    assert not bound.extras
    assert bound.specifier.contains(omskit_version), \
        f"{bound} excludes omskit {omskit_version} of this checkout"
    # Extras that bring omskit's extras bound it the same way.
    for extra, requirements in meta.get("optional-dependencies", {}).items():
        for requirement in omskit_requirements(requirements):
            assert requirement.specifier == bound.specifier, (extra, str(requirement))
    assert meta["entry-points"]["omskit"], "an entry point in the omskit group"
    # The changelog's latest entry says which omskit it supports, the same as the bound.
    changelog = (folder / "CHANGELOG.md").read_text("utf-8")
    latest = changelog[RELEASE.search(changelog).end():]  # type: ignore[union-attr]
    latest = latest.split("\n## [", 1)[0]
    stated = re.search(r"Supports omskit `([^`]+)`", latest)
    assert stated, "the latest entry says 'Supports omskit `>=X,<Y`.'"
    assert SpecifierSet(stated[1]) == bound.specifier
