"""omskit: an embeddable, plugin-based order management system.

Start with :func:`bootstrap`, which returns an :class:`Oms`.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from omskit.app import Oms, bootstrap
from omskit.hookspecs import hookimpl

try:
    __version__ = version("omskit")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

__all__ = ["Oms", "__version__", "bootstrap", "hookimpl"]
