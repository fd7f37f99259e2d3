"""Keeps ``pytest -n auto --dist loadgroup`` honouring ``xdist_group`` marks on pytest 9.2.

A plugin loaded from ``tests/conftest.py``; ``tests/test_parallel.py`` checks it.
"""

from __future__ import annotations

import pytest


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Keep ``--dist loadgroup`` grouping on pytest 9.2 (pytest-xdist issue #1386).

    In each worker pytest-xdist appends ``@<group>`` to the node id of an item marked
    ``xdist_group`` (its controller schedules by that suffix) by assigning ``item._nodeid``;
    pytest 9.2 derives ``nodeid`` from ``item._id`` instead, so the suffix is lost and the
    groups are silently ignored. Where that happened, set the suffix where pytest reads it.
    Nothing to do once pytest-xdist sets it itself, on older pytest, or outside a worker.
    """
    if not config.getoption("loadgroup", False):  # set by pytest-xdist in its workers only
        return
    for item in items:
        groups = sorted({str(mark.args[0] if mark.args else mark.kwargs.get("name", "default"))
                         for mark in item.iter_markers("xdist_group")})
        suffixed = item.nodeid.rfind("@") > item.nodeid.rfind("]")  # xdist's own test
        if groups and not suffixed and hasattr(item, "_id"):
            from _pytest.nodeid import NodeId

            item._id = NodeId.parse(f"{item.nodeid}@{'_'.join(groups)}")
