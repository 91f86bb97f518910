"""Services: one application at one service level, running one model version.

Every change here follows the same path (`_edit`): load, check the version
the operator saw, validate, write the change and its audit event, then ask
the cluster to converge on it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from kanri.console.cluster.base import (
    ClusterBackend,
    ClusterError,
    ModelRef,
    Pod,
    Resources,
    RolloutStatus,
    RouteSpec,
    ServiceSpec,
)
from kanri.console.errors import Conflict, Invalid
from kanri.console.ops import validation
from kanri.console.ops.context import Context, change, expect_version, get_app, get_model, get_service, reach_cluster
from kanri.console.ops.routes import route_spec, weight_of
from kanri.console.ops.views import ServiceView, service_state, service_view
from kanri.console.registry import schema
from kanri.serving.errors import ServingError


@dataclass(frozen=True)
class ServiceSettings:
    """What `kanri service create` takes beyond the name, level and model."""

    replicas: int = 1
    min_replicas: int | None = None
    max_replicas: int | None = None
    cpu_threshold: int = 80
    max_surge: int = 1
    max_unavailable: int = 0
    min_ready_seconds: int = 0
    cpu_request: str = ""
    cpu_limit: str = ""
    memory_request: str = ""
    memory_limit: str = ""
    gpus: int = 0
    port: int = 50051
    image: str = ""
    memo: str = ""


def service_spec(service: schema.Service, model_store: str) -> ServiceSpec:
    model = service.model
    app = service.application
    return ServiceSpec(
        app=app.name, name=service.name, level=service.level, predictor=app.predictor,
        model=ModelRef(version=model.version, uri=model.uri, sha256=model.sha256), model_store=model_store,
        replicas=service.replicas, min_replicas=service.min_replicas, max_replicas=service.max_replicas,
        cpu_threshold=service.cpu_threshold, max_surge=service.max_surge, max_unavailable=service.max_unavailable,
        min_ready_seconds=service.min_ready_seconds,
        resources=Resources(service.cpu_request, service.cpu_limit, service.memory_request, service.memory_limit,
                            service.gpus),
        port=service.port, image=service.image or app.image, autoscale=service.autoscale,
        scale_metric=service.scale_metric, scale_target=service.scale_target,
        scale_to_zero_after=service.scale_to_zero_after)


def create_service(ctx: Context, app_name: str, name: str, level: str, model_version: int,
                   settings: ServiceSettings = ServiceSettings()) -> ServiceView:
    validation.dns_label("service", name)
    validation.service_level(level)
    s = settings
    min_replicas = s.replicas if s.min_replicas is None else s.min_replicas
    max_replicas = max(s.replicas, min_replicas) if s.max_replicas is None else s.max_replicas
    validation.replica_bounds(s.replicas, min_replicas, max_replicas)
    validation.cpu_threshold(s.cpu_threshold)
    validation.rollout_policy(s.max_surge, s.max_unavailable, s.min_ready_seconds, ctx.progress_deadline_seconds)
    validation.port(s.port)
    validation.resources(Resources(s.cpu_request, s.cpu_limit, s.memory_request, s.memory_limit, s.gpus))
    with change(ctx, "service.create", f"{app_name}/{name}") as c:
        app = get_app(c.session, app_name)
        if any(existing.name == name for existing in app.services):
            raise Conflict(f"application {app_name!r} already has a service {name!r}")
        model = get_model(c.session, app, model_version)
        service = schema.Service(
            application=app, name=name, level=level, model=model, replicas=s.replicas, min_replicas=min_replicas,
            max_replicas=max_replicas, autoscale=max_replicas > min_replicas, cpu_threshold=s.cpu_threshold,
            cpu_request=s.cpu_request, cpu_limit=s.cpu_limit, memory_request=s.memory_request,
            memory_limit=s.memory_limit, gpus=s.gpus, max_surge=s.max_surge, max_unavailable=s.max_unavailable,
            min_ready_seconds=s.min_ready_seconds, port=s.port, image=s.image, memo=s.memo)
        c.session.add(service)
        route = c.session.scalar(select(schema.Route).where(schema.Route.application_id == app.id,
                                                            schema.Route.level == level))
        if route is None:
            route = schema.Route(application=app, level=level)
            c.session.add(route)
        # The first service of a level takes all its traffic; later ones start at 0 until weights move.
        route.weights.append(schema.RouteWeight(service=service, weight=0 if route.weights else 100))
        c.session.flush()
        c.event.after = service_state(service)
        spec, routing = service_spec(service, ctx.store.root), route_spec(route)
        service_id = service.id

    def deploy(backend: ClusterBackend) -> None:
        backend.apply(spec)
        backend.set_route(routing)

    reach_cluster(ctx, c.event, deploy, [service_id])
    return show_service(ctx, app_name, name)


def _edit(ctx: Context, action: str, app_name: str, name: str, expected_version: int | None,
          mutate: Callable[[Session, schema.Application, schema.Service], None]) -> ServiceView:
    with change(ctx, action, f"{app_name}/{name}") as c:
        app = get_app(c.session, app_name)
        service = get_service(c.session, app, name)
        expect_version(service, expected_version)
        c.event.before = service_state(service)
        mutate(c.session, app, service)
        c.awaits_cluster([service])
        c.session.flush()
        c.event.after = service_state(service)
        spec, service_id = service_spec(service, ctx.store.root), service.id
    reach_cluster(ctx, c.event, lambda backend: backend.apply(spec), [service_id])
    return show_service(ctx, app_name, name)


def _verified(ctx: Context, model: schema.Model) -> None:
    """A switch never starts towards an artifact that is missing or whose bytes changed."""
    try:
        ctx.store.fetch(model.uri, model.sha256)
    except ServingError as exc:
        raise Invalid(f"refusing to switch to v{model.version}: {exc}") from exc


def switch(ctx: Context, app_name: str, name: str, version: int, expected_version: int | None = None) -> ServiceView:
    """Roll the service over to another model version."""

    def to_version(session: Session, app: schema.Application, service: schema.Service) -> None:
        model = get_model(session, app, version)
        if model.id != service.model_id:
            _verified(ctx, model)
            service.previous_model, service.model = service.model, model

    return _edit(ctx, "service.switch", app_name, name, expected_version, to_version)


def rollback(ctx: Context, app_name: str, name: str, expected_version: int | None = None) -> ServiceView:
    """Switch back to the model the service ran before its last switch."""

    def to_previous(_session: Session, _app: schema.Application, service: schema.Service) -> None:
        if service.previous_model is None:
            raise Invalid(f"service {name!r} has no previous model to roll back to")
        _verified(ctx, service.previous_model)
        service.previous_model, service.model = service.model, service.previous_model

    return _edit(ctx, "service.rollback", app_name, name, expected_version, to_previous)


def scale(ctx: Context, app_name: str, name: str, replicas: int, expected_version: int | None = None) -> ServiceView:
    """Set the replicas; without autoscaling the bounds widen to include them, with it they must hold them."""

    def to_replicas(_session: Session, _app: schema.Application, service: schema.Service) -> None:
        if replicas < 1:
            raise Invalid(f"replicas must be at least 1, got {replicas}")
        if service.autoscale:
            if not service.min_replicas <= replicas <= service.max_replicas:
                raise Invalid(f"{replicas} replicas is outside the autoscaling bounds {service.min_replicas}.."
                              f"{service.max_replicas}; change them with kanri autoscale")
        else:
            service.min_replicas = min(service.min_replicas, replicas)
            service.max_replicas = max(service.max_replicas, replicas)
        service.replicas = replicas

    return _edit(ctx, "service.scale", app_name, name, expected_version, to_replicas)


DEFAULT_SCALE_TO_ZERO_AFTER = 60.0
"""Idle seconds before a service that may scale to zero does: Knative's stable window."""


