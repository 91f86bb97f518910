"""Service-level objectives in the registry: set, show, list, remove — each change audited."""

from __future__ import annotations

import math

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from kanri.console.errors import Invalid, NotFound
from kanri.console.ops.context import Context, change, get_app, get_service
from kanri.console.registry import schema
from kanri.console.slo.objective import Objective, latency_thresholds_ms
from kanri.console.slo.status import SloStatus, slo_status
from kanri.console.telemetry.sources import MetricsSource
from kanri.console.telemetry.types import MetricsSnapshot, TelemetryUnavailable

DEFAULT_WINDOW_DAYS = 28
DEFAULT_LATENCY_PERCENT = 99.0


def set_slo(ctx: Context, app_name: str, service_name: str, availability_percent: float, latency_ms: float,
            latency_percent: float = DEFAULT_LATENCY_PERCENT, window_days: int = DEFAULT_WINDOW_DAYS) -> Objective:
    """Give a service its objectives, replacing any it had."""
    _check(availability_percent, latency_ms, latency_percent, window_days)
    with change(ctx, "slo.set", f"{app_name}/{service_name}") as c:
        service = get_service(c.session, get_app(c.session, app_name), service_name)
        row = c.session.get(schema.ServiceObjective, service.id)
        c.event.before = _state(row)
        if row is None:
            row = schema.ServiceObjective(service=service)
            c.session.add(row)
        row.availability_percent = availability_percent
        row.latency_ms = latency_ms
        row.latency_percent = latency_percent
        row.window_days = window_days
        c.session.flush()
        c.event.after = _state(row)
        return _objective(row)


def show_slo(ctx: Context, app_name: str, service_name: str) -> Objective:
    with ctx.registry.session() as session:
        service = get_service(session, get_app(session, app_name), service_name)
        row = session.get(schema.ServiceObjective, service.id)
        if row is None:
            raise NotFound(f"service {app_name}/{service_name} has no SLO; set one with "
                           f"kanri slo {app_name} {service_name} --availability 99.9 --latency-ms 100")
        return _objective(row)


def list_slos(ctx: Context, app_name: str | None = None) -> list[Objective]:
    """Every SLO (of one application), by application and service name."""
    with ctx.registry.session() as session:
        query = (select(schema.ServiceObjective).join(schema.Service).join(schema.Application)
                 .order_by(schema.Application.name, schema.Service.name)
                 .options(selectinload(schema.ServiceObjective.service).selectinload(schema.Service.application)))
        if app_name is not None:
            query = query.where(schema.Service.application_id == get_app(session, app_name).id)
        return [_objective(row) for row in session.scalars(query).all()]


def slo_overview(ctx: Context, source: MetricsSource, app_name: str, max_history_seconds: float | None = None,
                 snapshot: MetricsSnapshot | None = None) -> list[SloStatus] | TelemetryUnavailable:
    """Every service of the application that has an SLO, with its burn rate and budget left (console.slo.status)."""
    return slo_status(list_slos(ctx, app_name), source, app_name, max_history_seconds, snapshot)


def remove_slo(ctx: Context, app_name: str, service_name: str) -> None:
    with change(ctx, "slo.remove", f"{app_name}/{service_name}") as c:
        service = get_service(c.session, get_app(c.session, app_name), service_name)
        row = c.session.get(schema.ServiceObjective, service.id)
        if row is None:
            raise NotFound(f"service {app_name}/{service_name} has no SLO to remove")
        c.event.before = _state(row)
        c.session.delete(row)


def _check(availability_percent: float, latency_ms: float, latency_percent: float, window_days: int) -> None:
    for name, value in (("availability", availability_percent), ("latency percent", latency_percent)):
        if not (math.isfinite(value) and 0 < value < 100):
            raise Invalid(f"{name} {value:g} must be a percentage above 0 and below 100, e.g. 99.9")
    thresholds = latency_thresholds_ms()
    if not any(math.isclose(latency_ms, t) for t in thresholds):
        raise Invalid(f"latency threshold {latency_ms:g} ms is not a bound of the runtime's latency histogram, "
                      f"so the share of calls under it cannot be counted; use one of "
                      f"{', '.join(f'{t:g}' for t in thresholds)}")
    if not 1 <= window_days <= 366:
        raise Invalid(f"window of {window_days} days must be from 1 to 366 days")


def _state(row: schema.ServiceObjective | None) -> dict | None:
    if row is None:
        return None
    return {"availability_percent": row.availability_percent, "latency_ms": row.latency_ms,
            "latency_percent": row.latency_percent, "window_days": row.window_days}


def _objective(row: schema.ServiceObjective) -> Objective:
    service = row.service
    return Objective(service.application.name, service.name, service.level, row.availability_percent,
                     row.latency_ms, row.latency_percent, row.window_days)
