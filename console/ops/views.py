"""What operations return: plain, detached records the CLI prints and the console shows.

Nothing outside console/ops sees a SQLAlchemy object, so no caller can
lazy-load after its session closed or write behind the audit trail.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, is_dataclass
from datetime import datetime
from typing import Any

from kanri.console.moments import duration
from kanri.console.registry import schema


@dataclass(frozen=True)
class AppView:
    name: str
    description: str
    predictor: str
    image: str
    created_at: datetime
    models: int
    services: int


@dataclass(frozen=True)
class ModelView:
    app: str
    version: int
    sha256: str
    size: int
    format: str
    uri: str
    filename: str
    description: str
    created_at: datetime
    created_by: str
    evaluation: dict[str, Any] | None
    used_by: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ServiceView:
    app: str
    name: str
    level: str
    model_version: int
    previous_model_version: int | None
    replicas: int
    min_replicas: int
    max_replicas: int
    autoscale: bool
    cpu_threshold: int
    scale_metric: str
    scale_target: float
    scale_to_zero_after: float
    cpu_request: str
    cpu_limit: str
    memory_request: str
    memory_limit: str
    gpus: int
    max_surge: int
    max_unavailable: int
    min_ready_seconds: int
    port: int
    image: str
    memo: str
    weight: int
    converged: bool
    cluster_error: str
    updated_at: datetime
    version: int
    address: str = ""
    """Where the service's level answers: gRPC "host:port", and HTTP "http://host:port" below."""
    http_address: str = ""

    def scale_target_text(self) -> str:
        """What the autoscaler aims at per replica, as the CLI and the console write it: "70% CPU", "4 in flight,
        idle 1m → 0"."""
        if self.scale_metric == "cpu":
            return f"{self.cpu_threshold}% CPU"
        unit = "in flight" if self.scale_metric == "concurrency" else "rps"
        idle = f", idle {duration(self.scale_to_zero_after)} → 0" if self.min_replicas == 0 else ""
        return f"{self.scale_target:g} {unit}{idle}"

    def autoscaling_text(self) -> str:
        """"autoscaled 0–8 at 4 in flight, idle 1m → 0": its bounds and target, as the CLI and the console say it."""
        return f"autoscaled {self.min_replicas}–{self.max_replicas} at {self.scale_target_text()}"


@dataclass(frozen=True)
class RouteView:
    app: str
    level: str
    weights: dict[str, int]
    mirror: str
    mirror_percent: int
    address: str = ""


@dataclass(frozen=True)
class EvaluationView:
    app: str
    model_version: int
    data_uri: str
    data_sha256: str
    metrics: dict[str, Any]
    created_at: datetime


@dataclass(frozen=True)
class AuditView:
    id: int
    time: datetime
    actor: str
    action: str
    target: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    result: str
    error: str


def to_json(value: Any) -> Any:
    """Views, lists and dicts of them as JSON-ready data: datetimes become ISO 8601 strings."""
    if is_dataclass(value) and not isinstance(value, type):
        return to_json(asdict(value))
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {key: to_json(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(item) for item in value]
    return value


def app_view(app: schema.Application) -> AppView:
    return AppView(app.name, app.description, app.predictor, app.image, app.created_at, len(app.models),
                   len(app.services))


def model_view(model: schema.Model, used_by: list[str] | None = None) -> ModelView:
    latest = model.evaluations[-1].metrics if model.evaluations else None
    return ModelView(model.application.name, model.version, model.sha256, model.size, model.format, model.uri,
                     model.filename, model.description, model.created_at, model.created_by, latest,
                     sorted(used_by or []))


def service_view(service: schema.Service, weight: int, addresses: tuple[str, str] = ("", "")) -> ServiceView:
    """addresses: the level's gRPC and HTTP addresses."""
    previous = service.previous_model.version if service.previous_model else None
    return ServiceView(
        service.application.name, service.name, service.level, service.model.version, previous, service.replicas,
        service.min_replicas, service.max_replicas, service.autoscale, service.cpu_threshold, service.scale_metric,
        service.scale_target, service.scale_to_zero_after, service.cpu_request,
        service.cpu_limit, service.memory_request, service.memory_limit, service.gpus, service.max_surge,
        service.max_unavailable, service.min_ready_seconds, service.port, service.image, service.memo, weight,
        service.converged, service.cluster_error, service.updated_at, service.version, *addresses)


def service_state(service: schema.Service) -> dict[str, Any]:
    """The fields an audit event records before and after a change to a service."""
    return {"model_version": service.model.version, "replicas": service.replicas,
            "min_replicas": service.min_replicas, "max_replicas": service.max_replicas,
            "autoscale": service.autoscale, "cpu_threshold": service.cpu_threshold,
            "scale_metric": service.scale_metric, "scale_target": service.scale_target,
            "scale_to_zero_after": service.scale_to_zero_after}


def route_view(route: schema.Route, address: str = "") -> RouteView:
    return RouteView(route.application.name, route.level, {w.service.name: w.weight for w in route.weights},
                     route.mirror_service.name if route.mirror_service else "", route.mirror_percent, address)


def audit_view(event: schema.AuditEvent) -> AuditView:
    return AuditView(event.id, event.time, event.actor, event.action, event.target, event.before, event.after,
                     event.result, event.error)
