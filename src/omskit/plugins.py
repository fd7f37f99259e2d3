"""The plugin manager: entry-point loading, builtins, the typed hook facade, introspection.

Nothing here is global: every :class:`~omskit.app.Oms` owns one ``pluggy.PluginManager``.
Core code calls hooks only through :class:`Hooks`, so every call is typed and no hook name is
spelt as a string outside this module.
"""

from __future__ import annotations

import importlib.metadata
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs
import cattrs
import pluggy
import sqlalchemy as sa
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

from omskit import hookspecs
from omskit.domain.errors import PluginError, TransitionVetoed
from omskit.domain.values import Problem
from omskit.hookchecks import install_result_checks
from omskit.kinds import ContributionKind

if TYPE_CHECKING:
    from decimal import Decimal

    from omskit.domain.events import Event
    from omskit.domain.order import FulfillmentOrder, Order, OrderLine
    from omskit.domain.routing import (
        Candidate,
        CostTerm,
        Exclusion,
        Holdback,
        RoutingPolicy,
        RoutingRequest,
    )
    from omskit.ports import Carrier, InventoryReader

#: Entry-point group that third-party plugins register under.
ENTRY_POINT_GROUP = "omskit"
#: Set to any non-empty value to skip entry-point loading (like pytest's switch).
ENV_DISABLE_AUTOLOAD = "OMSKIT_DISABLE_PLUGIN_AUTOLOAD"
#: Comma-separated plugin names never to register.
ENV_DISABLED_PLUGINS = "OMSKIT_DISABLED_PLUGINS"
#: Builtins the core cannot run without (its event types and the decide hooks' defaults).
#: They answer ``trylast``, so any plugin overrides them without disabling them.
REQUIRED_BUILTINS = frozenset({"omskit.builtin.defaults"})


def plugin_name(plugin: object, taken: Callable[[str], bool]) -> str:
    """A readable, unique name for a plugin object passed to ``bootstrap(plugins=...)``.

    A module keeps its dotted name; an object is named after its class (``omskit_name``
    overrides), with ``#2``, ``#3``... when several instances are registered.
    """
    base = getattr(plugin, "omskit_name", None) or getattr(plugin, "__name__", None)
    if not isinstance(base, str) or not base:
        cls = type(plugin)
        base = f"{cls.__module__}.{cls.__qualname__}"
    name, n = base, 1
    while taken(name):
        n += 1
        name = f"{base}#{n}"
    return name


@attrs.frozen(kw_only=True)
class PluginInfo:
    """What ``oms.plugins()`` and ``omskit plugins`` report about one registered plugin."""

    name: str
    builtin: bool
    distribution: str | None
    version: str | None
    hooks: tuple[str, ...]
    #: What the plugin contributed: ``{kind: (code, ...)}`` (``{"channel": ("web",)}``).
    contributions: Mapping[str, tuple[str, ...]] = attrs.field(factory=dict)


def disabled_from_environment() -> tuple[str, ...]:
    """Plugin names listed in ``OMSKIT_DISABLED_PLUGINS``."""
    raw = os.environ.get(ENV_DISABLED_PLUGINS, "")
    return tuple(name.strip() for name in raw.split(",") if name.strip())


def autoload_from_environment(default: bool) -> bool:
    """False when ``OMSKIT_DISABLE_PLUGIN_AUTOLOAD`` is set, else ``default``."""
    return default and not os.environ.get(ENV_DISABLE_AUTOLOAD)


def _installed_omskit() -> Version | None:
    """The installed omskit's version; None when omskit runs without its distribution
    metadata (a bare source tree on ``PYTHONPATH``), where no bound can be checked."""
    try:
        return Version(importlib.metadata.version("omskit"))
    except importlib.metadata.PackageNotFoundError:
        return None


def _how_to_go_on(plugin: str) -> str:
    return (f"Disable it with {ENV_DISABLED_PLUGINS}={plugin}, or every installed plugin with "
            f"{ENV_DISABLE_AUTOLOAD}=1 (--no-plugins on the command line), or uninstall it")


