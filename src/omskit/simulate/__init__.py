"""The what-if simulator behind ``omskit simulate`` (``docs/simulate.md``).

Replay an order stream (``orders.jsonl``) through a network (``network.json``) with the real
routing engine, once per strategy, each on a throwaway SQLite database, and compare costs and
service::

    from omskit.simulate import kpis, load_network, load_orders, simulate

    network = load_network("network.json")
    orders = load_orders("orders.jsonl", currency=network.currency)
    for run in simulate(network, orders, ["optimal", "nearest"]):
        print(run.strategy, kpis(run).total_cost)
"""

from omskit.simulate.formats import (
    CarrierSpec,
    InputError,
    LocationSpec,
    Network,
    OrderSpec,
    iter_orders,
    load_network,
    load_orders,
)
from omskit.simulate.kpis import Kpis, kpis
from omskit.simulate.report import ReportUnavailable, load_plotly, render_report, write_report
from omskit.simulate.runner import (
    DEFAULT_STRATEGIES,
    OrderOutcome,
    Shipment,
    StrategyRun,
    run_strategy,
    simulate,
    write_decisions,
)

__all__ = [
    "DEFAULT_STRATEGIES",
    "CarrierSpec",
    "InputError",
    "Kpis",
    "LocationSpec",
    "Network",
    "OrderOutcome",
    "OrderSpec",
    "ReportUnavailable",
    "Shipment",
    "StrategyRun",
    "iter_orders",
    "kpis",
    "load_network",
    "load_orders",
    "load_plotly",
    "render_report",
    "run_strategy",
    "simulate",
    "write_decisions",
    "write_report",
]
