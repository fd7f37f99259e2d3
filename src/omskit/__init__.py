"""omskit: an embeddable, plugin-based order management system.

Start with :func:`bootstrap`, which returns an :class:`Oms`.

This module is omskit's public API: every name a host application or a plugin needs is
importable from ``omskit`` itself (``from omskit import PlaceOrder, hookimpl``), and is listed
in ``__all__``. ``omskit.testing`` (the pytest plugin) and ``omskit.simulate`` (the what-if
simulator) are public modules too. Every other module (``omskit.domain.*``, ``omskit.store.*``,
``omskit.services.*``, ``omskit.routing.*``...) is internal and may move between releases; see
``docs/api.md``.
"""

# Loaded on first use (scientific-python's lazy_loader), so that `import omskit` and
# `omskit --help` do not import SQLAlchemy, SciPy and every module. The names and where they
# come from are in __init__.pyi, which type checkers read instead of this file.
import importlib.metadata as _metadata

import lazy_loader as _lazy

__getattr__, __dir__, _names = _lazy.attach_stub(__name__, __file__)

try:
    __version__ = _metadata.version("omskit")
except _metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

__all__ = [*_names, "__version__"]