def _spelt(specifier: SpecifierSet) -> str:
    """``>=0.1,<0.2`` as an author writes it (packaging sorts it to ``<0.2,>=0.1``)."""
    ordered = sorted(specifier, key=lambda s: (s.operator == "!=", s.operator.startswith("<")))
    return ",".join(str(s) for s in ordered)


def check_omskit_bound(dist: importlib.metadata.Distribution, plugin: str,
                       installed: Version | None) -> None:
    """Refuse a plugin whose distribution requires an omskit other than ``installed``.

    The hook API and every public name are versioned by omskit's own version (docs/api.md):
    a plugin's ``Requires-Dist: omskit`` bound is the hook API it was built and tested for.
    pip checks it at install time, but not when omskit is upgraded later under an installed
    plugin, nor with ``--no-deps``; so it is checked again here, before the plugin's module
    is imported (an old plugin would otherwise fail on a moved name, far from the cause).
    Requirements that only apply under an extra or another environment are not the
    plugin's own; a plugin that states no bound at all cannot be checked and is loaded.
    """
    if installed is None:
        return
    for line in dist.requires or ():
        try:
            requirement = Requirement(line)
        except InvalidRequirement:  # pip refuses such metadata; nothing to judge here
            continue
        if canonicalize_name(requirement.name) != "omskit":
            continue
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
            continue
        # prereleases=True: a development build of omskit is judged by where it stands
        # (0.1.1.dev0 is within >=0.1,<0.2), not refused for being a pre-release.
        if requirement.specifier.contains(installed, prereleases=True):
            continue
        name, version = dist.metadata["Name"], dist.version
        bound = _spelt(requirement.specifier)
        raise PluginError(
            f"plugin {plugin!r} (distribution {name} {version}) supports omskit{bound}, but "
            f"omskit {installed} is installed: it was built for another version of omskit's "
            f"hook API. Install a release of {name} that "
            f"supports omskit {installed} (or an omskit within its bound). "
            f"{_how_to_go_on(plugin)}")


def _import_entry_points(pm: pluggy.PluginManager) -> None:
    """Import every enabled ``omskit`` entry point, naming the one that fails.

    pluggy's loader raises the import error alone; a user then cannot tell which installed
    distribution broke, nor how to go on without it. Each plugin's omskit bound is checked
    first (:func:`check_omskit_bound`). Modules imported here are cached, so pluggy's own
    loading afterwards costs nothing more.
    """
    installed = _installed_omskit()
    for dist in importlib.metadata.distributions():
        for ep in dist.entry_points:
            if ep.group != ENTRY_POINT_GROUP or pm.is_blocked(ep.name):
                continue
            check_omskit_bound(dist, ep.name, installed)
            try:
                ep.load()
            except Exception as exc:
                raise PluginError(
                    f"plugin {ep.name!r} (distribution {dist.metadata['Name']}) failed to "
                    f"import: {type(exc).__name__}: {exc}. {_how_to_go_on(ep.name)}") from exc


def build_plugin_manager(
    *,
    builtins: Sequence[tuple[str, object]],
    plugins: Iterable[object],
    load_entrypoints: bool,
    disabled: Iterable[str],
) -> pluggy.PluginManager:
    """Create a manager: block disabled names, register builtins, extras and entry points.

    Builtins go through exactly the same registration as external plugins. Finishes with
    ``check_pending()`` so that a misspelt hook name fails at start-up.
    """
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    disabled = set(disabled)
    refused = sorted(disabled & REQUIRED_BUILTINS)
    if refused:
        raise PluginError(f"{', '.join(refused)} cannot be disabled: the core needs its event "
                          "types, and its decide hooks answer trylast, so implement the hook "
                          "in your own plugin to override them")
    for name in disabled:
        pm.set_blocked(name)

    def register(plugin: object, name: str) -> None:
        try:
            pm.register(plugin, name=name)
        except (pluggy.PluginValidationError, ValueError) as exc:
            raise PluginError(f"plugin {name!r}: {exc}") from exc

    for name, plugin in builtins:
        if not pm.is_blocked(name):
            register(plugin, name)
    for plugin in plugins:
        name = plugin_name(plugin, pm.has_plugin)
        if not pm.is_blocked(name):  # a disabled name stays disabled, never renamed
            register(plugin, name)
    if load_entrypoints:
        _import_entry_points(pm)
        try:
            pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
        except Exception as exc:
            raise PluginError(f"loading {ENTRY_POINT_GROUP!r} entry points failed: {exc}") from exc
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        raise PluginError(str(exc)) from exc
    install_result_checks(pm, [name for name, _ in builtins])
    return pm