def autoscale(ctx: Context, app_name: str, name: str, min_replicas: int, max_replicas: int, metric: str = "cpu",
              target: float = 80, scale_to_zero_after: float | None = None,
              expected_version: int | None = None) -> ServiceView:
    """Let the cluster keep replicas between min and max, by CPU (the HPA's way) or by the calls each replica
    takes, in flight or per second (Knative's way, which may go to zero); min == max turns autoscaling off."""
    validation.scaling(metric, target, scale_to_zero_after or 0.0)
    if scale_to_zero_after is not None and min_replicas > 0:
        raise Invalid("--scale-to-zero-after needs --min 0: with a minimum above zero the service never goes idle")
    idle = (DEFAULT_SCALE_TO_ZERO_AFTER if scale_to_zero_after is None else scale_to_zero_after) \
        if min_replicas == 0 else 0.0

    def to_bounds(_session: Session, _app: schema.Application, service: schema.Service) -> None:
        replicas = min(max(service.replicas, min_replicas, 1), max_replicas)
        # Zero only for a service that scales on its calls: they wake it (min = max is no autoscaling at all).
        lowest = 0 if metric != "cpu" and max_replicas > min_replicas else 1
        validation.replica_bounds(replicas, min_replicas, max_replicas, lowest=lowest)
        service.min_replicas, service.max_replicas, service.replicas = min_replicas, max_replicas, replicas
        service.autoscale = max_replicas > min_replicas
        service.scale_metric, service.scale_to_zero_after = metric, idle
        if metric == "cpu":
            service.cpu_threshold, service.scale_target = int(target), 0.0
        else:
            service.scale_target = float(target)

    return _edit(ctx, "service.autoscale", app_name, name, expected_version, to_bounds)


