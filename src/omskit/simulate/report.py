"""The HTML report of ``omskit simulate --report``: one self-contained file.

Charts are drawn with plotly (the optional extra ``omskit[simulate]``) with plotly.js
inlined, never loaded from a CDN, and put in a jinja2 page; opening the file needs no
network. Coordinates are drawn on plain longitude/latitude axes (plotly's geographic maps
fetch their base map at view time, so they are not used).
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import jinja2

from omskit.simulate.formats import Network
from omskit.simulate.kpis import Kpis
from omskit.simulate.runner import StrategyRun

#: What to install when plotly is missing.
INSTALL_HINT = "pip install 'omskit[simulate]'"


class ReportUnavailable(RuntimeError):
    """The report needs plotly, which is not installed."""

    def __init__(self) -> None:
        super().__init__(f"the HTML report needs plotly; install it with: {INSTALL_HINT}")


def load_plotly() -> Any:
    """``plotly.graph_objects``, or :class:`ReportUnavailable` if plotly is not installed."""
    try:
        return importlib.import_module("plotly.graph_objects")
    except ImportError as exc:
        raise ReportUnavailable() from exc


_PAGE = jinja2.Template("""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>omskit simulation: {{ orders }} orders, {{ runs|length }} strategies</title>
<style>
 body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1100px;
        color: #222; padding: 0 1rem; }
 table { border-collapse: collapse; margin: 1rem 0; }
 th, td { border-bottom: 1px solid #ddd; padding: .3rem .8rem; text-align: right; }
 th:first-child, td:first-child { text-align: left; }
 .chart { margin: 2rem 0; }
 dt { font-weight: 600; margin-top: .5rem; }
 .muted { color: #666; font-size: .9rem; }
</style>
</head>
<body>
<h1>What-if simulation</h1>
<p class="muted">Network <code>{{ network_name }}</code>: {{ locations }} locations,
{{ carriers }} carriers, backorder penalty {{ penalty }} {{ currency }} per unit.
Orders <code>{{ orders_name }}</code>: {{ orders }} orders, {{ units }} units.</p>

<h2>Key figures</h2>
<table>
<tr><th>measure</th>{% for k in runs %}<th>{{ k.strategy }}</th>{% endfor %}</tr>
{% for label, values in rows %}
<tr><td>{{ label }}</td>{% for v in values %}<td>{{ v }}</td>{% endfor %}</tr>
{% endfor %}
</table>

{% for chart in charts %}
<div class="chart">
<h2>{{ chart.title }}</h2>
<p class="muted">{{ chart.note }}</p>
{{ chart.html | safe }}
</div>
{% endfor %}

<h2>Definitions</h2>
<dl>
<dt>cost</dt><dd>per order, the sum of the stored routing decisions' costs: for each location
used, the cheapest carrier's <code>base + per_km × km</code>; for each unit, the carrier's
<code>per_unit</code> plus the location's <code>handling_cost</code>; for each unit not filled,
the backorder penalty.</dd>
<dt>split rate</dt><dd>orders shipped from more than one location / orders.</dd>
<dt>mean distance</dt><dd>mean great-circle km from shipping location to customer, per
shipment.</dd>
<dt>backorder rate</dt><dd>units: units not filled / units ordered; orders: orders with at
least one unit not filled / orders.</dd>
<dt>on-time promise rate</dt><dd>orders fully allocated whose last parcel arrives by the
earliest date the network could deliver every unit at placement (eligible locations with the
stock, cheapest lane's transit days, cut-off and processing days) / orders.</dd>
<dt>decision latency</dt><dd>the engine's <code>elapsed_ms</code> per routing decision
(rules, pricing, plan); placement is the wall time of <code>oms.orders.place</code>.</dd>
</dl>
</body>
</html>
""", autoescape=True)


def _rows(all_kpis: Sequence[Kpis], currency: str) -> list[tuple[str, list[str]]]:
    def row(label: str, fmt: str, attr: str) -> tuple[str, list[str]]:
        return label, [format(getattr(k, attr), fmt) for k in all_kpis]

    return [
        row(f"total cost ({currency})", ",.2f", "total_cost"),
        row(f"cost per order ({currency})", ".2f", "cost_per_order"),
        row("split rate", ".1%", "split_rate"),
        row("shipments per order", ".3f", "shipments_per_order"),
        row("mean distance per shipment (km)", ".1f", "mean_distance_km"),
        row("backorder rate (units)", ".2%", "unit_backorder_rate"),
        row("backorder rate (orders)", ".2%", "order_backorder_rate"),
        row("on-time promise rate", ".1%", "on_time_rate"),
        row("decision latency p50 (ms)", ".2f", "decision_ms_p50"),
        row("decision latency p95 (ms)", ".2f", "decision_ms_p95"),
        row("placement mean (ms)", ".2f", "place_ms_mean"),
    ]


def _cost_chart(go: Any, all_kpis: Sequence[Kpis], currency: str) -> Any:
    strategies = [k.strategy for k in all_kpis]
    terms = sorted({t for k in all_kpis for t in k.cost_by_term})
    fig = go.Figure([go.Bar(name=term, x=strategies,
                            y=[round(k.cost_by_term.get(term, 0.0), 2) for k in all_kpis])
                     for term in terms])
    fig.update_layout(barmode="stack", yaxis_title=f"cost ({currency})",
                      legend_title="cost term", height=420)
    return fig


def _rates_chart(go: Any, all_kpis: Sequence[Kpis]) -> Any:
    measures = (("split rate", "split_rate"), ("backorder rate (units)", "unit_backorder_rate"),
                ("backorder rate (orders)", "order_backorder_rate"),
                ("on-time promise rate", "on_time_rate"))
    fig = go.Figure([go.Bar(name=k.strategy, x=[label for label, _ in measures],
                            y=[round(getattr(k, attr), 4) for _, attr in measures])
                     for k in all_kpis])
    fig.update_layout(barmode="group", yaxis_tickformat=".0%", height=420)
    return fig


def _map_chart(go: Any, network: Network, runs: Sequence[StrategyRun],
               all_kpis: Sequence[Kpis]) -> Any:
    destinations = [o.destination for o in runs[0].outcomes] if runs else []
    traces = [go.Scatter(
        x=[d.lon for d in destinations], y=[d.lat for d in destinations], mode="markers",
        name="customers", marker={"size": 4, "color": "rgba(120,120,120,0.35)"},
        hoverinfo="skip")]
    traces.append(go.Scatter(
        x=[loc.lon for loc in network.locations], y=[loc.lat for loc in network.locations],
        mode="markers+text", name="locations", text=[loc.code for loc in network.locations],
        textposition="top center", textfont={"size": 9},
        marker={"symbol": "x-thin", "size": 8, "line": {"width": 1, "color": "#333"}}))
    biggest = max((n for k in all_kpis for n in k.shipments_by_location.values()), default=1)
    for k in all_kpis:
        codes = [loc.code for loc in network.locations
                 if k.shipments_by_location.get(loc.code)]
        where = {loc.code: loc for loc in network.locations}
        traces.append(go.Scatter(
            x=[where[c].lon for c in codes], y=[where[c].lat for c in codes], mode="markers",
            name=k.strategy,
            customdata=[[c, k.shipments_by_location[c], k.units_by_location.get(c, 0)]
                        for c in codes],
            hovertemplate="%{customdata[0]}: %{customdata[1]} shipments, "
                          "%{customdata[2]} units<extra>" + k.strategy + "</extra>",
            marker={"size": [k.shipments_by_location[c] for c in codes], "sizemode": "area",
                    "sizeref": 2.0 * biggest / 45**2, "sizemin": 3, "opacity": 0.55,
                    "line": {"width": 1}}))
    mean_lat = (sum(loc.lat for loc in network.locations) / len(network.locations)
                if network.locations else 0.0)
    fig = go.Figure(traces)
    fig.update_layout(height=640, xaxis_title="longitude", yaxis_title="latitude",
                      legend_title="click to show/hide")
    fig.update_yaxes(scaleanchor="x", scaleratio=1 / max(0.2, math.cos(math.radians(mean_lat))))
    return fig


def _latency_chart(go: Any, runs: Sequence[StrategyRun]) -> Any:
    traces = []
    for name, attr in (("routing decision (elapsed_ms)", "decision_ms"),
                       ("whole placement", "place_ms")):
        xs: list[str] = []
        ys: list[float] = []
        for run in runs:
            xs += [run.strategy] * len(run.outcomes)
            ys += [round(getattr(o, attr), 3) for o in run.outcomes]
        traces.append(go.Box(x=xs, y=ys, name=name, boxpoints="outliers"))
    fig = go.Figure(traces)
    fig.update_layout(boxmode="group", yaxis_title="milliseconds", yaxis_type="log",
                      height=460)
    return fig


def render_report(network: Network, runs: Sequence[StrategyRun], all_kpis: Sequence[Kpis], *,
                  network_name: str = "network.json", orders_name: str = "orders.jsonl") -> str:
    """The report page as HTML (raises :class:`ReportUnavailable` without plotly)."""
    go = load_plotly()
    charts: list[Mapping[str, str]] = []
    specs = (
        ("Cost by strategy", "Total routing cost of the stream, stacked by cost term.",
         _cost_chart(go, all_kpis, network.currency)),
        ("Service by strategy", "Split, backorder and on-time promise rates.",
         _rates_chart(go, all_kpis)),
        ("Shipments per location", "Marker area = fulfilment orders shipped from the "
         "location, per strategy (click a legend entry to hide it); grey dots are customers.",
         _map_chart(go, network, runs, all_kpis)),
        ("Decision latency", "Per order, log scale.", _latency_chart(go, runs)),
    )
    for index, (title, note, fig) in enumerate(specs):
        fig.update_layout(template="plotly_white", margin={"t": 30, "b": 40})
        html = fig.to_html(full_html=False, include_plotlyjs=index == 0,
                           include_mathjax=False, config={"displaylogo": False})
        charts.append({"title": title, "note": note, "html": html})
    first = all_kpis[0] if all_kpis else None
    page: str = _PAGE.render(
        runs=all_kpis, rows=_rows(all_kpis, network.currency), charts=charts,
        network_name=network_name, orders_name=orders_name,
        locations=len(network.locations), carriers=len(network.carriers),
        penalty=f"{network.backorder_penalty:g}", currency=network.currency,
        orders=first.orders if first else 0, units=first.units if first else 0)
    return page


def write_report(path: str | Path, network: Network, runs: Sequence[StrategyRun],
                 all_kpis: Sequence[Kpis], *, network_name: str = "network.json",
                 orders_name: str = "orders.jsonl") -> None:
    """Write the self-contained HTML report to ``path``."""
    Path(path).write_text(render_report(network, runs, all_kpis, network_name=network_name,
                                        orders_name=orders_name), encoding="utf-8")