def describe_plugins(pm: pluggy.PluginManager, builtin_names: Iterable[str],
                     contributions: Mapping[str, Mapping[str, tuple[str, ...]]] | None = None,
                     ) -> list[PluginInfo]:
    """Introspect every registered plugin: name, distribution, version, hooks implemented
    and, given ``contributions`` (``Registries.by_plugin()``), what it contributed."""
    dists = {id(plugin): dist for plugin, dist in pm.list_plugin_distinfo()}
    builtin_names = set(builtin_names)
    infos = []
    for name, plugin in pm.list_name_plugin():
        if plugin is None:  # a blocked name
            continue
        dist = dists.get(id(plugin))
        hooks = tuple(sorted(caller.name for caller in pm.get_hookcallers(plugin) or ()))
        infos.append(PluginInfo(
            name=name,
            builtin=name in builtin_names,
            distribution=dist.project_name if dist is not None else None,
            version=dist.version if dist is not None else None,
            hooks=hooks,
            contributions=dict((contributions or {}).get(name, {})),
        ))
    return sorted(infos, key=lambda p: (not p.builtin, p.name))


class Hooks:
    """Typed calls of every hook; the only code that names hooks."""

    def __init__(self, pm: pluggy.PluginManager) -> None:
        self._pm = pm
        self._relay = pm.hook

    def _contribute(self, caller: pluggy.HookCaller, add: Callable[[Any, str], None],
                    settings: Mapping[str, Any]) -> None:
        # Each implementation is called on its own so every contribution can be credited to
        # the plugin that made it (for duplicate errors and for `omskit plugins`).
        for impl in reversed(caller.get_hookimpls()):
            register = lambda item, _name=impl.plugin_name: add(item, _name)  # noqa: E731
            # Like pluggy, pass only the arguments the implementation asks for (pluggy
            # refused, at registration, any argument its hook spec does not declare).
            offered: dict[str, Any] = {"register": register, "settings": settings}
            impl.function(**{name: offered[name] for name in impl.argnames if name in offered})

    def contribute(self, kind: ContributionKind[Any], add: Callable[[Any, str], None],
                   settings: Mapping[str, Any]) -> None:
        """Collect one kind's contributions: ``add(item, plugin_name)`` for each. Hooks whose
        spec declares ``settings`` receive the bootstrap settings."""
        self._contribute(getattr(self._relay, kind.hook_name), add, settings)

    def configure_converter(self, converter: cattrs.Converter) -> None:
        """Let plugins adjust the converter."""
        self._relay.omskit_configure_converter(converter=converter)

    def configure_metadata(self, metadata: sa.MetaData, table_prefix: str,
                           schema: str | None) -> None:
        """Let plugins add tables."""
        self._relay.omskit_configure_metadata(metadata=metadata, table_prefix=table_prefix,
                                              schema=schema)

    def validate_settings(self, settings: Mapping[str, Any]) -> list[str]:
        """Every problem any plugin found with the bootstrap ``settings``."""
        return [p for found in self._relay.omskit_validate_settings(settings=settings)
                for p in (found or ())]

    def routing_policy(self, request: RoutingRequest, settings: Mapping[str, Any],
                       policy: RoutingPolicy) -> RoutingPolicy:
        """The policy for one decision (the builtin default returns ``policy``)."""
        result: RoutingPolicy = self._relay.omskit_routing_policy(
            request=request, settings=settings, policy=policy)
        return result

    def order_priority(self, order: Order, settings: Mapping[str, Any]) -> int:
        """The scarce-stock rank of ``order`` (the builtin default always answers)."""
        result: int = self._relay.omskit_order_priority(order=order, settings=settings)
        return result

    def routing_rules(self, request: RoutingRequest, candidates: Sequence[Candidate],
                      settings: Mapping[str, Any]) -> list[Exclusion | Holdback]:
        """Every exclusion and holdback the rules found for this decision."""
        return [v for found in self._relay.omskit_routing_rules(
                    request=request, candidates=candidates, settings=settings)
                for v in (found or ())]

    def routing_cost_terms(self, request: RoutingRequest, candidates: Sequence[Candidate],
                           carriers: Sequence[Carrier],
                           settings: Mapping[str, Any]) -> list[CostTerm]:
        """Every cost term priced for the eligible candidates."""
        return [t for found in self._relay.omskit_routing_cost_terms(
                    request=request, candidates=candidates, carriers=carriers,
                    settings=settings)
                for t in (found or ())]

    def routing_cost_term_sets(self, request: RoutingRequest, candidates: Sequence[Candidate],
                               carriers: Sequence[Carrier],
                               settings: Mapping[str, Any]) -> list[Iterable[CostTerm]]:
        """Each plugin's cost terms as it returned them, in the order
        :meth:`routing_cost_terms` joins them (the routing engine reads the builtin's
        column form, ``omskit.routing.candidates.CostTable``, without a term per location)."""
        return [found for found in self._relay.omskit_routing_cost_terms(
                    request=request, candidates=candidates, carriers=carriers,
                    settings=settings)
                if found is not None]

    def customer_segment(self, order: Order) -> str:
        """The segment for ``order`` (the builtin default always answers)."""
        result: str = self._relay.omskit_customer_segment(order=order)
        return result

    def choose_routing_strategy(self, request: RoutingRequest) -> str:
        """The routing strategy code for ``request`` (the builtin default always answers)."""
        result: str = self._relay.omskit_choose_routing_strategy(request=request)
        return result

    def tax_rate(self, line: OrderLine, order: Order, settings: Mapping[str, Any]) -> Decimal:
        """The VAT rate of ``line`` in percent (the builtin default always answers)."""
        result: Decimal = self._relay.omskit_tax_rate(line=line, order=order,
                                                      settings=settings)
        return result

    def validate_order(self, order: Order, inventory: InventoryReader) -> list[Problem]:
        """Every problem any validator found with ``order``."""
        problems: list[Problem] = []
        for found in self._relay.omskit_validate_order(order=order, inventory=inventory):
            problems.extend(found or ())
        return problems

    def check_transition(self, aggregate: str, order: Order,
                         fulfillment_order: FulfillmentOrder | None, from_status: str,
                         to_status: str) -> None:
        """Run transition validators, raising :class:`TransitionVetoed`; then the observers."""
        kwargs = {"aggregate": aggregate, "order": order,
                  "fulfillment_order": fulfillment_order, "from_status": from_status,
                  "to_status": to_status}
        reasons = [r for found in self._relay.omskit_validate_transition(**kwargs)
                   for r in (found or ())]
        if reasons:
            key = fulfillment_order.id if fulfillment_order is not None else order.id
            raise TransitionVetoed(aggregate, key, to_status, reasons)
        self._relay.omskit_after_transition(**kwargs)

    def has_transition_hooks(self) -> bool:
        """Whether any plugin validates or observes transitions (lets commit skip the loop)."""
        return bool(self._relay.omskit_validate_transition.get_hookimpls()
                    or self._relay.omskit_after_transition.get_hookimpls())

    def handle_event(self, event: Event, services: object) -> None:
        """Deliver one committed event to every observer (``services`` is the
        ``omskit.Services`` handle); exceptions propagate to the caller."""
        self._relay.omskit_handle_event(event=event, oms=services)

    def has_event_handlers(self) -> bool:
        """Whether any plugin observes events (lets dispatch skip work when none does)."""
        return bool(self._relay.omskit_handle_event.get_hookimpls())
