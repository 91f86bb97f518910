"""Routes: how an application's traffic at one service level splits over its services."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from kanri.console.cluster.base import RouteSpec
from kanri.console.errors import Invalid, NotFound
from kanri.console.ops import validation
from kanri.console.ops.context import Context, change, get_app, get_service, reach_cluster
from kanri.console.ops.views import RouteView, route_view
from kanri.console.registry import schema


def route_spec(route: schema.Route) -> RouteSpec:
    return RouteSpec(app=route.application.name, level=route.level,
                     weights={w.service.name: w.weight for w in route.weights},
                     mirror=route.mirror_service.name if route.mirror_service else "",
                     mirror_percent=route.mirror_percent)


def weight_of(route: schema.Route | None, service_id: int) -> int:
    return next((w.weight for w in route.weights if w.service_id == service_id), 0) if route else 0


def set_weights(ctx: Context, app_name: str, level: str, weights: dict[str, int], mirror: str = "",
                mirror_percent: int = 0) -> RouteView:
    """Weights over the level's services (unnamed ones get 0), summing to 100; optionally a shadow copy."""
    validation.service_level(level)
    if not 0 <= mirror_percent <= 100 or bool(mirror) != bool(mirror_percent):
        raise Invalid("a mirror needs both a service and a percentage from 1 to 100")
    with change(ctx, "route.weights", f"{app_name}/{level}") as c:
        app = get_app(c.session, app_name)
        route = c.session.scalar(select(schema.Route).where(schema.Route.application_id == app.id,
                                                            schema.Route.level == level))
        if route is None:
            raise NotFound(f"application {app_name!r} has no services at level {level}")
        validation.weights({w.service.name for w in route.weights}, weights)
        c.event.before = _state(route)
        for entry in route.weights:
            entry.weight = weights.get(entry.service.name, 0)
        route.mirror_service = get_service(c.session, app, mirror) if mirror else None
        route.mirror_percent = mirror_percent
        c.awaits_cluster(w.service for w in route.weights)
        c.session.flush()
        c.event.after = _state(route)
        spec = route_spec(route)
        services = [w.service_id for w in route.weights]
    reach_cluster(ctx, c.event, lambda backend: backend.set_route(spec), services)
    return show_route(ctx, app_name, level)


def _state(route: schema.Route) -> dict:
    spec = route_spec(route)
    return {"weights": spec.weights, "mirror": spec.mirror, "mirror_percent": spec.mirror_percent}


def list_routes(ctx: Context, app_name: str | None = None) -> list[RouteView]:
    with ctx.registry.session() as session:
        query = (select(schema.Route).join(schema.Application).order_by(schema.Application.name, schema.Route.level)
                 .options(selectinload(schema.Route.weights).selectinload(schema.RouteWeight.service),
                          selectinload(schema.Route.application), selectinload(schema.Route.mirror_service)))
        if app_name is not None:
            query = query.where(schema.Route.application_id == get_app(session, app_name).id)
        return [route_view(route) for route in session.scalars(query).all()]


def show_route(ctx: Context, app_name: str, level: str) -> RouteView:
    for route in list_routes(ctx, app_name):
        if route.level == level:
            return route
    raise NotFound(f"application {app_name!r} has no services at level {level}")