def delete_service(ctx: Context, app_name: str, name: str, expected_version: int | None = None) -> None:
    """Remove a service; refused while it takes traffic that other services at its level could take."""
    with change(ctx, "service.delete", f"{app_name}/{name}") as c:
        app = get_app(c.session, app_name)
        service = get_service(c.session, app, name)
        expect_version(service, expected_version)
        route = c.session.scalar(select(schema.Route).where(schema.Route.application_id == app.id,
                                                            schema.Route.level == service.level))
        others = [w for w in route.weights if w.service_id != service.id] if route else []
        if others and weight_of(route, service.id):
            raise Conflict(f"service {name!r} takes {weight_of(route, service.id)}% of {app_name}'s "
                           f"{service.level} traffic; move it to other services with kanri weights first")
        c.event.before = service_state(service)
        if route is not None and not others:
            c.session.delete(route)
        c.session.delete(service)
    reach_cluster(ctx, c.event, lambda backend: backend.delete(app_name, name), [])


def list_services(ctx: Context, app_name: str | None = None, addresses: bool = True) -> list[ServiceView]:
    """With addresses=False the cluster is not asked where each level answers (the console refreshes every
    few seconds and shows none)."""
    with ctx.registry.session() as session:
        query = (select(schema.Service).join(schema.Application)
                 .order_by(schema.Application.name, schema.Service.level, schema.Service.name)
                 .options(selectinload(schema.Service.model), selectinload(schema.Service.previous_model),
                          selectinload(schema.Service.application)))
        if app_name is not None:
            query = query.where(schema.Service.application_id == get_app(session, app_name).id)
        services = session.scalars(query).all()
        weights = _weights(session)
        # One lookup per route, not per service: the local backend reads a file for each.
        where = ({route: _address(ctx, *route) for route in {(s.application.name, s.level) for s in services}}
                 if addresses else {})
        return [service_view(s, weights.get(s.id, 0), where.get((s.application.name, s.level), ("", "")))
                for s in services]


def show_service(ctx: Context, app_name: str, name: str) -> ServiceView:
    with ctx.registry.session() as session:
        service = get_service(session, get_app(session, app_name), name)
        return service_view(service, _weights(session).get(service.id, 0),
                            _address(ctx, app_name, service.level))


def _weights(session: Session) -> dict[int, int]:
    return {service_id: weight for service_id, weight in
            session.execute(select(schema.RouteWeight.service_id, schema.RouteWeight.weight))}


def _address(ctx: Context, app: str, level: str) -> tuple[str, str]:
    """The stable gRPC and HTTP addresses of the application at this level, or "" when the cluster cannot say now."""
    try:
        return ctx.backend.address(app, level), ctx.backend.http_address(app, level)
    except ClusterError:
        return "", ""


def desired(ctx: Context, app_name: str, name: str) -> tuple[ServiceSpec, RouteSpec | None]:
    """The spec the backend is given for a service, and its level's route: what `kanri render` prints."""
    with ctx.registry.session() as session:
        app = get_app(session, app_name)
        service = get_service(session, app, name)
        route = session.scalar(select(schema.Route).where(schema.Route.application_id == app.id,
                                                          schema.Route.level == service.level))
        return service_spec(service, ctx.store.root), route_spec(route) if route else None


def pods(ctx: Context, app_name: str, name: str | None = None) -> list[Pod]:
    """The replicas the cluster runs for an application's services, or one service's."""
    if name is None:
        with ctx.registry.session() as session:
            get_app(session, app_name)
    else:
        show_service(ctx, app_name, name)
    return ctx.backend.pods(app_name, name)


def live_status(ctx: Context, app_name: str, name: str) -> RolloutStatus | str:
    """The service as the cluster runs it now, or why the cluster cannot say."""
    try:
        return ctx.backend.status(app_name, name)
    except ClusterError as exc:
        return str(exc)


def watch_rollout(ctx: Context, app_name: str, name: str, timeout: float = 300.0) -> Iterator[RolloutStatus]:
    show_service(ctx, app_name, name)  # a clear error for an unknown service before the cluster is asked
    return ctx.backend.rollout(app_name, name, timeout)
