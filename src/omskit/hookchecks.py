"""What each hook's answer must look like, checked before the core trusts it.

A plugin's answer reaches the database, the optimiser and the explanations: a validator that
returns strings, a 300-character problem code, a segment that is an ``int`` or a NaN cost
would fail deep inside with a raw error, or be stored. :func:`install_result_checks` wraps
every implementation of these hooks from a non-builtin plugin, so a bad answer raises
:class:`PluginError` naming the plugin and the hook, before anything uses it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import Any

import pluggy

from omskit.domain.checks import check_code, check_identifier, check_text
from omskit.domain.errors import PluginError
from omskit.domain.invoices import MAX_TAX_RATE, TAX_RATE_PLACES
from omskit.domain.routing import CostTerm, Exclusion, Holdback, RoutingPolicy
from omskit.domain.values import Problem, check_decimal

#: Checks one answer; returns the answer to pass on (iterables become lists) or raises
#: ``ValueError`` saying what is wrong.
Check = Callable[[Any], Any]


def _items(result: Any, what: str) -> list[Any]:
    if isinstance(result, str | bytes | Mapping) or not isinstance(result, Iterable):
        raise ValueError(f"must return a list of {what}, not {type(result).__name__}")
    return list(result)


def _raise(problems: list[str]) -> None:
    if problems:
        raise ValueError("; ".join(problems))


def _number(value: object) -> bool:
    return (isinstance(value, int | float) and not isinstance(value, bool)
            and math.isfinite(value))


def _whole(value: object, minimum: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= minimum


def _segment(result: Any) -> Any:
    problems: list[str] = []
    check_code(result, "segment", problems)
    _raise(problems)
    return result


def _strategy(result: Any) -> Any:
    if not isinstance(result, str) or not result:
        raise ValueError(f"must return a routing strategy code, not {result!r}")
    return result


def _priority(result: Any) -> Any:
    if isinstance(result, bool) or not isinstance(result, int):
        raise ValueError(f"must return a whole number, not {result!r}")
    return result


def _policy(result: Any) -> Any:
    if not isinstance(result, RoutingPolicy):
        raise ValueError(f"must return a RoutingPolicy, not {type(result).__name__}")
    if not all(_number(v) and v >= 0 for v in (result.backorder_penalty,
                                                  result.split_penalty)):
        raise ValueError("penalties must be finite and not negative")
    if result.max_shipments is not None and not _whole(result.max_shipments, 1):
        raise ValueError(f"max_shipments must be None or at least 1, "
                         f"not {result.max_shipments!r}")
    return result


def _tax_rate(result: Any) -> Any:
    if isinstance(result, int) and not isinstance(result, bool):
        result = Decimal(result)
    problems: list[str] = []
    check_decimal(result, "rate", problems, maximum=MAX_TAX_RATE, places=TAX_RATE_PLACES)
    _raise(problems)
    return result


def _problems(result: Any) -> Any:
    found = _items(result, "Problem")
    problems: list[str] = []
    for i, item in enumerate(found):
        if not isinstance(item, Problem):
            problems.append(f"[{i}]: {item!r} is not a Problem")
            continue
        check_identifier(item.code, f"[{i}].code", problems)
        check_text(item.message, f"[{i}].message", problems)
    _raise(problems)
    return found


def _messages(result: Any) -> Any:
    found = _items(result, "messages")
    problems: list[str] = []
    for i, item in enumerate(found):
        check_text(item, f"[{i}]", problems)
    _raise(problems)
    return found


def _verdicts(result: Any) -> Any:
    found = _items(result, "Exclusion or Holdback")
    problems: list[str] = []
    for i, item in enumerate(found):
        if isinstance(item, Exclusion):
            check_identifier(item.location, f"[{i}].location", problems)
        elif isinstance(item, Holdback):
            if not _whole(item.quantity, 0):
                problems.append(f"[{i}].quantity: must be a whole number >= 0, "
                                f"not {item.quantity!r}")
            for name in ("location", "sku"):
                value = getattr(item, name)
                if value is not None:
                    check_identifier(value, f"[{i}].{name}", problems)
        else:
            problems.append(f"[{i}]: {item!r} is not an Exclusion or a Holdback")
            continue
        check_identifier(item.rule, f"[{i}].rule", problems)
        check_text(item.reason, f"[{i}].reason", problems)
    _raise(problems)
    return found


def _cost_terms(result: Any) -> Any:
    found = _items(result, "CostTerm")
    problems: list[str] = []
    for i, item in enumerate(found):
        if not isinstance(item, CostTerm):
            problems.append(f"[{i}]: {item!r} is not a CostTerm")
            continue
        check_identifier(item.location, f"[{i}].location", problems)
        check_identifier(item.term, f"[{i}].term", problems)
        check_text(item.note, f"[{i}].note", problems)
        for name in ("fixed", "per_unit"):
            if not _number(getattr(item, name)):
                problems.append(f"[{i}].{name}: must be a finite number, "
                                f"not {getattr(item, name)!r}")
        by_sku: object = item.per_unit_by_sku
        if not isinstance(by_sku, Mapping) or not all(
                isinstance(k, str) and _number(v) for k, v in by_sku.items()):
            problems.append(f"[{i}].per_unit_by_sku: must map SKUs to finite numbers")
        if item.transit_days is not None and not _whole(item.transit_days, 0):
            problems.append(f"[{i}].transit_days: must be None or a whole number >= 0, "
                            f"not {item.transit_days!r}")
    _raise(problems)
    return found


#: The hooks whose answers are checked, and how.
RESULT_CHECKS: Mapping[str, Check] = {
    "omskit_customer_segment": _segment,
    "omskit_choose_routing_strategy": _strategy,
    "omskit_order_priority": _priority,
    "omskit_routing_policy": _policy,
    "omskit_validate_settings": _messages,
    "omskit_validate_order": _problems,
    "omskit_validate_transition": _messages,
    "omskit_routing_rules": _verdicts,
    "omskit_routing_cost_terms": _cost_terms,
    "omskit_tax_rate": _tax_rate,
}


def _checked(function: Callable[..., Any], check: Check, plugin: str,
             hook: str) -> Callable[..., Any]:
    def call(*args: Any, **kwargs: Any) -> Any:
        result = function(*args, **kwargs)
        if result is None:  # "no answer" is every hook's right
            return None
        try:
            return check(result)
        except ValueError as exc:
            raise PluginError(f"plugin {plugin!r}: {hook} {exc}") from None
    return call


def install_result_checks(pm: pluggy.PluginManager, trusted: Iterable[str]) -> None:
    """Wrap the implementations of :data:`RESULT_CHECKS` hooks of every plugin not in
    ``trusted`` (the builtins, whose answers the core's own tests check) with their check.

    Wrapping the implementation keeps pluggy's call order and hook monitoring intact.
    Hook wrappers are left alone: they pass answers on rather than make them.
    """
    trusted = set(trusted)
    for hook, check in RESULT_CHECKS.items():
        for impl in getattr(pm.hook, hook).get_hookimpls():
            if impl.plugin_name in trusted or impl.hookwrapper or impl.wrapper:
                continue
            impl.function = _checked(impl.function, check, impl.plugin_name, hook)
