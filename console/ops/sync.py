"""Sync: compare what the registry wants with what the cluster really runs, and optionally converge."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from kanri.console.cluster.base import ActualService, ClusterBackend, RouteSpec, ServiceSpec
from kanri.console.ops.context import Context, change, confirm_converged, reach_cluster
from kanri.console.ops.routes import route_spec
from kanri.console.ops.services import service_spec
from kanri.console.registry import schema


@dataclass(frozen=True)
class Drift:
    target: str
    field: str
    desired: Any
    actual: Any
    cluster: str = ""


Key = tuple[str, str]


def _desired(ctx: Context) -> tuple[dict[Key, tuple[int, ServiceSpec]], dict[Key, RouteSpec], dict[Key, str]]:
    """The registry's services and routes, and the services whose last change no cluster has confirmed, with the
    cluster's refusal ("" when the command died before the cluster answered)."""
    with ctx.registry.session() as session:
        services = session.scalars(select(schema.Service).options(
            selectinload(schema.Service.model), selectinload(schema.Service.application))).all()
        routes = session.scalars(select(schema.Route).options(
            selectinload(schema.Route.weights).selectinload(schema.RouteWeight.service),
            selectinload(schema.Route.application), selectinload(schema.Route.mirror_service))).all()
        return ({(s.application.name, s.name): (s.id, service_spec(s, ctx.store.root)) for s in services},
                {(r.application.name, r.level): route_spec(r) for r in routes},
                {(s.application.name, s.name): s.cluster_error for s in services if not s.converged})


def _service_drift(spec: ServiceSpec, actual: ActualService) -> list[Drift]:
    target = f"{spec.app}/{spec.name}"
    pairs = [("model_version", spec.model.version, actual.model_version),
             ("autoscale", spec.autoscale, actual.autoscale)]
    if spec.autoscale:
        pairs += [("min_replicas", spec.min_replicas, actual.min_replicas),
                  ("max_replicas", spec.max_replicas, actual.max_replicas),
                  ("scale_metric", spec.scale_metric, actual.scale_metric)]
        pairs += [("cpu_threshold", spec.cpu_threshold, actual.cpu_threshold)] if spec.scale_metric == "cpu" else [
            ("scale_target", spec.scale_target, actual.scale_target),
            ("scale_to_zero_after", spec.scale_to_zero_after, actual.scale_to_zero_after)]
        pairs += [("wakes_from_zero", True, actual.wakes_from_zero)] if spec.min_replicas == 0 else []
    else:
        pairs.append(("replicas", spec.replicas, actual.replicas))
    return [Drift(target, name, want, have, actual.cluster) for name, want, have in pairs if want != have]


def drift(ctx: Context) -> tuple[list[Drift], dict[Key, tuple[int, ServiceSpec]], dict[Key, RouteSpec],
                                 dict[Key, str]]:
    """What differs (a change the cluster refused among it), the registry's services and routes, and its services
    not confirmed converged."""
    services, routes, unconfirmed = _desired(ctx)
    state = ctx.backend.actual_state()
    found = [Drift(f"{app}/{name}", "converged", True, f"no: {refusal}")
             for (app, name), refusal in sorted(unconfirmed.items()) if refusal]
    seen: set[Key] = set()
    for actual in state.services:
        key = (actual.app, actual.name)
        seen.add(key)
        if key not in services:
            found.append(Drift(f"{actual.app}/{actual.name}", "service", None, "running, not in the registry",
                               actual.cluster))
            continue
        found += _service_drift(services[key][1], actual)
    found += [Drift(f"{app}/{name}", "service", "present", None) for app, name in services if (app, name) not in seen]
    actual_routes = {(r.app, r.level): r for r in state.routes}
    for key, spec in routes.items():
        have = actual_routes.get(key)
        if have is None or (have.weights, have.mirror, have.mirror_percent) != (spec.weights, spec.mirror,
                                                                             spec.mirror_percent):
            found.append(Drift(f"{key[0]}/{key[1]}", "route", spec.weights, have.weights if have else None))
    found += [Drift(f"{d.app}/{d.level}", "access", list(d.desired), list(d.actual), d.cluster)
              for d in state.access_drift]
    return found, services, routes, unconfirmed


def sync(ctx: Context, fix: bool = False) -> list[Drift]:
    """Report drift, and mark converged the services whose change never reached a cluster's answer but which run,
    and are routed, as the registry says; with fix, apply the registry's desired state again wherever it drifted or
    the cluster refused it."""
    found, services, routes, unconfirmed = drift(ctx)
    drifted = {tuple(d.target.split("/", 1)) for d in found}
    rerouted = [routes[key] for key in drifted if key in routes]
    on_rerouted = {(r.app, name) for r in rerouted for name in [*r.weights, r.mirror] if name}
    interrupted = {key for key, refusal in unconfirmed.items() if not refusal}
    confirm_converged(ctx, [services[key][0] for key in interrupted - drifted - on_rerouted])
    with change(ctx, "sync.fix" if fix else "sync", "cluster") as c:
        c.event.after = {"drift": len(found)}
    if not fix or not found:
        return found
    to_apply = [services[key] for key in drifted if key in services]

    def converge(backend: ClusterBackend) -> None:
        for _, spec in to_apply:
            backend.apply(spec)
        for spec in rerouted:
            backend.set_route(spec)

    touched = sorted({services[key][0] for key in drifted | on_rerouted if key in services})
    reach_cluster(ctx, c.event, converge, touched)
    return found
